package maasrootfs

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/packer-plugin-sdk/communicator"
	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// consoleLines is how much of the serial console a boot failure shows.
const consoleLines = 30

// stepWaitSSH waits, up to ssh_timeout, for a complete SSH login with the
// build key. QEMU accepts TCP on the forwarded port long before the guest
// runs sshd, so the SDK's connect step (which counts failed handshakes)
// runs only after this one. When SSH never comes, the error says what ran
// and what the guest printed.
//
// Uses the VM, its accelerator and SSH port (getVM, getAccel, getSSHPort);
// produces nothing.
type stepWaitSSH struct {
	comm *communicator.Config // the SSH settings, with the seed step's key
}

func (s *stepWaitSSH) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	vm := getVM(state)
	sshConfig, err := s.comm.SSHConfigFunc()(state)
	if err != nil {
		return halt(state, err)
	}
	addr := net.JoinHostPort(sshHost, strconv.Itoa(getSSHPort(state)))
	ui.Sayf("Waiting up to %s for SSH on %s...", s.comm.SSHTimeout, addr)

	waitCtx, cancel := context.WithTimeout(ctx, s.comm.SSHTimeout)
	defer cancel()
	client, err := qemu.WaitSSH(waitCtx, addr, sshConfig, vm.Done())
	if err != nil {
		if ctx.Err() != nil {
			return halt(state, fmt.Errorf("cancelled while waiting for SSH: %w", ctx.Err()))
		}
		return halt(state, s.bootFailure(state, vm, err))
	}
	_ = client.Close()
	ui.Say("SSH is up")
	return multistep.ActionContinue
}

// bootFailure explains why the guest never let the builder in.
func (s *stepWaitSSH) bootFailure(state multistep.StateBag, vm machine, err error) error {
	why := fmt.Sprintf("no SSH login within ssh_timeout (%s)", s.comm.SSHTimeout)
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
		why, err, getAccel(state), vm.CommandLine(), consoleLines, tail)
}

// Cleanup has nothing to do: the login was closed at once.
func (s *stepWaitSSH) Cleanup(multistep.StateBag) {}
