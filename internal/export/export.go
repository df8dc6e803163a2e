// Package export turns a disk image into a MAAS image file, in process and
// without root: no nbd, FUSE, loop device or mount. It is the engine behind
// the maas-export post-processor and the maas-rootfs builder.
//
// A "tgz" export runs the layers one after the other: the disk
// (internal/diskimage) gives an io.ReaderAt, the volume layer
// (internal/volume) its partitions and which is the root, the filesystem
// registry (internal/filesystem) a reader for each, the tree assembler
// (internal/mounttree) the root plus what its /etc/fstab mounts, and the
// tarball writer (internal/tarball) a GNU-tar-compatible, generalized
// tarball through parallel gzip; Inspect runs every layer but the last,
// writing nothing (maas-rootfs checks its base image with it before
// booting). No filesystem is named here. A "ddgz" export compresses the
// whole disk, reading only its allocated ranges and writing long holes as
// precompressed gzip members of zeros. Either way the SHA-256 and size
// come out of the same pass that writes the file.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/filesystem"
	"github.com/c34478be/packer-plugin-maas/internal/fstab"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/mounttree"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

// The MAAS filetypes this package writes.
const (
	FiletypeTGZ  = maas.FiletypeTGZ
	FiletypeDDGZ = maas.FiletypeDDGZ
)

// BootNone is the boot_partition value that says the image has no
// separate /boot.
const BootNone = mounttree.BootNone

// Mount is a filesystem mounted into the exported tree.
type Mount = mounttree.Mount

// Options say what to export and how.
type Options struct {
	// Input is the disk image, qcow2 or raw (told apart by content).
	Input string
	// AllowBacking are the directory trees and files, besides Input's own
	// directory tree, that Input's backing chain may reach (see
	// diskimage.AllowBacking).
	AllowBacking []string
	// Output is the file to write; it appears only when the export succeeds.
	Output string
	// Filetype is FiletypeTGZ (the root filesystem) or FiletypeDDGZ (the
	// whole disk).
	Filetype maas.Filetype
	// CompressionLevel is the gzip level, 1-9; 0 means the default (6).
	CompressionLevel int
	// RootPartition picks the root by number or label; "" finds it.
	RootPartition string
	// BootPartition picks the partition mounted at /boot by number, name
	// or label, over what the root's /etc/fstab says; BootNone means /boot
	// is part of the root; "" lets fstab (then the XBOOTLDR type) decide.
	BootPartition string
	// Architecture is the caller's architecture setting ("amd64",
	// "arm64/generic"): a hint for finding the root partition by its GPT
	// type, and what the image is when its programs cannot be read. ""
	// accepts any root type, and then the export fails, before it writes
	// anything, when it cannot read the architecture from the image.
	Architecture string
	// Tar controls the tarball's contents (generalization, exclude,
	// include); unused for ddgz.
	Tar tarball.Options
	// Sidecars are the files written next to the image (packages.go).
	Sidecars Sidecars
	// Progress, when set, is told the number of bytes the export expects
	// to read from the image and returns the function that counts reads.
	Progress func(total int64) (add func(n int64))
	// Log receives what the export finds and skips; nil discards it.
	Log func(format string, args ...any)
}

// Result describes the written file and what was learned of the image.
type Result struct {
	tarball.Output
	Filetype maas.Filetype
	// Architecture is the MAAS architecture ("amd64/generic") read from the
	// image's ELF binaries, for ddgz too; "" when they could not be read
	// (then Options.Architecture was set, and is what the image is).
	Architecture string
	// BaseImage is a MAAS base_image hint ("ubuntu/noble") from
	// /etc/os-release; "" when it does not name a series MAAS knows.
	BaseImage string
	// OS is the image's /etc/os-release PRETTY_NAME, for messages.
	OS   string
	Root *volume.Volume
	// Boot is the volume packed under ./boot, nil when /boot is part of
	// the root; Mounts are all the filesystems packed besides the root.
	Boot   *volume.Volume
	Mounts []Mount
	Stats  tarball.Stats
	SidecarResult
}

