// Package testlvm runs lvm2's own tools on part of a disk file, for tests
// that make or check LVM fixtures on hosts without device-mapper: logical
// volumes are never activated; lvm2 writes and reports the metadata, and
// the tests read and write each LV's filesystem at its extents in the
// disk file. It needs root (loop devices). Only tests import it.
package testlvm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// config keeps lvm2 off udev, device-mapper and the host's own devices and
// /etc/lvm backups.
const config = `
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" use_devicesfile = 0 }
activation { udev_sync = 0 udev_rules = 0 }
global { activation = 0 }
backup { backup = 0 archive = 0 }
`

// PV is a loop device over the PV partition of a disk file.
type PV struct {
	t      testing.TB
	offset int64 // of the PV in the disk
	loop   string
}

// Extent is where an LV lies in the disk file, in bytes.
type Extent struct{ Offset, Size int64 }

// Attach points lvm2 at a config of its own for the rest of the test and
// attaches a loop device over [offset, offset+size) of disk, detached at
// the end of the test or by Detach.
func Attach(t testing.TB, disk string, offset, size int64) *PV {
	t.Helper()
	testtool.RequireRoot(t)
	testtool.Require(t, "losetup", "pvcreate", "vgcreate", "lvcreate", "lvs", "pvs")
	dir := filepath.Join(t.TempDir(), "lvm")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lvm.conf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LVM_SYSTEM_DIR", dir)
	t.Setenv("LVM_SUPPRESS_FD_WARNINGS", "1")
	pv := &PV{t: t, offset: offset}
	pv.loop = strings.TrimSpace(testtool.Output(t, "losetup", "-f", "--show", "-o", fmt.Sprint(offset), "--sizelimit", fmt.Sprint(size), disk))
	t.Cleanup(pv.Detach)
	return pv
}

// Device is the loop device's path.
func (pv *PV) Device() string { return pv.loop }

// Run runs an lvm2 command that sees only the loop device.
func (pv *PV) Run(cmd string, args ...string) string {
	pv.t.Helper()
	return testtool.CombinedOutput(pv.t, cmd, append([]string{"--devices", pv.loop}, args...)...)
}

// Detach detaches the loop device: the kernel refuses another loop device
// over part of it (an LV's, to mount it) while it is attached.
func (pv *PV) Detach() {
	if pv.loop != "" {
		testtool.Output(pv.t, "losetup", "-d", pv.loop)
		pv.loop = ""
	}
}

// LVs reports each LV of the PV by name, with where it lies in the disk;
// an LV of more than one segment fails the test.
func (pv *PV) LVs() map[string]Extent {
	pv.t.Helper()
	peStart := pv.number(pv.rows("pvs", "pv", "pe_start")[0]["pe_start"])
	out := map[string]Extent{}
	for _, row := range pv.rows("lvs", "lv", "lv_name,lv_size,vg_extent_size,seg_pe_ranges") {
		_, pes, _ := strings.Cut(row["seg_pe_ranges"], ":") // /dev/loop3:8-23
		first, _, _ := strings.Cut(pes, "-")
		if strings.Contains(pes, " ") || first == "" {
			pv.t.Fatalf("LV %s: segments %q, want one", row["lv_name"], row["seg_pe_ranges"])
		}
		out[row["lv_name"]] = Extent{
			Offset: pv.offset + peStart + pv.number(first)*pv.number(row["vg_extent_size"]),
			Size:   pv.number(row["lv_size"]),
		}
	}
	return out
}

func (pv *PV) rows(cmd, kind, fields string) []map[string]string {
	pv.t.Helper()
	out := pv.Run(cmd, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields)
	var rep struct {
		Report []map[string][]map[string]string `json:"report"`
	}
	// lvm2 prints its warnings on the same stream; the report is the JSON.
	start, end := strings.Index(out, "{"), strings.LastIndex(out, "}")
	if start < 0 || end < start {
		pv.t.Fatalf("%s printed no report: %s", cmd, out)
	}
	if err := json.Unmarshal([]byte(out[start:end+1]), &rep); err != nil || len(rep.Report) == 0 || len(rep.Report[0][kind]) == 0 {
		pv.t.Fatalf("%s report: %v: %s", cmd, err, out)
	}
	return rep.Report[0][kind]
}

func (pv *PV) number(s string) int64 {
	pv.t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		pv.t.Fatalf("lvm2 reported %q where a number was due", s)
	}
	return n
}
