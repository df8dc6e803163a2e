package pkgdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add([]byte(craftedStatus))
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (2)\n"))
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\nSource: b (\n"))
	f.Add([]byte("Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\n"))
	f.Add([]byte(":\n \n\x00: \xff\n"))
	f.Add([]byte(strings.Repeat("Package: a\nStatus: install ok installed\nVersion: 1\nMulti-Arch: same\nArchitecture: i386\n\n", 50)))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseDpkgStatus(data)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || !strings.HasPrefix(p.ID, p.Name) {
				t.Fatalf("package %+v accepted", p)
			}
		}
	})
}

func FuzzParseApkInstalled(f *testing.F) {
	f.Add([]byte("C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\nm:Maintainer <m@example.org>\n\nP:busybox\nV:1.36.1-r5\n"))
	f.Add([]byte("P:\nV:\n"))
	f.Add([]byte("x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseApkInstalled(data)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package %+v accepted", p)
			}
		}
	})
}

// FuzzReadRPMDatabase feeds go-rpmdb damaged databases in each format it
// reads: seeds are a sqlite rpmdb rpm wrote, the Berkeley DB hash
// db5.3_load wrote from the same headers (TestRPMBerkeleyDB) and an ndb
// file of them (writeNDB). A panic in the reader's own goroutines would crash the target.
func FuzzReadRPMDatabase(f *testing.F) {
	for _, seed := range []string{"testdata/rpmdb-seed.sqlite", "testdata/rpmdb-seed.bdb"} {
		data, err := os.ReadFile(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("RpmP\x00\x00\x00\x00" + strings.Repeat("\x00", 4096)))
	dir := f.TempDir()
	ndb := filepath.Join(dir, "seed.ndb")
	writeNDB(f, ndb, 1, []ndbSlot{{pkg: 1, blob: seedBlob(f)}, {pkg: 2, blob: seedBlob(f)}})
	data, err := os.ReadFile(ndb)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		pkgs, err := ReadRPMDatabase(p)
		if err == nil && len(pkgs) > len(data) {
			t.Fatalf("%d packages from %d bytes", len(pkgs), len(data))
		}
	})
}

// FuzzDecodeRPMHeader: header blobs are decoded here, in the caller's
// goroutine, with no allocation sized by their counts: every field is a
// string of the blob (tags may share one, as the checked-in input this
// target found does) and a decoded package has a name.
func FuzzDecodeRPMHeader(f *testing.F) {
	f.Add(seedBlob(f))
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\xff"))
	f.Add([]byte("\x7f\xff\xff\xff\x7f\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, err := decodeRPMHeader(blob)
		if err != nil {
			return
		}
		if p.Name == "" {
			t.Fatalf("package without a name from %d bytes", len(blob))
		}
		for _, field := range []string{p.Name, p.UpstreamVersion, p.Release, p.Vendor, p.Arch, p.Source} {
			if len(field) > len(blob) {
				t.Fatalf("a field of %d bytes from %d bytes", len(field), len(blob))
			}
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	f.Add("1:2.36-9+deb12u4", "2.36-9~bpo1")
	f.Add("1.0^git1", "1.0~rc1")
	f.Add("010", "10")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, format := range []string{FormatDpkg, FormatRPM} {
			ab, ba := compareVersions(format, a, b), compareVersions(format, b, a)
			if ab != -ba || (a == b && ab != 0) {
				t.Fatalf("%s: %q vs %q gives %d, reversed %d", format, a, b, ab, ba)
			}
		}
	})
}

// TestRPMSeedsRead: the fuzz seeds are real databases the reader reads.
func TestRPMSeedsRead(t *testing.T) {
	for _, seed := range []string{"testdata/rpmdb-seed.sqlite", "testdata/rpmdb-seed.bdb"} {
		pkgs, err := ReadRPMDatabase(seed)
		if err != nil || len(pkgs) != 1 || pkgs[0].Name != "seed" || pkgs[0].Version != "1:1.0-1" || pkgs[0].Vendor != "Seed Vendor" {
			t.Errorf("%s: %+v, %v", seed, pkgs, err)
		}
	}
}
