package pkgdb

import (
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// ndbSlot is one slot of a Packages.db writeNDB lays out: the package
// index it names and its blob. blobLen, when set, is the length the blob
// header claims instead of the blob's own; at, when set, places the blob
// at that block rather than after the previous one.
type ndbSlot struct {
	pkg     uint32
	blob    []byte
	blobLen uint32
	at      uint32
}

// writeNDB writes an ndb Packages.db as rpm's ndb backend lays one out
// (Debian's rpm is built without it, so the test writes it): the header,
// slot pages, then each blob in 16-byte blocks with its header and a
// tail.
func writeNDB(t testing.TB, path string, slotPages uint32, slots []ndbSlot) {
	t.Helper()
	le := binary.LittleEndian
	file := make([]byte, int(slotPages)*ndbSlotPageSize)
	copy(file, ndbMagic)
	le.PutUint32(file[8:], 1) // generation
	le.PutUint32(file[12:], slotPages)
	for i := ndbHeaderSlots; i < len(file)/ndbSlotSize; i++ {
		copy(file[i*ndbSlotSize:], ndbSlotMagic)
	}
	for i, s := range slots {
		block := s.at
		if block == 0 {
			block = uint32(len(file) / ndbBlockSize)
			blocks := (ndbBlobHeadSize + len(s.blob) + ndbBlockSize + ndbBlockSize - 1) / ndbBlockSize
			blob := make([]byte, blocks*ndbBlockSize)
			copy(blob, ndbBlobMagic)
			le.PutUint32(blob[4:], s.pkg)
			claimed := uint32(len(s.blob))
			if s.blobLen != 0 {
				claimed = s.blobLen
			}
			le.PutUint32(blob[12:], claimed)
			copy(blob[ndbBlobHeadSize:], s.blob)
			file = append(file, blob...)
		}
		slot := file[(ndbHeaderSlots+i)*ndbSlotSize:]
		le.PutUint32(slot[4:], s.pkg)
		le.PutUint32(slot[8:], block)
		le.PutUint32(slot[12:], uint32(len(file)/ndbBlockSize)-block)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sqliteBlobs reads the header blobs of a sqlite rpmdb.
func sqliteBlobs(t testing.TB, path string) [][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT blob FROM Packages ORDER BY hnum")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return blobs
}

// TestRPMNDBMatchesRPM: the headers rpm installed, in the ndb layout
// SUSE uses, read as rpm -qa lists them.
func TestRPMNDBMatchesRPM(t *testing.T) {
	db := t.TempDir()
	want := sqliteRPMDB(t, db, buildRPMs(t))
	var slots []ndbSlot
	for i, b := range sqliteBlobs(t, filepath.Join(db, "rpmdb.sqlite")) {
		slots = append(slots, ndbSlot{pkg: uint32(i + 1), blob: b})
	}
	root := t.TempDir()
	writeNDB(t, filepath.Join(root, "usr/lib/sysimage/rpm/Packages.db"), 1, slots)
	inv := readTree(t, root)
	if got := describeRPM(inv.Packages); inv.Path != "/usr/lib/sysimage/rpm/Packages.db" || got != want {
		t.Errorf("read %q: packages differ from rpm -qa's:\n%s", inv.Path, lineDiff(got, want))
	}
}

// seedBlob is the header blob of the checked-in sqlite seed.
func seedBlob(t testing.TB) []byte {
	t.Helper()
	return sqliteBlobs(t, "testdata/rpmdb-seed.sqlite")[0]
}

// TestNDBHostileBlobLengthsStayBounded: slots that share one small blob
// whose header claims 256 MiB make go-rpmdb's ndb reader allocate (and
// zero) that much once per slot; checkNDB refuses the file first, so the
// read stays small in memory.
func TestNDBHostileBlobLengthsStayBounded(t *testing.T) {
	if rss, parent := testtool.InChild(t); parent {
		if rss > 100<<20 {
			t.Errorf("reading a hostile ndb file peaked at %d MiB resident", rss>>20)
		}
		return
	}
	slots := []ndbSlot{{pkg: 1, blob: seedBlob(t), blobLen: 256 << 20}}
	for i := uint32(2); i <= 64; i++ {
		slots = append(slots, ndbSlot{pkg: 1, at: ndbSlotPageSize / ndbBlockSize})
	}
	path := filepath.Join(t.TempDir(), "Packages.db")
	writeNDB(t, path, 1, slots)
	if _, err := ReadRPMDatabase(path); err == nil {
		t.Error("a hostile ndb file was read")
	}
}

// TestNDBSeedReads: the ndb layout writeNDB makes is one go-rpmdb reads
// and checkNDB accepts.
func TestNDBSeedReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Packages.db")
	writeNDB(t, path, 1, []ndbSlot{{pkg: 1, blob: seedBlob(t)}})
	pkgs, err := ReadRPMDatabase(path)
	if err != nil || len(pkgs) != 1 || pkgs[0].Name != "seed" || pkgs[0].Version != "1:1.0-1" {
		t.Errorf("%+v, %v", pkgs, err)
	}
}

func TestNDBCheckRefusesHostileShapes(t *testing.T) {
	blob := seedBlob(t)
	for name, c := range map[string]struct {
		pages uint32
		slots []ndbSlot
	}{
		"slot pages past the file":    {pages: 2, slots: []ndbSlot{{pkg: 1, blob: blob}}},
		"blob length past its blocks": {pages: 1, slots: []ndbSlot{{pkg: 1, blob: blob, blobLen: 1 << 30}}},
		"slots sharing a blob":        {pages: 1, slots: []ndbSlot{{pkg: 1, blob: blob}, {pkg: 1, at: ndbSlotPageSize / ndbBlockSize}}},
		"blob of another package":     {pages: 1, slots: []ndbSlot{{pkg: 1, blob: blob}, {pkg: 2, blob: blob, at: ndbSlotPageSize / ndbBlockSize}}},
		"blob inside the slot pages":  {pages: 1, slots: []ndbSlot{{pkg: 1, blob: blob}, {pkg: 2, at: 4}}},
	} {
		path := filepath.Join(t.TempDir(), "Packages.db")
		writeNDB(t, path, c.pages, c.slots)
		if c.pages == 2 {
			data, _ := os.ReadFile(path)
			if err := os.WriteFile(path, data[:ndbSlotPageSize+100], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := checkNDB(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestFailedReadsLeaveNoGoroutine: go-rpmdb's readers send each entry
// from a goroutine of their own over an unbuffered channel; its
// ListPackages stopped taking them at the first bad one, and that
// goroutine stayed blocked for good, holding the database's file and
// sqlite connection. Each failed read here must leave the goroutine count
// where it was.
func TestFailedReadsLeaveNoGoroutine(t *testing.T) {
	dir := t.TempDir()
	notSqlite := filepath.Join(dir, "garbage.sqlite")
	if err := os.WriteFile(notSqlite, []byte("SQLite format 3\x00"+strings.Repeat("junk", 1024)), 0o644); err != nil {
		t.Fatal(err)
	}
	badBlobs := filepath.Join(dir, "bad-blobs.sqlite")
	db, err := sql.Open("sqlite", badBlobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
		"INSERT INTO Packages(blob) VALUES (x'00000001000000ff'), (x'00'), (x'0102')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	badNDB := filepath.Join(dir, "Packages.db")
	writeNDB(t, badNDB, 1, []ndbSlot{{pkg: 1, blob: []byte("not a header")}, {pkg: 2, blob: []byte("nor this")}})
	for _, p := range []string{notSqlite, badBlobs, badNDB} {
		before := runtime.NumGoroutine()
		if _, err := ReadRPMDatabase(p); err == nil {
			t.Fatalf("%s: read", p)
		}
		if after := settledGoroutines(before); after > before {
			t.Errorf("%s: %d goroutines before the read, %d after it", filepath.Base(p), before, after)
		}
	}
}

// settledGoroutines waits (at most 5 s) for the goroutine count to fall
// to want, as a goroutine that is ending may still be counted; it returns
// the count it saw last.
func settledGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestHeaderCountsAllocateNothing: go-rpmdb's header import sized an
// index by the blob's entry count (2^31 entries from 8 bytes: out of
// memory, which no recover catches); the decoder here checks the count
// against the blob first and allocates only its error.
func TestHeaderCountsAllocateNothing(t *testing.T) {
	for _, blob := range [][]byte{
		[]byte("\x7f\xff\xff\xff\x00\x00\x00\x10"),
		[]byte("not a header"),
		append([]byte("\x00\x00\x00\x01\x00\x00\x00\x04"), make([]byte, 20)...),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodeRPMHeader(blob)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%q decoded", blob)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4096 {
			t.Errorf("%q: %d bytes allocated", blob, n)
		}
	}
}
