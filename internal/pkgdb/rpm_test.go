package pkgdb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// tinyRPMs are real packages rpmbuild makes in the test: with and without
// an epoch and a vendor, noarch and of an architecture.
var tinyRPMs = []struct{ name, epoch, version, release, arch, vendor string }{
	{"tiny-epoch", "2", "1.2", "3.el9", "noarch", "Example Vendor"},
	{"tiny-plain", "", "0.9~rc1", "1", "x86_64", ""},
	{"tiny-zero-epoch", "0", "10", "0.1", "noarch", "Other, Inc."},
}

const rpmQueryFormat = `%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%|VENDOR?{%{VENDOR}}:{}|\t%{SOURCERPM}\n`

// buildRPMs builds the tiny packages and returns their files.
func buildRPMs(t testing.TB) []string {
	t.Helper()
	testtool.Require(t, "rpmbuild")
	top := t.TempDir()
	var rpms []string
	for _, p := range tinyRPMs {
		spec := fmt.Sprintf("Name: %s\nVersion: %s\nRelease: %s\nSummary: tiny\nLicense: MIT\nBuildArch: %s\n", p.name, p.version, p.release, p.arch)
		if p.epoch != "" {
			spec += "Epoch: " + p.epoch + "\n"
		}
		if p.vendor != "" {
			spec += "Vendor: " + p.vendor + "\n"
		}
		spec += "%description\ntiny\n%files\n"
		specPath := filepath.Join(top, p.name+".spec")
		if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		testtool.CombinedOutput(t, "rpmbuild", "-bb", "--define", "_topdir "+top, "--target", p.arch, specPath)
		rpms = append(rpms, filepath.Join(top, "RPMS", p.arch, fmt.Sprintf("%s-%s-%s.%s.rpm", p.name, p.version, p.release, p.arch)))
	}
	return rpms
}

