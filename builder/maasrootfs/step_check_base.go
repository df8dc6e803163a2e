package maasrootfs

import (
	"context"
	"fmt"
	"log"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// stepCheckBaseImage runs the discovery part of the tgz export on the
// downloaded cloud image, before anything boots: an image whose root the
// export cannot read (btrfs, LUKS, no root found, an fstab naming what
// the disk lacks) fails here in a second, not after the boot, the
// provisioners and generalize. Skipped for output_format qcow2 and ddgz,
// which read no filesystem. A cloud image stepCreateOverlay refuses (not
// qcow2 or raw, or with a backing file) is left to it: its error names
// image_url and says what to do.
//
// Uses the cloud image (getImagePath); produces nothing, and tells the
// user what it found.
type stepCheckBaseImage struct {
	format string // output_format
	// settings are root_partition, boot_partition and architecture, as
	// the export step gets them.
	settings export.Options
}

func newStepCheckBaseImage(c *Config) *stepCheckBaseImage {
	return &stepCheckBaseImage{format: c.OutputFormat, settings: export.Options{
		RootPartition: c.RootPartition,
		BootPartition: c.BootPartition,
		Architecture:  c.Architecture,
	}}
}

func (s *stepCheckBaseImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	base := getImagePath(state)
	if s.format != string(export.FiletypeTGZ) || !bootable(base) {
		return multistep.ActionContinue
	}
	opts := s.settings
	opts.Input = base
	// What the discovery meets goes to Packer's log only: the export step
	// tells the user the same of the built disk.
	opts.Log = func(format string, args ...any) { log.Printf("base image check: "+format, args...) }
	in, err := export.Inspect(ctx, opts)
	if ctx.Err() != nil {
		return halt(state, ctx.Err())
	}
	if err != nil {
		return halt(state, fmt.Errorf("checking the base image (image_url) before booting anything: %w; "+
			"the tgz export of the built disk would fail the same way. To build from this image anyway, set "+
			"output_format = \"ddgz\" (the whole disk) or \"qcow2\" (the disk, for maas-export or other tools), "+
			"which skip this check", err))
	}
	defer func() { _ = in.Close() }() // read-only: nothing to lose
	ui := getUI(state)
	ui.Say("Base image: " + in.Describe())
	if want := maasartifact.Architecture(s.settings.Architecture, ""); in.Architecture != "" && in.Architecture != want {
		ui.Error(fmt.Sprintf("Warning: the base image's programs are %s, but architecture is %s: the VM may not boot it, "+
			"and MAAS would deploy the image as %s; set architecture to the image's", in.Architecture, s.settings.Architecture, want))
	}
	return multistep.ActionContinue
}

// bootable tells whether stepCreateOverlay will accept base as the VM's
// disk.
func bootable(base string) bool {
	if _, err := diskimage.DetectFormat(base); err != nil {
		return false
	}
	return qemu.CheckSelfContained(base) == nil
}

// Cleanup has nothing to do: the inspection is closed by Run.
func (s *stepCheckBaseImage) Cleanup(multistep.StateBag) {}
