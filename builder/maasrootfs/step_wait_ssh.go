package maasrootfs

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// consoleLines is how much of the serial console a boot failure shows.
const consoleLines = 30

// stepWaitSSH waits, up to ssh_timeout, for a complete SSH login with the
// build key. QEMU accepts TCP on the forwarded port long before the guest
// runs sshd, so the SDK's connect step (which counts failed handshakes)
// runs only after this one. When SSH never comes, the error says what ran
// and what the guest printed.
type stepWaitSSH struct{}

func (s *stepWaitSSH) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c := state.Get("config").(*Config)
	ui := state.Get("ui").(packersdk.Ui)
	vm := state.Get(stateVM).(*qemu.VM)
	sshConfig, err := c.Comm.SSHConfigFunc()(state)
	if err != nil {
		return halt(state, err)
	}
	addr := net.JoinHostPort(sshHost, strconv.Itoa(state.Get(stateSSHPort).(int)))
	ui.Sayf("Waiting up to %s for SSH on %s...", c.Comm.SSHTimeout, addr)

	waitCtx, cancel := context.WithTimeout(ctx, c.Comm.SSHTimeout)
	defer cancel()
	client, err := qemu.WaitSSH(waitCtx, addr, sshConfig, vm.Done())
	if err != nil {
		if ctx.Err() != nil {
			return halt(state, fmt.Errorf("cancelled while waiting for SSH: %w", ctx.Err()))
		}
		return halt(state, s.bootFailure(c, state, vm, err))
	}
	_ = client.Close()
	ui.Say("SSH is up")
	return multistep.ActionContinue
}

// bootFailure explains why the guest never let the builder in.
func (s *stepWaitSSH) bootFailure(c *Config, state multistep.StateBag, vm *qemu.VM, err error) error {
	why := fmt.Sprintf("no SSH login within ssh_timeout (%s)", c.Comm.SSHTimeout)
	select {
	case <-vm.Done():
		why = fmt.Sprintf("QEMU exited before SSH came up (%v)", vm.Wait())
	default:
	}
	tail := vm.ConsoleTail(consoleLines)
	if tail == "" {
		tail = "(nothing: the guest printed nothing on its serial console; is the image bootable with this firmware?)"
	}
	return fmt.Errorf("%s: %w\naccelerator: %s\nQEMU command: %s\nlast %d lines of the serial console:\n%s",
		why, err, state.Get(stateAccel), vm.CommandLine(), consoleLines, tail)
}

// Cleanup has nothing to do: the login was closed at once.
func (s *stepWaitSSH) Cleanup(multistep.StateBag) {}
