package lvm

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// corruptCurrentText flips a byte in the current metadata text of the
// metadata area at mdaOffset of partition n, so that its checksum fails.
func (d *lvmDisk) corruptCurrentText(n int, mdaOffset int64) {
	d.t.Helper()
	p := d.parts[n-1]
	hdr := d.readAt(mdaHeaderSize, p.start+mdaOffset)
	at := p.start + mdaOffset + int64(binary.LittleEndian.Uint64(hdr[40:])) + 20
	b := d.readAt(1, at)
	d.writeAt([]byte{b[0] ^ 0x20}, at)
}

// lvmSees lists the LVs lvm2 itself finds on the disk (lvs), or the
// failure it reports.
func (d *lvmDisk) lvmSees() string {
	d.t.Helper()
	out := d.lvm("lvs", "--noheadings", "-o", "vg_name,lv_name,vg_seqno")
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		if _, err := strconv.Atoi(f[2]); err == nil {
			lines = append(lines, strings.Join(f, " "))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

// weSee lists the LVs the reader finds, in lvmSees' form.
func weSee(set *Set) string {
	var lines []string
	for _, vg := range set.Groups {
		for _, lv := range vg.LogicalVolumes {
			lines = append(lines, vg.Name+" "+lv.Name+" "+itoa(vg.Seqno))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

func TestTheNewestValidMetadataCopyWinsAsInLVM2(t *testing.T) {
	d := newLVMDisk(t, 8, 8)
	d.lvm("pvcreate", d.loop(1))
	d.lvm("pvcreate", "--pvmetadatacopies", "2", d.loop(2)) // a second area at its end
	d.lvm("vgcreate", "-s", "1M", "vg", d.loop(1), d.loop(2))
	d.lvm("lvcreate", "-an", "-Zn", "-L", "1M", "-n", "old", "vg")
	stale := d.readAt(int(d.parts[1].size), d.parts[1].start)
	d.lvm("lvcreate", "-an", "-Zn", "-L", "1M", "-n", "new", "vg")
	d.writeAt(stale, d.parts[1].start) // partition 2 now holds an older seqno
	// Partition 1's copy has seqno 3 and lists "new"; partition 2's two
	// copies are of seqno 2, before "new".
	// The stale partition first, so that order cannot decide.
	d.agree(Scan(d.devices(2, 1)), "vg new 3; vg old 3", 0)

	// The newest copy damaged: lvm2 falls back to the older valid ones.
	d.corruptCurrentText(1, 4096)
	d.agree(Scan(d.devices(1, 2)), "vg old 2", 1)

	// Then partition 2's first area: its second one, at the end, remains.
	pv, err := ReadPhysicalVolume(d.devices(2)[0])
	if err != nil || len(pv.Copies) != 2 {
		t.Fatalf("fixture: partition 2 must have two metadata areas: %v", err)
	}
	d.corruptCurrentText(2, pv.Copies[0].area.Offset)
	d.agree(Scan(d.devices(1, 2)), "vg old 2", 2)

	// No valid copy left: no group, and the lookup says why.
	d.corruptCurrentText(2, pv.Copies[1].area.Offset)
	set := Scan(d.devices(1, 2))
	if got := weSee(set); got != "" {
		t.Errorf("with every copy damaged the reader sees %q, want nothing", got)
	}
	if got := d.lvmSees(); got != "" {
		t.Errorf("fixture: lvm2 still sees %q", got)
	}
	_, err = set.Find("vg/old")
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Find with every copy damaged = %v, want an error that names the checksum failures", err)
	}
}

// agree checks that the reader and lvm2 see the same LVs and seqno, the
// expected ones, and that the reader noted the damaged copies.
func (d *lvmDisk) agree(set *Set, want string, damaged int) {
	d.t.Helper()
	if got := weSee(set); got != want {
		d.t.Errorf("reader sees %q, want %q", got, want)
	}
	if got := d.lvmSees(); got != want {
		d.t.Errorf("fixture: lvm2 sees %q, want %q", got, want)
	}
	if len(set.Problems) != damaged {
		d.t.Errorf("problems %v, want %d checksum failures", set.Problems, damaged)
	}
	for _, p := range set.Problems {
		if !strings.Contains(p.Error(), "checksum") {
			d.t.Errorf("problem %q does not name the checksum", p)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