// ImageSummary is the line that tells the user what was exported: the OS,
// the MAAS architecture arch and the base_image hint, or what MAAS does
// without one. "" when the OS is unknown (a ddgz export reads no files).
func (r Result) ImageSummary(arch string) string {
	if r.OS == "" {
		return ""
	}
	if r.BaseImage == "" {
		return fmt.Sprintf("Image: %s, %s; no base_image hint for it: MAAS uses its commissioning series unless maas-upload's base_image names one",
			r.OS, arch)
	}
	return fmt.Sprintf("Image: %s, %s, base_image hint %s", r.OS, arch, r.BaseImage)
}

// Run exports opts.Input to opts.Output.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	if opts.CompressionLevel == 0 {
		opts.CompressionLevel = tarball.DefaultCompressionLevel
	}
	if err := tarball.CheckCompressionLevel(opts.CompressionLevel); err != nil {
		return Result{}, err
	}
	img, err := openImage(opts)
	if err != nil {
		return Result{}, err
	}
	defer img.Close()

	switch opts.Filetype {
	case FiletypeTGZ, "":
		return exportRootfs(ctx, img, opts)
	case FiletypeDDGZ:
		return exportDisk(ctx, img, opts)
	default:
		return Result{}, fmt.Errorf("filetype %q is not one this export writes (tgz or ddgz)", opts.Filetype)
	}
}

// exportRootfs writes the root filesystem (with a separate /boot under
// ./boot) as a tarball: the tree an inspection assembles, walked.
func exportRootfs(ctx context.Context, img *diskimage.Image, opts Options) (Result, error) {
	reader := io.ReaderAt(img)
	var meter *tarball.ProgressReaderAt
	if opts.Progress != nil {
		// Counts from the walk on: what discovery reads is not in the estimate.
		meter = &tarball.ProgressReaderAt{R: img, Add: func(int64) {}}
		reader = meter
	}
	in, err := inspectRootfs(img, reader, opts)
	if err != nil {
		return Result{}, err
	}
	if meter != nil {
		meter.Add = opts.Progress(readEstimate(img, *in.Root, in.Mounts))
	}
	res := Result{Filetype: FiletypeTGZ, Root: in.Root, Boot: in.Boot, Mounts: in.Mounts,
		Architecture: in.Architecture, BaseImage: in.BaseImage, OS: in.OS}
	packages, err := readPackages(in.Tree, opts)
	if err != nil {
		return Result{}, err
	}

	tarOpts := opts.Tar
	if tarOpts.Log == nil {
		tarOpts.Log = opts.Log
	}
	out, err := tarball.WriteTGZ(ctx, opts.Output, opts.CompressionLevel, func(w io.Writer) error {
		var err error
		res.Stats, err = tarball.WriteTar(ctx, w, in.Tree, tarOpts)
		return err
	})
	if err != nil {
		return Result{}, err
	}
	res.Output = out
	if err := res.finishSidecars(ctx, packages, opts); err != nil {
		return Result{}, err
	}
	return res, nil
}

// openRoot opens the root volume's filesystem as a tree of its own.
func openRoot(disk io.ReaderAt, root volume.Volume) (*mounttree.Tree, error) {
	fs, err := mounttree.Open(disk, root, nil)
	if err != nil {
		return nil, err
	}
	return mounttree.New(fs)
}

// hasOSRelease reports whether v holds a root filesystem with an
// /etc/os-release, which tells a root among several candidates; the error
// is why a root filesystem could not be opened (an XFS log that needs
// recovery), for the error that names no root.
func hasOSRelease(disk io.ReaderAt, v volume.Volume) (bool, error) {
	if !filesystem.HoldsRoot(v.Filesystem) {
		return false, nil
	}
	root, err := openRoot(disk, v)
	if err != nil {
		return false, err
	}
	_, err = resolve(root, "/etc/os-release")
	return err == nil, nil
}

// readFstab parses the root filesystem's /etc/fstab; none means nothing
// is mounted from it.
func readFstab(root pathFS, log func(string, ...any)) ([]fstab.Entry, error) {
	data, err := readSmallFile(root, "/etc/fstab")
	if errors.Is(err, iofs.ErrNotExist) {
		log("the root filesystem has no /etc/fstab")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the root filesystem's /etc/fstab: %w", err)
	}
	entries, skipped := fstab.Parse(data)
	for _, s := range skipped {
		log("warning: %s", s)
	}
	return entries, nil
}

