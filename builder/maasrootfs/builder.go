// Package maasrootfs is the maas-rootfs builder: it boots a cloud image in a
// throw-away QEMU VM, lets Packer's provisioners change it over SSH,
// generalizes it, shuts it down and exports it as a MAAS image file, as
// packer-maas's ubuntu-cloudimg template does with the qemu builder and
// root-only scripts, but without root and with safe defaults.
//
// This package is Packer glue only: the VM, the seed and the export live
// in internal/qemu, internal/cloudinit and internal/export.
package maasrootfs

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/communicator"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// BuilderID identifies artifacts made by maas-rootfs.
const BuilderID = "c34478be.maas.rootfs"

// Builder is maas-rootfs.
type Builder struct {
	config Config
}

// ConfigSpec returns the HCL2 schema of the settings.
func (b *Builder) ConfigSpec() hcldec.ObjectSpec { return b.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and validates the settings; it returns the names of
// the generated data the artifact carries.
func (b *Builder) Prepare(raws ...interface{}) ([]string, []string, error) {
	warnings, err := b.config.Prepare(raws...)
	if err != nil {
		return nil, warnings, err
	}
	return generatedDataNames, warnings, nil
}

// Run builds the image.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, hook packersdk.Hook) (packersdk.Artifact, error) {
	c := &b.config
	state, timing := b.newState(ui, hook)
	steps, err := b.steps(timing, qemuDriver{})
	if err != nil {
		return nil, err
	}
	runner := commonsteps.NewRunner(steps, c.PackerConfig, ui)
	runner.Run(ctx, state)

	if err := getError(state); err != nil {
		return nil, err
	}
	if _, cancelled := state.GetOk(multistep.StateCancelled); cancelled {
		return nil, errors.New("build was cancelled")
	}
	if _, halted := state.GetOk(multistep.StateHalted); halted {
		return nil, errors.New("build was halted")
	}
	ui.Say(timing.summary())
	return getResult(state), nil
}

// newState is the state bag the steps start with, and the phase timer.
func (b *Builder) newState(ui packersdk.Ui, hook packersdk.Hook) (*multistep.BasicStateBag, *phases) {
	state := new(multistep.BasicStateBag)
	putHook(state, hook)
	putUI(state, ui)
	// For maas-curtin-hook, whose kernel-kept check runs before
	// generalize removes the kernel.
	putGeneratedData(state, map[string]interface{}{curtinhook.GeneratedRemoveKernel: b.config.RemoveKernel})
	return state, newPhases(time.Now)
}

// steps are the build's steps, in order, each given the settings it uses;
// timing times the phases, d runs QEMU.
func (b *Builder) steps(timing *phases, d driver) ([]multistep.Step, error) {
	c := &b.config
	userData, err := c.extraUserData() // validated by Prepare
	if err != nil {
		return nil, err
	}
	script, err := c.generalizeScript()
	if err != nil {
		return nil, err
	}
	return []multistep.Step{
		&stepFindFirmware{root: c.firmwareRoot, arch: c.machine(), kind: c.Firmware, code: c.FirmwareCode, vars: c.FirmwareVars},
		timing.step("download", &stepDownloadImage{commonsteps.StepDownload{
			Checksum:    c.ImageChecksum,
			Description: "cloud image",
			ResultKey:   keyImagePath,
			Url:         c.ImageURLs,
		}}),
		newStepCheckBaseImage(c),
		&commonsteps.StepOutputDir{Force: c.PackerForce, Path: c.OutputDirectory},
		&stepCreateOverlay{driver: d, outputDir: c.OutputDirectory, imageURL: c.ImageURL, diskSize: c.diskSize},
		&stepCreateSeed{comm: &c.Comm, userData: userData},
		&stepRunQEMU{driver: d, accelerator: c.Accelerator, outputDir: c.OutputDirectory, vm: qemu.Config{
			Binary: c.QemuBinary, Arch: c.machine(), CPUs: c.CPUs, MemoryMiB: c.Memory, ExtraArgs: c.QemuArgs,
		}},
		timing.step("boot to SSH", &stepWaitSSH{comm: &c.Comm}),
		&communicator.StepConnect{
			Config:    &c.Comm,
			Host:      func(multistep.StateBag) (string, error) { return sshHost, nil },
			SSHConfig: c.Comm.SSHConfigFunc(),
			SSHPort:   func(s multistep.StateBag) (int, error) { return getSSHPort(s), nil },
		},
		timing.step("cloud-init", &stepWaitCloudInit{}),
		&stepCheckGuest{settings: c.generalizeSettings()},
		timing.step("provisioning", &commonsteps.StepProvision{}),
		timing.step("generalize", &stepGeneralize{script: script}),
		timing.step("shutdown", &stepShutdown{timeout: c.ShutdownTimeout}),
		timing.step("export", newStepExport(c, d)),
	}, nil
}
