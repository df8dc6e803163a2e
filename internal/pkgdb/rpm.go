package pkgdb

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" driver go-rpmdb's sqlite format opens
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// rpmDatabases are the rpmdb files in the order they are looked for:
// sqlite (rpm >= 4.16's default), ndb, Berkeley DB. /usr/lib/sysimage/rpm
// is where Fedora 36+ and SUSE keep it, /var/lib/rpm everyone else (often a
// symlink to the former).
var rpmDatabases = []string{
	"/usr/lib/sysimage/rpm/rpmdb.sqlite",
	"/var/lib/rpm/rpmdb.sqlite",
	"/usr/lib/sysimage/rpm/Packages.db",
	"/var/lib/rpm/Packages.db",
	"/usr/lib/sysimage/rpm/Packages",
	"/var/lib/rpm/Packages",
}

func readRPM(fsys fstree.FS) (*Inventory, error) {
	for _, p := range rpmDatabases {
		f, err := openRegular(fsys, p, MaxDatabaseSize)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rpm database %s: %w", p, err)
		}
		pkgs, err := readRPMFile(fsys, p, f)
		closeFile(f)
		if err != nil {
			return nil, fmt.Errorf("rpm database %s: %w", p, err)
		}
		return &Inventory{Format: FormatRPM, Path: p, Packages: pkgs}, nil
	}
	return nil, nil
}

// readRPMFile copies the database (and a sqlite write-ahead log beside it,
// which holds transactions not yet checkpointed) into a private temporary
// directory and reads it there.
func readRPMFile(fsys fstree.FS, p string, f fstree.File) ([]Package, error) {
	dir, err := os.MkdirTemp("", "pkgdb-rpm-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	local := filepath.Join(dir, filepath.Base(p))
	if err := copyOut(f, local); err != nil {
		return nil, err
	}
	if filepath.Ext(p) == ".sqlite" {
		wal, err := openRegular(fsys, p+"-wal", MaxDatabaseSize)
		switch {
		case errors.Is(err, iofs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			err = copyOut(wal, local+"-wal")
			closeFile(wal)
			if err != nil {
				return nil, err
			}
		}
	}
	return ReadRPMDatabase(local)
}

func copyOut(f fstree.File, dst string) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, 0, f.Size()))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadRPMDatabase reads an rpmdb file of the host (any of the three
// formats). A panic decoding a hostile header becomes an error.
func ReadRPMDatabase(path string) (pkgs []Package, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("corrupt database: %v", r)
		}
	}()
	if err := checkBerkeleyDB(path); err != nil {
		return nil, err
	}
	db, err := rpmdb.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	infos, err := db.ListPackages()
	if err != nil {
		return nil, err
	}
	pkgs = make([]Package, 0, len(infos))
	for _, info := range infos {
		pkgs = append(pkgs, rpmPackage(info))
	}
	return pkgs, nil
}

func rpmPackage(info *rpmdb.PackageInfo) Package {
	version := info.Version + "-" + info.Release
	if info.Epoch != nil {
		version = strconv.Itoa(*info.Epoch) + ":" + version
	}
	p := Package{
		Name:            info.Name,
		ID:              info.Name,
		Version:         version,
		Arch:            info.Arch,
		UpstreamVersion: info.Version,
		Release:         info.Release,
		Vendor:          info.Vendor,
	}
	if info.Epoch != nil {
		epoch := *info.Epoch
		p.Epoch = &epoch
	}
	if info.SourceRpm != "(none)" {
		p.Source = info.SourceRpm
	}
	return p
}
