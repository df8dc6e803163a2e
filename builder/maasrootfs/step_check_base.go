package maasrootfs

import (
	"context"
	"fmt"
	"log"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
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
// With changes_file it also reads the cloud image's package inventory,
// for the change list the export writes: from the inspected tree for a
// tgz build; for a ddgz build from the root a ddgz export would find,
// when it finds one. Not being able to read it never fails the build: the
// user is told, and no change list is written.
//
// With remove_kernel, a tgz build whose cloud image keeps its packages in
// rpm's database (the RHEL family, Fedora, SUSE: MAAS installs no kernel
// into them) stops here, before the boot, where the guest check would
// stop it only after the boot; the file-name check at validate misses an
// image named otherwise.
//
// Uses the cloud image (getImagePath); produces the cloud image's
// packages (getBasePackages) with changes_file, and tells the user what
// it found.
type stepCheckBaseImage struct {
	format  string // output_format
	changes bool   // changes_file, for a tgz or ddgz output
	// removeKernel is remove_kernel.
	removeKernel bool
	// settings are root_partition, boot_partition and architecture, as
	// the export step gets them.
	settings export.Options
}

func newStepCheckBaseImage(c *Config) *stepCheckBaseImage {
	return &stepCheckBaseImage{format: c.OutputFormat, changes: c.changesFile(), removeKernel: c.RemoveKernel, settings: export.Options{
		RootPartition: c.RootPartition,
		BootPartition: c.BootPartition,
		Architecture:  c.Architecture,
	}}
}

func (s *stepCheckBaseImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	base := getImagePath(state)
	tgz := s.format == string(export.FiletypeTGZ)
	if (!tgz && !s.changes) || !bootable(base) {
		return multistep.ActionContinue
	}
	opts := s.settings
	opts.Input = base
	// What the discovery meets goes to Packer's log only: the export step
	// tells the user the same of the built disk.
	opts.Log = func(format string, args ...any) { log.Printf("base image check: "+format, args...) }
	if !tgz {
		return s.readDiskPackages(ctx, state, opts)
	}
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
	found := in.Describe()
	var inv *pkgdb.Inventory
	var invErr error
	if s.removeKernel || s.changes {
		inv, invErr = pkgdb.Read(in.Tree)
	}
	if s.removeKernel && invErr == nil && inv.Format == pkgdb.FormatRPM {
		return halt(state, fmt.Errorf("remove_kernel cannot be used with this base image (%s), whose packages rpm manages: "+
			"MAAS installs its own kernel on deploy only into Debian-family (Ubuntu) images, and this one cannot boot "+
			"without its own; remove remove_kernel", in.OS))
	}
	if s.changes {
		if packages := s.keepPackages(ui, state, func() (*pkgdb.Inventory, error) { return inv, invErr }); packages != "" {
			found += "; " + packages
		}
	}
	ui.Say("Base image: " + found)
	if want := maasartifact.Architecture(s.settings.Architecture, ""); in.Architecture != "" && in.Architecture != want {
		ui.Error(fmt.Sprintf("Warning: the base image's programs are %s, but architecture is %s: the VM may not boot it, "+
			"and MAAS would deploy the image as %s; set architecture to the image's", in.Architecture, s.settings.Architecture, want))
	}
	return multistep.ActionContinue
}

// readDiskPackages reads the cloud image's packages for a ddgz build.
func (s *stepCheckBaseImage) readDiskPackages(ctx context.Context, state multistep.StateBag, opts export.Options) multistep.StepAction {
	ui := getUI(state)
	packages := s.keepPackages(ui, state, func() (*pkgdb.Inventory, error) { return export.ReadDiskPackages(ctx, opts) })
	if ctx.Err() != nil {
		return halt(state, ctx.Err())
	}
	if packages != "" {
		ui.Say("Base image: " + packages)
	}
	return multistep.ActionContinue
}

// keepPackages reads the cloud image's inventory with read and puts it in
// the state; it returns what to tell of it ("205 packages (dpkg)"), or
// "" after warning that no change list will be written.
func (s *stepCheckBaseImage) keepPackages(ui packersdk.Ui, state multistep.StateBag, read func() (*pkgdb.Inventory, error)) string {
	inv, err := read()
	if err != nil {
		ui.Error(fmt.Sprintf("Warning: cannot read the base image's packages (%v): the build writes no change list "+
			"(<image>%s); set changes_file = false to skip reading them", err, pkgdb.ChangesSuffix))
		return ""
	}
	putBasePackages(state, inv)
	if inv.Format == "" {
		return "no package database (dpkg, rpm, apk)"
	}
	return fmt.Sprintf("%d packages (%s)", len(inv.Packages), inv.Format)
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
