package lvm

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/ext4"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// fillVolumes writes distinct random bytes at every extent of every LV, as
// lvm2 reports them, and returns each LV's expected content.
func fillVolumes(d *lvmDisk, lvs map[string]*reportedLV) map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	for key, lv := range lvs {
		var content []byte
		for _, r := range lv.ranges {
			p := make([]byte, r.length)
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
			d.writeAt(p, r.offset)
			content = append(content, p...)
		}
		want[key] = content
	}
	return want
}

// readVolume reads an LV through the reader in chunks of an odd size, so
// that reads straddle segment boundaries.
func readVolume(t *testing.T, v *Volume) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 300007)
	for off := int64(0); ; {
		n, err := v.ReadAt(buf, off)
		got = append(got, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
	}
}

func TestReadsTheLinearVolumesLVM2Wrote(t *testing.T) {
	d := newLVMDisk(t, 20, 20, 4)
	d.lvm("pvcreate", d.loop(1), d.loop(2))
	// A dash in both names: /dev/mapper doubles them.
	d.lvm("vgcreate", "-s", "1M", "rhel-vg", d.loop(1))
	d.lvm("lvcreate", "-an", "-Zn", "-L", "4M", "-n", "root", "rhel-vg")
	d.lvm("lvcreate", "-an", "-Zn", "-L", "3M", "-n", "home-data", "rhel-vg")
	d.lvm("lvextend", "-L", "+2M", "rhel-vg/root") // a second segment, after home-data
	d.lvm("lvcreate", "-an", "-Zn", "-L", "2M", "-n", "swap", "rhel-vg")
	d.lvm("vgextend", "rhel-vg", d.loop(2))
	d.lvm("lvcreate", "-an", "-Zn", "-L", "12M", "-n", "big", "rhel-vg", d.loop(2))
	d.lvm("lvextend", "-L", "+5M", "rhel-vg/big", d.loop(1)) // across both PVs
	d.lvm("lvcreate", "-an", "-Zn", "-L", "1M", "-n", "last", "rhel-vg", d.loop(2))
	reported := d.report()
	if n := len(reported["rhel-vg/root"].ranges); n != 2 {
		t.Fatalf("fixture: root has %d segments, want 2", n)
	}
	if len(reported["rhel-vg/big"].ranges) != 2 {
		t.Fatalf("fixture: big must lie on both PVs: %+v", reported["rhel-vg/big"].ranges)
	}
	want := fillVolumes(d, reported)
	fileContent := putExt4(t, d, reported["rhel-vg/root"], want)

	// Partition 3 has no label and is passed over.
	set := Scan(d.devices(1, 2, 3))
	if len(set.Problems) != 0 {
		t.Fatalf("problems on a healthy disk: %v", set.Problems)
	}
	if len(set.Groups) != 1 {
		t.Fatalf("found %d groups, want 1", len(set.Groups))
	}
	vg := set.Groups[0]
	if vg.Name != "rhel-vg" || vg.ExtentSize != 1<<20 {
		t.Errorf("group %q with %d-byte extents, want rhel-vg with 1 MiB", vg.Name, vg.ExtentSize)
	}
	var pvDevices []string
	for _, pv := range vg.PhysicalVolumes {
		pvDevices = append(pvDevices, pv.Device)
	}
	if !slices.Equal(pvDevices, []string{"partition 1", "partition 2"}) {
		t.Errorf("PVs found on %q, want partitions 1 and 2", pvDevices)
	}
	var names []string
	for _, lv := range vg.LogicalVolumes {
		names = append(names, lv.VGName+"/"+lv.Name)
		rep := reported[lv.VGName+"/"+lv.Name]
		if rep == nil {
			t.Errorf("LV %s/%s is not one lvs reports", lv.VGName, lv.Name)
			continue
		}
		if lv.UUID != rep.uuid || lv.Size != rep.size {
			t.Errorf("LV %s: UUID %s size %d, lvs says %s and %d", lv.Name, lv.UUID, lv.Size, rep.uuid, rep.size)
		}
		if len(lv.Segments) != len(rep.ranges) {
			t.Errorf("LV %s: %d segments, lvs says %d", lv.Name, len(lv.Segments), len(rep.ranges))
		}
		v, err := lv.Open()
		if err != nil {
			t.Errorf("Open(%s): %v", lv.Name, err)
			continue
		}
		if got := readVolume(t, v); !bytes.Equal(got, want[lv.VGName+"/"+lv.Name]) {
			t.Errorf("LV %s: content read back differs from what was written at its extents", lv.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"rhel-vg/big", "rhel-vg/home-data", "rhel-vg/last", "rhel-vg/root", "rhel-vg/swap"}) {
		t.Errorf("LVs %v: want the newest metadata's five", names)
	}

	// The filesystem on root, across its two segments, reads through.
	root, err := set.Find("/dev/mapper/rhel--vg-root")
	if err != nil {
		t.Fatal(err)
	}
	v, err := root.Open()
	if err != nil {
		t.Fatal(err)
	}
	if got := readFileOnExt4(t, v, "/data"); !bytes.Equal(got, fileContent) {
		t.Error("the file on root's ext4, read through the LV, differs from what mkfs.ext4 stored")
	}

	for _, name := range []string{"/dev/mapper/rhel--vg-home--data", "/dev/rhel-vg/home-data", "rhel-vg/home-data"} {
		lv, err := set.Find(name)
		if err != nil || lv.Name != "home-data" {
			t.Errorf("Find(%q) = %v, %v; want home-data", name, lv, err)
		}
	}
	if _, err := set.Find("rhel-vg/nothere"); err == nil || !strings.Contains(err.Error(), "nothere") {
		t.Errorf("Find of a missing LV: %v, want an error naming it", err)
	}
}

func TestReadsAWholeDiskPV(t *testing.T) {
	d := newWholeDiskPV(t, 16)
	d.lvm("pvcreate", d.loop(1))
	d.lvm("vgcreate", "vg", d.loop(1)) // lvm2's default 4 MiB extents
	d.lvm("lvcreate", "-an", "-Zn", "-L", "4M", "-n", "one", "vg")
	d.lvm("lvcreate", "-an", "-Zn", "-L", "8M", "-n", "two", "vg")
	want := fillVolumes(d, d.report())
	set := Scan(d.devices(1))
	for _, key := range []string{"vg/one", "vg/two"} {
		lv, err := set.Find(key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := lv.Open()
		if err != nil {
			t.Fatal(err)
		}
		if got := readVolume(t, v); !bytes.Equal(got, want[key]) {
			t.Errorf("LV %s: content read back differs from what was written at its extents", key)
		}
	}
}

func TestAVolumeOnAPVNotOnTheDiskIsAnErrorNamingIt(t *testing.T) {
	d := newLVMDisk(t, 8, 8)
	d.lvm("pvcreate", d.loop(1), d.loop(2))
	d.lvm("vgcreate", "-s", "1M", "vg", d.loop(1), d.loop(2))
	d.lvm("lvcreate", "-an", "-Zn", "-L", "2M", "-n", "here", "vg", d.loop(1))
	d.lvm("lvcreate", "-an", "-Zn", "-L", "9M", "-n", "spread", "vg")
	pvUUID := strings.TrimSpace(d.lvm("pvs", "--noheadings", "-o", "pv_uuid", d.loop(2)))
	pvUUID = pvUUID[strings.LastIndex(pvUUID, "\n")+1:]
	pvUUID = strings.TrimSpace(pvUUID)

	set := Scan(d.devices(1)) // partition 2 left out: another disk, say
	here, err := set.Find("vg/here")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := here.Open(); err != nil {
		t.Errorf("an LV wholly on the PV present must open: %v", err)
	}
	spread, err := set.Find("vg/spread")
	if err != nil {
		t.Fatal(err)
	}
	_, err = spread.Open()
	if err == nil || !strings.Contains(err.Error(), pvUUID) || !strings.Contains(err.Error(), "spread") {
		t.Errorf("Open(spread) = %v, want an error naming the LV and the missing PV %s", err, pvUUID)
	}
}

func TestAStripedVolumeIsRefusedByName(t *testing.T) {
	d := newLVMDisk(t, 8, 8)
	d.lvm("pvcreate", d.loop(1), d.loop(2))
	d.lvm("vgcreate", "-s", "1M", "vg", d.loop(1), d.loop(2))
	d.lvm("lvcreate", "-an", "-Zn", "-i", "2", "-L", "2M", "-n", "fast", "vg")
	lv, err := Scan(d.devices(1, 2)).Find("/dev/vg/fast")
	if err != nil {
		t.Fatal(err)
	}
	_, err = lv.Open()
	if err == nil || !strings.Contains(err.Error(), "vg/fast") || !strings.Contains(err.Error(), "striped") {
		t.Errorf("Open(striped) = %v, want an error naming vg/fast and its type", err)
	}
}

// putExt4 makes an ext4 image the size of the LV holding a 4 MiB file of
// random bytes (so that it spans the LV's segments), writes it at the LV's
// extents and returns the file's content.
func putExt4(t *testing.T, d *lvmDisk, lv *reportedLV, want map[string][]byte) []byte {
	t.Helper()
	dir := t.TempDir()
	content := make([]byte, 4<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	if err := os.MkdirAll(filepath.Join(dir, "tree"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tree", "data"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "root.img")
	testtool.CombinedOutput(t, "mkfs.ext4", "-q", "-F", "-d", filepath.Join(dir, "tree"), img, strconv.FormatInt(lv.size>>10, 10)+"k")
	fs, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	rest := fs
	for _, r := range lv.ranges {
		d.writeAt(rest[:r.length], r.offset)
		rest = rest[r.length:]
	}
	want[lv.vg+"/"+lv.name] = fs
	return content
}

// readFileOnExt4 reads a file of the ext4 filesystem on a volume.
func readFileOnExt4(t *testing.T, v *Volume, path string) []byte {
	t.Helper()
	fs, err := ext4.Open(v, v.Size())
	if err != nil {
		t.Fatal(err)
	}
	ino, err := fs.Lookup(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.OpenFile(ino)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, f.Size())
	if _, err := f.ReadAt(p, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return p
}
