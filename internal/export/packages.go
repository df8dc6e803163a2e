package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/mounttree"
	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

// Sidecars selects the files written next to the image once it is
// complete: <image>.manifest, <image>.spdx.json, <image>.sha256 and, with
// a base, <image>.changes.
type Sidecars struct {
	Manifest, SBOM, Checksum bool
	// Base, when set, is the inventory of the image this one was built
	// from (maas-rootfs's cloud image): the change list against it is
	// written to <image>.changes.
	Base *pkgdb.Inventory
	// Tool names the SBOM's creator ("packer-plugin-maas-0.1.0").
	Tool string
	// Created is the SBOM's creation time; zero means now (or the
	// tarball's clamp_mtime, when set, so that it is reproducible too).
	Created time.Time
}

func (s Sidecars) needInventory() bool { return s.Manifest || s.SBOM || s.Base != nil }

// withoutThem names the settings that export without the inventory.
func (s Sidecars) withoutThem() string {
	if s.Base != nil {
		return "set manifest = false, sbom = false and changes_file = false to export without them"
	}
	return "set manifest = false and sbom = false to export without them"
}

// packageFacts is what the export learns of the image's packages before
// it writes the image.
type packageFacts struct {
	inv    *pkgdb.Inventory
	distro string
	// changes is the change list against Sidecars.Base, once written.
	changes pkgdb.Changes
}

// readPackages reads the tree's package database, when a manifest or SBOM
// is wanted. A database that cannot be read fails the export before the
// image is written, with the settings that do without it.
func readPackages(tree fstree.FS, opts Options) (*packageFacts, error) {
	if !opts.Sidecars.needInventory() {
		return nil, nil
	}
	inv, err := pkgdb.Read(tree)
	if err != nil {
		return nil, fmt.Errorf("reading the image's packages for its manifest, SBOM or change list: %w (%s)", err, opts.Sidecars.withoutThem())
	}
	distro, err := pkgdb.OSReleaseID(tree)
	if err != nil {
		distro = "" // package URLs then take the database's own namespace
	}
	if inv.Format == "" {
		opts.Log("no package database (dpkg, rpm, apk) in the image: its manifest and SBOM list no packages")
	} else {
		opts.Log("packages: %d from the %s database %s", len(inv.Packages), inv.Format, inv.Path)
	}
	return &packageFacts{inv: inv, distro: distro}, nil
}

// diskPackages reads the packages of a whole-disk image's root, when one
// is found; when none is, nil (and a log line): the manifest and SBOM are
// then left out.
func diskPackages(root fstree.FS, err error, opts Options) (*packageFacts, error) {
	if !opts.Sidecars.needInventory() {
		return nil, nil
	}
	if err != nil {
		why, _, _ := strings.Cut(err.Error(), ";")
		what := "manifest or SBOM"
		if opts.Sidecars.Base != nil {
			what = "manifest, SBOM or change list"
		}
		opts.Log("no %s for this disk image: %s", what, why)
		return nil, nil
	}
	return readPackages(root, opts)
}

// ReadDiskPackages reads the package inventory of the disk image
// opts.Input (with opts.AllowBacking and opts.Architecture) from its root
// filesystem, found as a ddgz export finds it, without the filesystems
// its fstab mounts. maas-rootfs reads its base image's packages with it
// for a ddgz build, which skips the full inspection; an error says why
// no root or database could be read.
func ReadDiskPackages(ctx context.Context, opts Options) (*pkgdb.Inventory, error) {
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
	defer img.Close()
	root, _, err := diskRoot(img, opts)
	if err != nil {
		return nil, err
	}
	return pkgdb.Read(root)
}

