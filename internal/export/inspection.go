package export

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/mounttree"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

// Inspection is what the discovery part of a tgz export finds in a disk
// image: the volumes, the root, what its /etc/fstab mounts, the OS and
// the architecture, and the assembled tree a tarball would pack. Run's
// tgz path is an inspection followed by the tarball, so an image that
// inspects cleanly fails the export only on what the walk itself meets
// (damaged files, a cancelled context, the output).
//
// The tree reads the image, which stays open until Close.
type Inspection struct {
	// Input is the inspected image's path.
	Input string
	// Table is the disk's partition table and volumes (with its logical
	// volumes).
	Table *volume.Table
	Root  *volume.Volume
	// Boot is the volume mounted at /boot, nil when /boot is part of the
	// root; Mounts are all the filesystems mounted besides the root,
	// parents first.
	Boot   *volume.Volume
	Mounts []Mount
	// Architecture, BaseImage and OS are as in Result.
	Architecture string
	BaseImage    string
	OS           string
	// Tree is the root with Mounts mounted on it, as on the running
	// system: what the tarball packs, before generalization.
	Tree *mounttree.Tree

	img *diskimage.Image
}

// Inspect runs the discovery part of a tgz export of opts.Input without
// writing anything: it opens the image (with opts.AllowBacking), finds the
// root (opts.RootPartition, with opts.Architecture as the hint), plans and
// assembles the tree from the root's /etc/fstab and opts.BootPartition,
// and reads the OS and the architecture. Its errors are the ones Run
// would give for the same options. Only opts.Input, AllowBacking,
// RootPartition, BootPartition, Architecture and Log are used; the
// caller closes the inspection.
func Inspect(ctx context.Context, opts Options) (*Inspection, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	img, err := openImage(opts)
	if err != nil {
		return nil, err
	}
	in, err := inspectRootfs(img, img, opts)
	if err != nil {
		img.Close()
		return nil, err
	}
	return in, nil
}

// Close closes the image; the tree cannot be read after it.
func (in *Inspection) Close() error { return in.img.Close() }

// Describe is one line about what was found: the OS and architecture,
// the root volume and its filesystem, and what is mounted where.
func (in *Inspection) Describe() string {
	var b strings.Builder
	b.WriteString(orUnknownOS(in.OS))
	if in.Architecture != "" {
		b.WriteString(", " + in.Architecture)
	}
	b.WriteString("; root: " + in.Root.Describe())
	if len(in.Mounts) == 0 {
		b.WriteString("; no other filesystem mounted")
	}
	for _, m := range in.Mounts {
		fmt.Fprintf(&b, "; %s: %s", m.Point, m.Volume.Describe())
	}
	return b.String()
}

func orUnknownOS(pretty string) string {
	if pretty == "" {
		return "an OS without PRETTY_NAME in /etc/os-release"
	}
	return pretty
}

// openImage opens opts.Input as Run does, and logs what it is.
func openImage(opts Options) (*diskimage.Image, error) {
	img, err := diskimage.Open(opts.Input, diskimage.AllowBacking(opts.AllowBacking...))
	if err != nil {
		return nil, err
	}
	opts.Log("%s: %s image, %d bytes virtual size", opts.Input, img.Format(), img.Size())
	if chain := img.Chain(); len(chain) > 1 {
		opts.Log("backing chain: %s", strings.Join(chain, " -> "))
	}
	return img, nil
}

// inspectRootfs finds the root and what its fstab mounts on img, and
// assembles the tree, whose filesystems read through reader (img, or img
// behind a progress counter).
func inspectRootfs(img *diskimage.Image, reader io.ReaderAt, opts Options) (*Inspection, error) {
	table, err := volume.List(img, img.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Input, err)
	}
	for _, w := range table.Warnings {
		opts.Log("warning: %s", w)
	}
	roles, err := volume.FindRootWith(table, opts.RootPartition, opts.Architecture, func(p volume.Volume) (bool, error) {
		return hasOSRelease(img, p)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.Input, err)
	}
	opts.Log("root filesystem: %s", roles.Root.Describe())

	rootFS, err := mounttree.Open(reader, roles.Root, nil)
	if err != nil {
		return nil, err
	}
	root, err := mounttree.New(rootFS)
	if err != nil {
		return nil, err
	}
	entries, err := readFstab(root, opts.Log)
	if err != nil {
		return nil, err
	}
	plan, err := mounttree.Plan(table, roles, entries, opts.BootPartition, opts.Log)
	if err != nil {
		return nil, err
	}
	tree, err := mounttree.Assemble(reader, rootFS, plan)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Input: opts.Input, Table: table, Root: &roles.Root, Mounts: plan, Tree: tree, img: img}
	for i, m := range plan {
		opts.Log("mounting %s: %s", m.Point, m.Volume.Describe())
		if m.Point == "/boot" {
			in.Boot = &plan[i].Volume
		}
	}
	in.Architecture = detectArchitecture(tree)
	if err := requireArchitecture(in.Architecture, opts, "its root filesystem has no ELF programs this export recognises (/usr/bin/env, /bin/sh, /sbin/init)"); err != nil {
		return nil, err
	}
	in.BaseImage, in.OS = detectOS(tree)
	return in, nil
}
