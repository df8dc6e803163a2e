// Package pkgdb reads the installed packages of an image from its package
// databases, as data: no chroot, no guest command, so it works on any tree
// an fstree.FS serves (a disk image's root read in process, or a host
// directory). It also writes what an image's users ask of it: the package
// manifest, the SPDX SBOM, the checksum file and the change list against
// a base image (see write.go).
//
// Databases read:
//   - dpkg: /var/lib/dpkg/status, parsed here (deb822 stanzas);
//   - rpm: the rpmdb in each format in use: sqlite (rpmdb.sqlite, RHEL 9+,
//     Fedora 33+), Berkeley DB hash (Packages, RHEL 7/8) and ndb
//     (Packages.db, SUSE), under /usr/lib/sysimage/rpm or /var/lib/rpm;
//   - apk: /lib/apk/db/installed (Alpine), parsed here.
//
// The rpm database formats are read with github.com/knqyf263/go-rpmdb
// (v0.1.1, the reader trivy uses; syft uses a fork of it): writing a
// Berkeley DB hash reader, an ndb reader and a sqlite b-tree reader here
// would triple this package for formats that reader already decodes, and
// it was checked against databases rpm and Berkeley DB's own tools wrote
// (rpm_test.go). Only its per-format readers are used; the header blobs
// they return are decoded here (rpmheader.go), since its ListPackages
// leaks the reader's goroutine at the first bad blob and sizes an index
// by a blob's unchecked entry count. Its costs, accepted:
//   - it opens host paths only, so the database (and a sqlite
//     write-ahead log beside it, which may hold committed transactions)
//     is first copied out of the tree into a private temporary directory,
//     each file bounded by MaxDatabaseSize;
//   - its sqlite format needs a database/sql driver: this package
//     registers github.com/glebarez/go-sqlite, a pure Go sqlite
//     (modernc.org/sqlite, no cgo, so the plugin still cross-compiles). It
//     is most of the binary size this package costs: 4.8 MB of the 5.0 MB
//     it adds to the plugin (43.0 MB before);
//   - it decodes Berkeley DB and ndb pages in goroutines of its own, where
//     a panic cannot be recovered, and trusts their counts: both files
//     are checked first (bdbcheck.go, ndbcheck.go) so that it neither
//     loops, panics nor allocates beyond the file; every entry it sends
//     is received, so its goroutine always ends. FuzzReadRPMDatabase runs
//     it on damaged databases.
//
// SPDX documents are written with github.com/spdx/tools-golang (its
// v2.3 model and JSON writer, 0.1 MB with go-rpmdb's Berkeley DB and ndb
// readers). anchore/syft was not taken: it catalogs container images and
// directories through its own source model, not an fstree.FS, needs a
// newer Go toolchain (1.26.8) than this module, and pulls about 340
// modules (containerd, docker, go-git) for catalogers an image's
// package databases do not need; what it would add over this package is
// per-file records and license detection from copyright files, which
// the manifest, SBOM and change list do not need.
package pkgdb

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"sort"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Package formats of an Inventory.
const (
	FormatDpkg = "dpkg"
	FormatRPM  = "rpm"
	FormatApk  = "apk"
)

// Package is one installed package.
type Package struct {
	// Name is the package's name.
	Name string
	// ID is the name as the package tool lists it: dpkg-query's
	// ${binary:Package} ("libc6:amd64" for a Multi-Arch: same package),
	// else the name. It is unique within an inventory, but for rpm, where
	// several versions of one name (kernels) may be installed.
	ID string
	// Version is the full version as the manifest shows it: dpkg's
	// Version, rpm's [epoch:]version-release, apk's version.
	Version string
	// Arch is the architecture ("amd64", "x86_64", "noarch", "all").
	Arch string

	// Epoch, UpstreamVersion and Release are rpm's parts of Version.
	Epoch           *int
	UpstreamVersion string
	Release         string

	// Source and SourceVersion name the source package (dpkg's Source,
	// defaulting to the package itself; rpm's source rpm file name in
	// Source alone; apk's origin).
	Source, SourceVersion string
	// Maintainer (dpkg, apk) and Vendor (rpm) name who supplies the
	// package, when the database says it.
	Maintainer, Vendor string
}

// Inventory is what one package database lists.
type Inventory struct {
	// Format is FormatDpkg, FormatRPM or FormatApk.
	Format string
	// Path is the database's path in the tree.
	Path string
	// Packages is sorted by ID, then Version.
	Packages []Package
}

// Read finds the package databases of the tree and reads the first one
// present, in the order dpkg, rpm, apk. A tree without any gives an empty
// inventory (Format ""), not an error; a database that cannot be read
// gives an error naming its path.
func Read(fsys fstree.FS) (*Inventory, error) {
	readers := []func(fstree.FS) (*Inventory, error){readDpkg, readRPM, readApk}
	for _, read := range readers {
		inv, err := read(fsys)
		if err != nil {
			return nil, err
		}
		if inv != nil {
			sortPackages(inv.Packages)
			return inv, nil
		}
	}
	return &Inventory{}, nil
}

func readDpkg(fsys fstree.FS) (*Inventory, error) {
	data, err := readDatabase(fsys, dpkgStatusPath, maxDpkgStatusSize)
	if data == nil || err != nil {
		return nil, err
	}
	pkgs, err := ParseDpkgStatus(data)
	if err != nil {
		return nil, fmt.Errorf("dpkg database %s: %w", dpkgStatusPath, err)
	}
	return &Inventory{Format: FormatDpkg, Path: dpkgStatusPath, Packages: pkgs}, nil
}

// readDatabase reads the file p of the tree, at most limit bytes; a
// missing file gives nil data and no error.
func readDatabase(fsys fstree.FS, p string, limit int64) ([]byte, error) {
	f, err := openRegular(fsys, p, limit)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("package database %s: %w", p, err)
	}
	defer closeFile(f)
	data, err := readAll(f)
	if err != nil {
		return nil, fmt.Errorf("package database %s: %w", p, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

func sortPackages(pkgs []Package) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].ID != pkgs[j].ID {
			return pkgs[i].ID < pkgs[j].ID
		}
		return pkgs[i].Version < pkgs[j].Version
	})
}