// readEstimate is what a tgz export will read: the image's allocated bytes
// inside the volumes it packs (a partition's range, a logical volume's
// extents).
func readEstimate(img *diskimage.Image, root volume.Volume, plan []Mount) int64 {
	parts := []volume.Volume{root}
	for _, m := range plan {
		parts = append(parts, m.Volume)
	}
	allocated, err := img.Allocated()
	if err != nil {
		return 0
	}
	var total int64
	for _, p := range parts {
		for _, d := range p.DiskRanges() {
			for _, r := range allocated {
				total += overlap(r.Start, r.End(), d.Start, d.Start+d.Length)
			}
		}
	}
	return total
}

func overlap(a0, a1, b0, b1 int64) int64 {
	lo, hi := max(a0, b0), min(a1, b1)
	if hi <= lo {
		return 0
	}
	return hi - lo
}

// exportDisk compresses the whole disk image. Allocated ranges are read
// and deflated; holes are not read, and the long ones (a disk grown with
// disk_size is mostly hole) cost next to nothing: they are written as
// precompressed gzip members of zeros (see zeroWriter), not deflated.
func exportDisk(ctx context.Context, img *diskimage.Image, opts Options) (Result, error) {
	if err := checkDDGZSpace(img, opts.Output); err != nil {
		return Result{}, err
	}
	root, rootVolume, rootErr := diskRoot(img, opts)
	arch, why := diskArchitecture(root, rootVolume, rootErr, opts)
	if err := requireArchitecture(arch, opts, why); err != nil {
		return Result{}, err
	}
	packages, err := diskPackages(root, rootErr, opts)
	if err != nil {
		return Result{}, err
	}
	allocated, err := img.Allocated()
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", opts.Input, err)
	}
	var add func(int64)
	if opts.Progress != nil {
		var total int64
		for _, r := range allocated {
			total += r.Length
		}
		add = opts.Progress(total)
	}
	out, err := tarball.WriteGzipMembers(ctx, opts.Output, opts.CompressionLevel, func(w *tarball.GzipMembers) error {
		return copyDisk(ctx, w, img, allocated, add)
	})
	if err != nil {
		return Result{}, err
	}
	res := Result{Output: out, Filetype: FiletypeDDGZ, Architecture: arch}
	if err := res.finishSidecars(ctx, packages, opts); err != nil {
		return Result{}, err
	}
	return res, nil
}

// diskArchitecture reads a whole-disk image's architecture the way a tgz
// export does, from the ELF programs of its root (from diskRoot, with
// its error). "" and the reason when that cannot be done (no root found,
// or one that cannot be read).
func diskArchitecture(root *mounttree.Tree, rootVolume volume.Volume, rootErr error, opts Options) (arch, why string) {
	var search rootSearchError
	switch {
	case errors.As(rootErr, &search):
		first, _, _ := strings.Cut(rootErr.Error(), ";")
		return "", first
	case rootErr != nil:
		return "", rootErr.Error()
	}
	if arch = detectArchitecture(root); arch == "" {
		return "", "the root filesystem has no ELF programs this export recognises"
	}
	opts.Log("architecture %s, from the programs of the root filesystem (%s)", arch, rootVolume.Describe())
	return arch, ""
}

// requireArchitecture fails when the image's architecture could not be
// read and the caller did not set one, so that no image goes to MAAS
// with a guessed architecture.
func requireArchitecture(detected string, opts Options, why string) error {
	if detected != "" || opts.Architecture != "" {
		return nil
	}
	return fmt.Errorf("cannot tell the image's architecture (%s): set architecture to what it is, like \"amd64/generic\" or \"arm64/generic\"", why)
}

const copyBufferSize = 1 << 20

func copyDisk(ctx context.Context, w *tarball.GzipMembers, img *diskimage.Image, allocated []diskimage.Range, add func(int64)) error {
	buf := make([]byte, copyBufferSize)
	zeros := newZeroWriter(w)
	var pos int64
	for _, r := range allocated {
		if err := zeros.write(r.Start - pos); err != nil {
			return err
		}
		for off := r.Start; off < r.End(); {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := int(min(int64(len(buf)), r.End()-off))
			// Judge by the count: an error may wrap io.EOF and still mean
			// a corrupt image (a truncated compressed cluster).
			if got, err := img.ReadAt(buf[:n], off); got < n {
				return fmt.Errorf("reading the disk image at byte %d: %w", off, err)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if add != nil {
				add(int64(n))
			}
			off += int64(n)
		}
		pos = r.End()
	}
	return zeros.write(img.Size() - pos)
}
