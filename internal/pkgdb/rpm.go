package pkgdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" driver go-rpmdb's sqlite format opens
	rpmbdb "github.com/knqyf263/go-rpmdb/pkg/bdb"
	rpmdbi "github.com/knqyf263/go-rpmdb/pkg/db"
	rpmndb "github.com/knqyf263/go-rpmdb/pkg/ndb"
	rpmsqlite "github.com/knqyf263/go-rpmdb/pkg/sqlite3"

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
// formats). Berkeley DB and ndb files are checked first (checkBerkeleyDB,
// checkNDB) for the shapes on which go-rpmdb's readers loop, panic in a
// goroutine of their own or allocate beyond the file. Every entry the
// reader sends is received, a bad one too, so that its goroutine always
// ends; a panic decoding a header becomes an error.
func ReadRPMDatabase(path string) (pkgs []Package, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("corrupt database: %v", r)
		}
	}()
	db, err := openRPMDB(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	for entry := range db.Read() {
		if err != nil {
			continue // drain: the reader blocks until its entries are taken
		}
		if entry.Err != nil {
			err = entry.Err
			continue
		}
		var p Package
		if p, err = decodeRPMHeader(entry.Value); err == nil {
			pkgs = append(pkgs, rpmPackage(p))
		}
	}
	if err != nil {
		return nil, err
	}
	return pkgs, nil
}

// openRPMDB opens the file with go-rpmdb's reader of its format, after
// checking it where that reader trusts it.
func openRPMDB(path string) (rpmdbReader, error) {
	head := make([]byte, len(sqliteMagic))
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	_, err = io.ReadFull(f, head)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("no database header: %w", err)
	}
	switch {
	case bytes.Equal(head, sqliteMagic):
		return rpmsqlite.Open(path)
	case bytes.HasPrefix(head, ndbMagic):
		if err := checkNDB(path); err != nil {
			return nil, err
		}
		return rpmndb.Open(path)
	default:
		if err := checkBerkeleyDB(path); err != nil {
			return nil, err
		}
		return rpmbdb.Open(path)
	}
}

// rpmdbReader is what go-rpmdb's readers of each format serve.
type rpmdbReader = rpmdbi.RpmDBInterface

// rpmPackage completes a package decoded from an rpm header: its version
// as rpm -q shows it, and its ID.
func rpmPackage(p Package) Package {
	p.ID = p.Name
	p.Version = p.UpstreamVersion + "-" + p.Release
	if p.Epoch != nil {
		p.Version = strconv.Itoa(*p.Epoch) + ":" + p.Version
	}
	if p.Source == "(none)" {
		p.Source = ""
	}
	return p
}