// sqliteRPMDB installs the packages into a new sqlite rpmdb in dir with rpm
// itself, and returns rpm's own listing of it.
func sqliteRPMDB(t testing.TB, dir string, rpms []string) string {
	t.Helper()
	backend := []string{"--define", "_db_backend sqlite", "--dbpath", dir}
	testtool.CombinedOutput(t, "rpm", append(backend, "--initdb")...)
	testtool.CombinedOutput(t, "rpm", append(append(backend, "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos"), rpms...)...)
	return sortedLines(testtool.Output(t, "rpm", append(backend, "-qa", "--qf", rpmQueryFormat)...))
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func describeRPM(pkgs []Package) string {
	var lines []string
	for _, p := range pkgs {
		source := p.Source
		if source == "" {
			source = "(none)"
		}
		lines = append(lines, strings.Join([]string{p.ID, p.Version, p.Arch, p.Vendor, source}, "\t"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// treeWith makes a host tree holding the files of src under dbDir.
func treeWith(t *testing.T, src, dbDir string) string {
	t.Helper()
	root := t.TempDir()
	dst := filepath.Join(root, dbDir)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readTree(t *testing.T, root string) *Inventory {
	t.Helper()
	fsys, err := dirfs.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestRPMSqliteMatchesRPM(t *testing.T) {
	db := t.TempDir()
	want := sqliteRPMDB(t, db, buildRPMs(t))
	for _, dbDir := range []string{"var/lib/rpm", "usr/lib/sysimage/rpm"} {
		inv := readTree(t, treeWith(t, db, dbDir))
		if inv.Format != FormatRPM || inv.Path != "/"+dbDir+"/rpmdb.sqlite" {
			t.Errorf("%s: read %q at %q", dbDir, inv.Format, inv.Path)
		}
		if got := describeRPM(inv.Packages); got != want {
			t.Errorf("%s: packages differ from rpm -qa's:\n%s", dbDir, lineDiff(got, want))
		}
	}
}

// TestRPMSqliteThroughSymlink: Fedora's /var/lib/rpm is a symlink to
// ../../usr/lib/sysimage/rpm; the reader follows it inside the tree.
func TestRPMSqliteThroughSymlink(t *testing.T) {
	db := t.TempDir()
	want := sqliteRPMDB(t, db, buildRPMs(t))
	root := treeWith(t, db, "usr/lib/sysimage/rpm.real")
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../usr/lib/sysimage/rpm.real", filepath.Join(root, "var/lib/rpm")); err != nil {
		t.Fatal(err)
	}
	inv := readTree(t, root)
	if got := describeRPM(inv.Packages); inv.Path != "/var/lib/rpm/rpmdb.sqlite" || got != want {
		t.Errorf("read %q: packages differ from rpm -qa's:\n%s", inv.Path, lineDiff(got, want))
	}
}

// TestRPMBerkeleyDB: Debian's rpm cannot write a Berkeley DB rpmdb (it
// reads one, bdb_ro, only), so Berkeley DB's own db_load writes the hash
// database RHEL 7/8 keep: the header blobs rpm stored in the sqlite
// database, keyed by their header number in native byte order, as rpm's
// bdb backend keys Packages.
func TestRPMBerkeleyDB(t *testing.T) {
	testtool.Require(t, "sqlite3", "db5.3_load")
	db := t.TempDir()
	want := sqliteRPMDB(t, db, buildRPMs(t))
	rows := testtool.Output(t, "sqlite3", filepath.Join(db, "rpmdb.sqlite"), "select hnum, lower(hex(blob)) from Packages")
	var dump strings.Builder
	dump.WriteString("VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n")
	for _, row := range strings.Split(strings.TrimSpace(rows), "\n") {
		hnum, blob, _ := strings.Cut(row, "|")
		n, err := strconv.ParseUint(hnum, 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&dump, " %x\n %s\n", binary.LittleEndian.AppendUint32(nil, uint32(n)), blob)
	}
	dump.WriteString("DATA=END\n")
	dumpPath := filepath.Join(t.TempDir(), "dump")
	if err := os.WriteFile(dumpPath, []byte(dump.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib/rpm"), 0o755); err != nil {
		t.Fatal(err)
	}
	testtool.CombinedOutput(t, "db5.3_load", "-f", dumpPath, filepath.Join(root, "var/lib/rpm/Packages"))
	inv := readTree(t, root)
	if got := describeRPM(inv.Packages); inv.Path != "/var/lib/rpm/Packages" || got != want {
		t.Errorf("read %q: packages differ from rpm -qa's:\n%s", inv.Path, lineDiff(got, want))
	}
}

func TestNoDatabaseIsEmpty(t *testing.T) {
	inv := readTree(t, t.TempDir())
	if inv.Format != "" || len(inv.Packages) != 0 {
		t.Errorf("an empty tree gave %+v", inv)
	}
}

func TestCorruptDatabaseNamesFile(t *testing.T) {
	for _, p := range []string{"var/lib/dpkg/status", "var/lib/rpm/rpmdb.sqlite", "var/lib/rpm/Packages", "var/lib/rpm/Packages.db"} {
		root := t.TempDir()
		file := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		garbage := strings.Repeat("not a database\x00\x01\x02", 400)
		if strings.HasSuffix(p, ".sqlite") {
			garbage = "SQLite format 3\x00" + garbage
		}
		if err := os.WriteFile(file, []byte(garbage), 0o644); err != nil {
			t.Fatal(err)
		}
		fsys, err := dirfs.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Read(fsys)
		if err == nil || !strings.Contains(err.Error(), "/"+p) {
			t.Errorf("%s: error %v does not name the file", p, err)
		}
	}
}

// TestRPMSqliteWriteAheadLog: a disk taken while rpm's sqlite database
// was open holds transactions in rpmdb.sqlite-wal not yet checkpointed
// into rpmdb.sqlite. A sqlite3 process commits a row and stays open (no
// checkpoint) while the files are copied; rpm reading the copy is the
// oracle, and the reader must see the row too.
func TestRPMSqliteWriteAheadLog(t *testing.T) {
	testtool.Require(t, "sqlite3")
	db := t.TempDir()
	sqliteRPMDB(t, db, buildRPMs(t))
	cmd := exec.Command("sqlite3", filepath.Join(db, "rpmdb.sqlite"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	fmt.Fprintln(stdin, "PRAGMA wal_autocheckpoint=0;")
	fmt.Fprintln(stdin, "INSERT INTO Packages(blob) SELECT blob FROM Packages ORDER BY hnum LIMIT 1;")
	fmt.Fprintln(stdin, ".print committed")
	out := bufio.NewReader(stdout)
	for {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("sqlite3 ended before committing: %v", err)
		}
		if line == "committed\n" {
			break
		}
	}
	root := treeWith(t, db, "var/lib/rpm")
	if info, err := os.Stat(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite-wal")); err != nil || info.Size() == 0 {
		t.Fatalf("no write-ahead log to test: %v", err)
	}
	copied := t.TempDir()
	for _, name := range []string{"rpmdb.sqlite", "rpmdb.sqlite-wal"} {
		data, err := os.ReadFile(filepath.Join(root, "var/lib/rpm", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copied, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := sortedLines(testtool.Output(t, "rpm", "--define", "_db_backend sqlite", "--dbpath", copied, "-qa", "--qf", rpmQueryFormat))
	if n := len(strings.Split(want, "\n")); n != len(tinyRPMs)+1 {
		t.Fatalf("rpm lists %d packages in the copy, want %d with the logged row", n, len(tinyRPMs)+1)
	}
	inv := readTree(t, root)
	if got := describeRPM(inv.Packages); got != want {
		t.Errorf("packages differ from rpm -qa's:\n%s\ngot:\n%s", lineDiff(got, want), got)
	}
}

// TestRPMHeaderWithARepeatedTagIsRefused: rpm writes each tag once; a
// blob naming its package many times over would copy the whole data once
// per index entry, so a repeated tag is an error.
func TestRPMHeaderWithARepeatedTagIsRefused(t *testing.T) {
	entry := func(tag uint32) []byte {
		e := make([]byte, rpmIndexEntrySize)
		binary.BigEndian.PutUint32(e, tag)
		binary.BigEndian.PutUint32(e[4:], rpmTypeString)
		binary.BigEndian.PutUint32(e[12:], 1)
		return e
	}
	header := func(tags ...uint32) []byte {
		data := []byte("tiny\x00")
		blob := binary.BigEndian.AppendUint32(nil, uint32(len(tags)))
		blob = binary.BigEndian.AppendUint32(blob, uint32(len(data)))
		for _, tag := range tags {
			blob = append(blob, entry(tag)...)
		}
		return append(blob, data...)
	}
	p, err := decodeRPMHeader(header(rpmTagName, rpmTagVersion))
	require.NoError(t, err)
	assert.Equal(t, "tiny", p.Name)
	_, err = decodeRPMHeader(header(rpmTagName, rpmTagVersion, rpmTagName))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "header tag 1000 twice")
}
