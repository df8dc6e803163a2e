package maasrootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// sshHost is where QEMU forwards the guest's SSH port: loopback only, so
// nothing else on the network reaches the build VM.
const sshHost = "127.0.0.1"

// killGrace bounds how long Cleanup waits for a QEMU it asked to stop.
const killGrace = 30 * time.Second

// stepRunQEMU chooses the accelerator (and says which), starts the VM and
// always stops it in Cleanup, on success, failure and Ctrl-C alike.
//
// Uses the firmware, work directory, disk and seed (getFirmware,
// getWorkDir, getOverlay, getSeed); produces the running VM (getVM), its
// accelerator (getAccel) and SSH port (getSSHPort).
type stepRunQEMU struct {
	driver      driver
	accelerator string      // accelerator, "" to choose
	outputDir   string      // output_directory, where console.log goes
	vm          qemu.Config // the settings' part: binary, arch, CPUs, memory, qemu_args

	machine machine
	qmpDir  string
	console string
}

func (s *stepRunQEMU) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)

	accel, reason, err := qemu.ChooseAccelerator(s.accelerator, s.vm.Arch)
	if err != nil {
		return halt(state, fmt.Errorf("accelerator %q: %w", s.accelerator, err))
	}
	ui.Sayf("Accelerator: %s (%s)", accel, reason)
	if accel == qemu.AccelTCG {
		ui.Say("Warning: TCG emulates the guest's CPU in software: the build runs about ten times slower than with KVM or HVF.")
	}
	putAccel(state, accel)

	cfg, err := s.vmConfig(state, accel)
	if err != nil {
		return halt(state, err)
	}
	s.machine, err = s.driver.Start(ctx, cfg)
	if err != nil {
		return halt(state, fmt.Errorf("starting QEMU: %w", err))
	}
	ui.Sayf("QEMU started (pid %d), serial console in %s, SSH forwarded from %s:%d", s.machine.PID(), cfg.SerialLog, sshHost, cfg.SSHPort)
	ui.Say("QEMU command: " + s.machine.CommandLine())
	putVM(state, s.machine)
	putSSHPort(state, cfg.SSHPort)
	return multistep.ActionContinue
}

// vmConfig assembles the VM from the settings and the earlier steps' files.
func (s *stepRunQEMU) vmConfig(state multistep.StateBag, accel qemu.Accel) (qemu.Config, error) {
	workDir := getWorkDir(state)
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
	s.console, err = filepath.Abs(filepath.Join(s.outputDir, "console.log"))
	if err != nil {
		return qemu.Config{}, err
	}
	cfg := s.vm
	cfg.Accel, cfg.Firmware = accel, getFirmware(state)
	cfg.Disk, cfg.Seed = getOverlay(state), getSeed(state)
	cfg.SSHPort, cfg.SerialLog, cfg.QMPSocket = port, s.console, filepath.Join(s.qmpDir, "qmp.sock")
	if cfg.Firmware.Kind == qemu.FirmwareUEFI {
		cfg.VarsCopy = filepath.Join(workDir, "efivars.fd")
		if err := cfg.Firmware.CopyVars(cfg.VarsCopy); err != nil {
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
	ui := getUI(state)
	if s.machine != nil {
		select {
		case <-s.machine.Done():
		default:
			ui.Say("Stopping QEMU")
			ctx, cancel := context.WithTimeout(context.Background(), killGrace)
			defer cancel()
			if err := s.machine.Kill(); err != nil {
				ui.Error(fmt.Sprintf("stopping QEMU (pid %d): %v", s.machine.PID(), err))
			}
			select {
			case <-s.machine.Done():
			case <-ctx.Done():
				ui.Error(fmt.Sprintf("QEMU (pid %d) did not exit after SIGKILL within %s", s.machine.PID(), killGrace))
			}
		}
	}
	if s.qmpDir != "" {
		_ = os.RemoveAll(s.qmpDir)
	}
}
