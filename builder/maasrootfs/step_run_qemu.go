package maasrootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// sshHost is where QEMU forwards the guest's SSH port: loopback only, so
// nothing else on the network reaches the build VM.
const sshHost = "127.0.0.1"

// killGrace bounds how long Cleanup waits for a QEMU it asked to stop.
const killGrace = 30 * time.Second

// stepRunQEMU chooses the accelerator (and says which), starts the VM and
// always stops it in Cleanup, on success, failure and Ctrl-C alike.
type stepRunQEMU struct {
	vm      *qemu.VM
	qmpDir  string
	console string
}

func (s *stepRunQEMU) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c := state.Get("config").(*Config)
	ui := state.Get("ui").(packersdk.Ui)

	accel, reason, err := qemu.ChooseAccelerator(c.Accelerator, c.Architecture)
	if err != nil {
		return halt(state, fmt.Errorf("accelerator %q: %w", c.Accelerator, err))
	}
	ui.Sayf("Accelerator: %s (%s)", accel, reason)
	if accel == qemu.AccelTCG {
		ui.Say("Warning: TCG emulates the guest's CPU in software: the build runs about ten times slower than with KVM or HVF.")
	}
	state.Put(stateAccel, accel)

	cfg, err := s.vmConfig(c, state, accel)
	if err != nil {
		return halt(state, err)
	}
	s.vm, err = qemu.Start(ctx, cfg)
	if err != nil {
		return halt(state, fmt.Errorf("starting QEMU: %w", err))
	}
	ui.Sayf("QEMU started (pid %d), serial console in %s, SSH forwarded from %s:%d", s.vm.PID(), cfg.SerialLog, sshHost, cfg.SSHPort)
	ui.Say("QEMU command: " + s.vm.CommandLine())
	state.Put(stateVM, s.vm)
	state.Put(stateSSHPort, cfg.SSHPort)
	return multistep.ActionContinue
}

// vmConfig assembles the VM from the settings and the earlier steps' files.
func (s *stepRunQEMU) vmConfig(c *Config, state multistep.StateBag, accel qemu.Accel) (qemu.Config, error) {
	workDir := state.Get(stateWorkDir).(string)
	port, err := qemu.FreePort()
	if err != nil {
		return qemu.Config{}, fmt.Errorf("finding a free port for SSH: %w", err)
	}
	// QMP's unix socket path is short-lived and must be short: not under
	// output_directory, whose path may exceed what a socket allows.
	s.qmpDir, err = os.MkdirTemp("", "maas-qmp-")
	if err != nil {
		return qemu.Config{}, fmt.Errorf("QMP socket directory: %w", err)
	}
	s.console, err = filepath.Abs(filepath.Join(c.OutputDirectory, "console.log"))
	if err != nil {
		return qemu.Config{}, err
	}
	firmware := state.Get(stateFirmware).(qemu.Firmware)
	cfg := qemu.Config{
		Binary: c.QemuBinary, Arch: c.Architecture, Accel: accel,
		CPUs: c.CPUs, MemoryMiB: c.Memory, Firmware: firmware,
		Disk: state.Get(stateOverlay).(string), Seed: state.Get(stateSeed).(string),
		SSHPort: port, SerialLog: s.console, QMPSocket: filepath.Join(s.qmpDir, "qmp.sock"),
		ExtraArgs: c.QemuArgs,
	}
	if firmware.Kind == qemu.FirmwareUEFI {
		cfg.VarsCopy = filepath.Join(workDir, "efivars.fd")
		if err := firmware.CopyVars(cfg.VarsCopy); err != nil {
			return qemu.Config{}, fmt.Errorf("UEFI variables: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return qemu.Config{}, err
	}
	return cfg, nil
}

// Cleanup stops QEMU if it still runs: the guest has had its chance to
// power off in stepShutdown, so this is the failure or cancel path.
func (s *stepRunQEMU) Cleanup(state multistep.StateBag) {
	ui := state.Get("ui").(packersdk.Ui)
	if s.vm != nil {
		select {
		case <-s.vm.Done():
		default:
			ui.Say("Stopping QEMU")
			ctx, cancel := context.WithTimeout(context.Background(), killGrace)
			defer cancel()
			if err := s.vm.Kill(); err != nil {
				ui.Error(fmt.Sprintf("stopping QEMU (pid %d): %v", s.vm.PID(), err))
			}
			select {
			case <-s.vm.Done():
			case <-ctx.Done():
				ui.Error(fmt.Sprintf("QEMU (pid %d) did not exit after SIGKILL within %s", s.vm.PID(), killGrace))
			}
		}
	}
	if s.qmpDir != "" {
		_ = os.RemoveAll(s.qmpDir)
	}
}