// diskRoot opens the root filesystem of a whole-disk image, found as a
// tgz export finds it, for the ddgz export's architecture and packages.
// An error of the search itself is a rootSearchError.
func diskRoot(img *diskimage.Image, opts Options) (*mounttree.Tree, volume.Volume, error) {
	table, err := volume.List(img, img.Size())
	if err != nil {
		return nil, volume.Volume{}, err
	}
	roles, err := volume.FindRootWith(table, "", opts.Architecture, func(p volume.Volume) (bool, error) { return hasOSRelease(img, p) })
	if err != nil {
		return nil, volume.Volume{}, rootSearchError{err}
	}
	root, err := openRoot(img, roles.Root)
	return root, roles.Root, err
}

// rootSearchError is why no root was found: its first clause alone says
// it (the rest lists the disk's partitions for the tgz export's error).
type rootSearchError struct{ error }

func (e rootSearchError) Unwrap() error { return e.error }

// writeSidecars writes the selected files next to the complete image and
// returns their paths. It removes those of an earlier export that this
// one does not write (they describe another image). On failure or cancel
// it removes the image too, so that a failed export leaves none of its
// files.
func writeSidecars(ctx context.Context, out Result, facts *packageFacts, opts Options) (files []string, err error) {
	defer func() {
		if err != nil {
			for _, f := range append(files, out.Path) {
				_ = os.Remove(f)
			}
			files = nil
		}
	}()
	want := opts.Sidecars
	if facts == nil {
		want.Manifest, want.SBOM, want.Base = false, false, nil
		facts = &packageFacts{inv: &pkgdb.Inventory{}}
	}
	if err := removeStale(out.Path, want); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sbom := pkgdb.SBOMOptions{Tool: opts.Sidecars.Tool, Created: sbomCreated(opts), Distro: facts.distro}
	files, facts.changes, err = pkgdb.WriteOutputs(pkgdb.Image{Path: out.Path, SHA256: out.SHA256}, facts.inv,
		pkgdb.Outputs{Manifest: want.Manifest, SBOM: want.SBOM, Checksum: want.Checksum, Base: want.Base}, sbom)
	if err == nil {
		err = ctx.Err()
	}
	return files, err
}

// removeStale removes the files next to image that want does not ask
// for, left by an earlier export to the same path.
func removeStale(image string, want Sidecars) error {
	for suffix, written := range map[string]bool{
		pkgdb.ManifestSuffix: want.Manifest, pkgdb.SPDXSuffix: want.SBOM, pkgdb.ChecksumSuffix: want.Checksum,
		pkgdb.ChangesSuffix: want.Base != nil,
	} {
		if written {
			continue
		}
		if err := os.Remove(image + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing %s of an earlier export: %w", image+suffix, err)
		}
	}
	return nil
}

func sbomCreated(opts Options) time.Time {
	switch {
	case !opts.Sidecars.Created.IsZero():
		return opts.Sidecars.Created
	case opts.Tar.ClampMtime != nil:
		return *opts.Tar.ClampMtime
	}
	return time.Now()
}

// SidecarResult is what Result says of the image's packages and the
// files written next to it.
type SidecarResult struct {
	// Packages is the image's inventory; nil when neither a manifest nor
	// an SBOM was asked for, or when a ddgz export found no root.
	Packages *pkgdb.Inventory
	// SidecarFiles are the files written next to the image: manifest,
	// SBOM, checksum file, change list, in that order, as selected.
	SidecarFiles []string
	// ChangesFile is the change list against Sidecars.Base, "" when none
	// was written (no base, or a ddgz export that found no root); Changes
	// is what it lists.
	ChangesFile string
	Changes     pkgdb.Changes
}

// finishSidecars writes the files next to the image res describes, now
// complete, and records them; on failure the image is removed too.
func (res *Result) finishSidecars(ctx context.Context, facts *packageFacts, opts Options) error {
	files, err := writeSidecars(ctx, *res, facts, opts)
	if err != nil {
		return err
	}
	res.SidecarFiles = files
	if facts != nil {
		res.Packages = facts.inv
		if opts.Sidecars.Base != nil {
			res.ChangesFile, res.Changes = res.Path+pkgdb.ChangesSuffix, facts.changes
		}
	}
	return nil
}
