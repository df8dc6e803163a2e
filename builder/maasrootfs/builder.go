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
	"github.com/c34478be/packer-plugin-maas/internal/maas"
)

// BuilderID identifies artifacts made by maas-rootfs.
const BuilderID = "c34478be.maas.rootfs"

// State bag keys the steps share.
const (
	stateFirmware  = "firmware"   // qemu.Firmware found on this host
	stateImagePath = "image_path" // the downloaded (cached) cloud image
	stateWorkDir   = "work_dir"   // overlay, seed and UEFI vars of this build
	stateOverlay   = "overlay"    // the VM's disk
	stateSeed      = "seed"       // the NoCloud seed image
	stateVM        = "vm"         // *qemu.VM
	stateAccel     = "accel"      // qemu.Accel in use
	stateSSHPort   = "ssh_port"   // host port forwarded to the guest's 22
	statePhases    = "phases"     // *phases, the timing summary
	stateResult    = "result"     // *maas.ImageFile, what the export wrote
	stateShutdown  = "shutdown_requested"
)

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
	steps := b.steps(timing)
	runner := commonsteps.NewRunner(steps, c.PackerConfig, ui)
	runner.Run(ctx, state)

	if err, ok := state.GetOk("error"); ok {
		return nil, err.(error)
	}
	if _, cancelled := state.GetOk(multistep.StateCancelled); cancelled {
		return nil, errors.New("build was cancelled")
	}
	if _, halted := state.GetOk(multistep.StateHalted); halted {
		return nil, errors.New("build was halted")
	}
	ui.Say(timing.summary())
	res := state.Get(stateResult).(*maas.ImageFile)
	return newArtifact(res, state.Get("SourceImageURL")), nil
}

// newState is the state bag the steps start with, and the phase timer.
func (b *Builder) newState(ui packersdk.Ui, hook packersdk.Hook) (*multistep.BasicStateBag, *phases) {
	state := new(multistep.BasicStateBag)
	state.Put("config", &b.config)
	state.Put("hook", hook)
	state.Put("ui", ui)
	timing := newPhases(time.Now)
	state.Put(statePhases, timing)
	// For maas-curtin-hook, whose kernel-kept check runs before
	// generalize removes the kernel.
	state.Put("generated_data", map[string]interface{}{curtinhook.GeneratedRemoveKernel: b.config.RemoveKernel})
	return state, timing
}

// steps are the build's steps, in order; timing times the phases.
func (b *Builder) steps(timing *phases) []multistep.Step {
	c := &b.config
	return []multistep.Step{
		&stepFindFirmware{},
		timing.step("download", &stepDownloadImage{commonsteps.StepDownload{
			Checksum:    c.ImageChecksum,
			Description: "cloud image",
			ResultKey:   stateImagePath,
			Url:         c.ImageURLs,
		}}),
		&commonsteps.StepOutputDir{Force: c.PackerForce, Path: c.OutputDirectory},
		&stepCreateOverlay{},
		&stepCreateSeed{},
		&stepRunQEMU{},
		timing.step("boot to SSH", &stepWaitSSH{}),
		&communicator.StepConnect{
			Config:    &c.Comm,
			Host:      func(multistep.StateBag) (string, error) { return sshHost, nil },
			SSHConfig: c.Comm.SSHConfigFunc(),
			SSHPort:   func(s multistep.StateBag) (int, error) { return s.Get(stateSSHPort).(int), nil },
		},
		timing.step("cloud-init", &stepWaitCloudInit{}),
		&stepCheckGuest{},
		timing.step("provisioning", &commonsteps.StepProvision{}),
		timing.step("generalize", &stepGeneralize{}),
		timing.step("shutdown", &stepShutdown{}),
		timing.step("export", &stepExport{}),
	}
}
