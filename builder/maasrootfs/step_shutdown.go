package maasrootfs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// stepShutdown waits for the guest to power off after generalize asked it
// to; after shutdown_timeout it presses the ACPI power button, and after
// another shutdown_timeout QEMU is stopped hard and the build fails,
// since the disk may then hold an unclean filesystem.
//
// Uses the VM (getVM) and whether generalize asked the guest to power
// off (getShutdownAsked); produces a powered-off VM.
type stepShutdown struct {
	timeout time.Duration // shutdown_timeout, for each rung of the ladder
}

func (s *stepShutdown) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	vm := getVM(state)

	if getShutdownAsked(state) {
		timer := time.NewTimer(s.timeout)
		defer timer.Stop()
		select {
		case <-vm.Done():
			ui.Say("The guest powered off")
			return multistep.ActionContinue
		case <-ctx.Done():
			return halt(state, fmt.Errorf("cancelled while waiting for the guest to power off: %w", ctx.Err()))
		case <-timer.C:
			ui.Sayf("The guest did not power off within shutdown_timeout (%s); pressing the ACPI power button", s.timeout)
		}
	}
	stopCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := qemu.StopMachine(stopCtx, vm)
	if errors.Is(err, qemu.ErrForcedStop) {
		return halt(state, fmt.Errorf("the guest did not power off (raise shutdown_timeout if it is slow): %w; last lines of its console:\n%s",
			err, vm.ConsoleTail(consoleLines)))
	}
	if err != nil {
		return halt(state, fmt.Errorf("stopping the VM: %w", err))
	}
	ui.Say("The guest powered off")
	return multistep.ActionContinue
}

// Cleanup has nothing to do: stepRunQEMU's Cleanup stops a QEMU left running.
func (s *stepShutdown) Cleanup(multistep.StateBag) {}
