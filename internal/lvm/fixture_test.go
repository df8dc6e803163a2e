package lvm

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// lvmDisk is a disk image whose partitions lvm2's own tools turn into PVs.
// There is no device-mapper here, so LVs are created with activation off
// and no zeroing; their content is written into the image at the offsets
// lvm2 reports.
type lvmDisk struct {
	t     *testing.T
	path  string
	parts []partition
}

// partition is a GPT partition of the image and the loop device showing it
// to lvm2.
type partition struct {
	start, size int64
	loop        string
}

const mib = 1 << 20

// newLVMDisk makes an image with GPT partitions of the given sizes (MiB),
// each attached to a loop device.
func newLVMDisk(t *testing.T, partMiB ...int64) *lvmDisk {
	t.Helper()
	d := setUpLVM(t)
	total := int64(2)
	args := []string{}
	start := int64(1)
	for i, n := range partMiB {
		args = append(args, fmt.Sprintf("-n%d:%d:%d", i+1, start*mib/512, (start+n)*mib/512-1))
		d.parts = append(d.parts, partition{start: start * mib, size: n * mib})
		start += n
		total += n
	}
	testtool.Output(t, "truncate", "-s", strconv.FormatInt(total*mib, 10), d.path)
	testtool.Output(t, "sgdisk", append(args, d.path)...)
	d.attach()
	return d
}

// newWholeDiskPV makes an image without a partition table, to be a PV as a
// whole (its one "partition" is the whole disk).
func newWholeDiskPV(t *testing.T, sizeMiB int64) *lvmDisk {
	t.Helper()
	d := setUpLVM(t)
	testtool.Output(t, "truncate", "-s", strconv.FormatInt(sizeMiB*mib, 10), d.path)
	d.parts = []partition{{start: 0, size: sizeMiB * mib}}
	d.attach()
	return d
}

// setUpLVM points lvm2 at a configuration of its own for this test.
func setUpLVM(t *testing.T) *lvmDisk {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("lvm2 needs loop devices: run this test as root, as CI does")
	}
	testtool.Require(t, "pvcreate", "vgcreate", "lvcreate", "lvextend", "vgextend", "lvs", "pvs", "losetup", "sgdisk")
	dir := t.TempDir()
	conf := filepath.Join(dir, "etc")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	// No udev, no device-mapper, no backups in /etc, no devices file: lvm2
	// works on the loop devices passed with --devices and nothing else.
	err := os.WriteFile(filepath.Join(conf, "lvm.conf"), []byte(`
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" use_devicesfile = 0 }
activation { udev_sync = 0 udev_rules = 0 }
global { activation = 0 }
backup { backup = 0 archive = 0 }
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LVM_SYSTEM_DIR", conf)
	t.Setenv("LVM_SUPPRESS_FD_WARNINGS", "1")
	return &lvmDisk{t: t, path: filepath.Join(dir, "disk.img")}
}

// attach gives each partition a loop device of its own (partition scanning
// does not work on this machine's loop devices).
func (d *lvmDisk) attach() {
	d.t.Helper()
	for i := range d.parts {
		p := &d.parts[i]
		p.loop = strings.TrimSpace(testtool.Output(d.t, "losetup", "-f", "--show",
			"-o", strconv.FormatInt(p.start, 10), "--sizelimit", strconv.FormatInt(p.size, 10), d.path))
		loop := p.loop
		d.t.Cleanup(func() { testtool.Output(d.t, "losetup", "-d", loop) })
	}
}

// lvm runs an lvm2 command restricted to this disk's loop devices.
func (d *lvmDisk) lvm(cmd string, args ...string) string {
	d.t.Helper()
	var loops []string
	for _, p := range d.parts {
		loops = append(loops, p.loop)
	}
	return testtool.CombinedOutput(d.t, cmd, append([]string{"--devices", strings.Join(loops, ",")}, args...)...)
}

// loop is the loop device of partition n (1-based).
func (d *lvmDisk) loop(n int) string { return d.parts[n-1].loop }

// devices opens the image's partitions the way the product will see them:
// byte ranges of a file, no loop device.
func (d *lvmDisk) devices(numbers ...int) []Device {
	d.t.Helper()
	f, err := os.Open(d.path)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { f.Close() })
	var devs []Device
	for _, n := range numbers {
		p := d.parts[n-1]
		devs = append(devs, Device{Name: fmt.Sprintf("partition %d", n), R: io.NewSectionReader(f, p.start, p.size), Size: p.size})
	}
	return devs
}

// partitionOf returns the partition shown by a loop device.
func (d *lvmDisk) partitionOf(loop string) partition {
	for _, p := range d.parts {
		if p.loop == loop {
			return p
		}
	}
	d.t.Fatalf("%s is not a loop device of this disk", loop)
	return partition{}
}

// reportedLV is an LV as lvs reports it, with where its extents lie on the
// image.
type reportedLV struct {
	vg, name, uuid string
	size           int64
	ranges         []imageRange // in LV order
}

type imageRange struct{ offset, length int64 }

// report asks lvs and pvs where each LV's extents lie in the image file.
func (d *lvmDisk) report() map[string]*reportedLV {
	d.t.Helper()
	var pvs struct {
		Report []struct {
			PV []map[string]string `json:"pv"`
		} `json:"report"`
	}
	d.decodeJSON(d.lvm("pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pv_name,pe_start"), &pvs)
	peStart := map[string]int64{}
	for _, pv := range pvs.Report[0].PV {
		peStart[pv["pv_name"]] = mustInt(d.t, pv["pe_start"])
	}
	var lvs struct {
		Report []struct {
			LV []map[string]string `json:"lv"`
		} `json:"report"`
	}
	d.decodeJSON(d.lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-O", "lv_name,seg_start_pe",
		"-o", "vg_name,lv_name,lv_uuid,lv_size,vg_extent_size,seg_start_pe,seg_pe_ranges"), &lvs)
	out := map[string]*reportedLV{}
	for _, row := range lvs.Report[0].LV {
		key := row["vg_name"] + "/" + row["lv_name"]
		lv := out[key]
		if lv == nil {
			lv = &reportedLV{vg: row["vg_name"], name: row["lv_name"], uuid: row["lv_uuid"], size: mustInt(d.t, row["lv_size"])}
			out[key] = lv
		}
		extent := mustInt(d.t, row["vg_extent_size"])
		for _, r := range strings.Fields(row["seg_pe_ranges"]) { // /dev/loop0:4-6
			dev, pes, _ := strings.Cut(r, ":")
			first, last, _ := strings.Cut(pes, "-")
			p := d.partitionOf(dev)
			lo, hi := mustInt(d.t, first), mustInt(d.t, last)
			lv.ranges = append(lv.ranges, imageRange{offset: p.start + peStart[dev] + lo*extent, length: (hi - lo + 1) * extent})
		}
	}
	return out
}

func (d *lvmDisk) decodeJSON(out string, v any) {
	d.t.Helper()
	// lvm2 prints its warnings on the same stream; the report is the JSON.
	start := strings.Index(out, "{")
	end := strings.LastIndex(out, "}")
	if start < 0 || end < start {
		d.t.Fatalf("no JSON report in %q", out)
	}
	if err := json.Unmarshal([]byte(out[start:end+1]), v); err != nil {
		d.t.Fatalf("lvm2 report: %v\n%s", err, out)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("lvm2 report: %q is not a number", s)
	}
	return n
}

// writeAt writes bytes into the image file.
func (d *lvmDisk) writeAt(p []byte, off int64) {
	d.t.Helper()
	f, err := os.OpenFile(d.path, os.O_WRONLY, 0)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(p, off); err != nil {
		d.t.Fatal(err)
	}
}

// readAt reads bytes of the image file.
func (d *lvmDisk) readAt(n int, off int64) []byte {
	d.t.Helper()
	f, err := os.Open(d.path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	p := make([]byte, n)
	if _, err := f.ReadAt(p, off); err != nil {
		d.t.Fatal(err)
	}
	return p
}
