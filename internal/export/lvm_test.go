package export

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// anacondaLVMDisk is the layout anaconda's LVM autopart writes (with ext4
// where it would put XFS): a GPT /boot partition and a PV partition whose
// group vg holds root, home and swap, the root's fstab naming them as
// anaconda does. lvm2 makes the PV, group and LVs on a loop device of the
// PV partition, without activation (there is no device-mapper here); each
// filesystem is made in a file and written at its LV's extents.
func anacondaLVMDisk(t *testing.T) string {
	testtool.RequireRoot(t)
	testtool.Require(t, "pvcreate", "vgcreate", "lvcreate", "lvs", "pvs", "losetup", "sgdisk", "mkfs.ext4", "mkswap")
	dir := t.TempDir()
	conf := filepath.Join(dir, "lvm")
	require.NoError(t, os.Mkdir(conf, 0o755))
	writeFile(t, filepath.Join(conf, "lvm.conf"), `
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" use_devicesfile = 0 }
activation { udev_sync = 0 udev_rules = 0 }
global { activation = 0 }
backup { backup = 0 archive = 0 }
`, 0o644)
	t.Setenv("LVM_SYSTEM_DIR", conf)
	t.Setenv("LVM_SUPPRESS_FD_WARNINGS", "1")

	disk := filepath.Join(dir, "disk.raw")
	const pvStart, pvSize = 17 * mib, 80 * mib
	run(t, "truncate", "-s", "98M", disk)
	run(t, "sgdisk", "-n1:2048:34815", "-t1:8300", "-n2:34816:198655", "-t2:8e00", disk)
	mkext4(bootTree(t), "boot", bootUUID)(t, disk, 1*mib, 16*mib)
	loop := strings.TrimSpace(testtool.Output(t, "losetup", "-f", "--show", "-o", fmt.Sprint(pvStart), "--sizelimit", fmt.Sprint(pvSize), disk))
	t.Cleanup(func() { testtool.Output(t, "losetup", "-d", loop) })
	lvm := func(cmd string, args ...string) string {
		return testtool.CombinedOutput(t, cmd, append([]string{"--devices", loop}, args...)...)
	}
	lvm("pvcreate", loop)
	lvm("vgcreate", "-s", "1M", "vg", loop)
	for _, lv := range []struct{ name, size string }{{"swap", "8M"}, {"home", "16M"}, {"root", "32M"}} {
		lvm("lvcreate", "-an", "-Zn", "-L", lv.size, "-n", lv.name, "vg")
	}
	peStart := mustAtoi(t, jsonRows(t, lvm("pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pe_start"), "pv")[0]["pe_start"])
	fstabText := "# /etc/fstab, created by anaconda\n" +
		"/dev/mapper/vg-root / ext4 defaults 1 1\n" +
		"UUID=" + bootUUID + " /boot ext4 defaults 1 2\n" +
		"/dev/mapper/vg-home /home ext4 defaults 1 2\n" +
		"/dev/mapper/vg-swap none swap defaults 0 0\n"
	root := rhelLikeRoot(t, fstabText)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home"), 0o755))
	home := filepath.Join(t.TempDir(), "home")
	writeFile(t, filepath.Join(home, "rocky/.bashrc"), "# home on an LV\n", 0o644)
	trees := map[string]string{"root": root, "home": home}
	for _, row := range jsonRows(t, lvm("lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size,seg_pe_ranges"), "lv") {
		name, size := row["lv_name"], mustAtoi(t, row["lv_size"])
		img := filepath.Join(dir, name+".img")
		if name == "swap" {
			run(t, "truncate", "-s", fmt.Sprint(size), img)
			run(t, "mkswap", img)
		} else {
			mkext4(trees[name], "", "")(t, img, 0, size)
		}
		_, pes, _ := strings.Cut(row["seg_pe_ranges"], ":") // /dev/loop3:8-23: one segment
		first, _, _ := strings.Cut(pes, "-")
		content, err := os.ReadFile(img)
		require.NoError(t, err)
		writeFileAt(t, disk, content, pvStart+peStart+mustAtoi(t, first)*mib)
	}
	return disk
}

func jsonRows(t *testing.T, out, kind string) []map[string]string {
	var rep struct {
		Report []map[string][]map[string]string `json:"report"`
	}
	// lvm2 prints its warnings on the same stream; the report is the JSON.
	out = out[strings.Index(out, "{") : strings.LastIndex(out, "}")+1]
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	return rep.Report[0][kind]
}

func mustAtoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}

func writeFileAt(t *testing.T, path string, p []byte, off int64) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(p, off)
	require.NoError(t, err)
}

// TestExportReadsRootAndHomeOnLVM: the root on an LV is found (by its
// os-release, and by root_partition = "vg/root"), its fstab's
// /dev/mapper names and UUID= resolve to the LVs and the /boot partition,
// and GNU tar, extracting as curtin does, yields /boot's and /home's files
// in place; progress counts what the LVs' extents hold.
func TestExportReadsRootAndHomeOnLVM(t *testing.T) {
	disk := anacondaLVMDisk(t)
	for _, rootPartition := range []string{"", "vg/root"} {
		t.Run("root_partition="+rootPartition, func(t *testing.T) {
			var estimate, read int64
			res, output, err := exportTGZ(t, disk, Options{RootPartition: rootPartition, Progress: func(total int64) func(int64) {
				estimate = total
				return func(n int64) { read += n }
			}})
			require.NoError(t, err)
			assert.Equal(t, "logical volume vg/root, 32.0 MiB, ext4", res.Root.Describe())
			mounts := map[string]string{}
			for _, m := range res.Mounts {
				mounts[m.Point] = m.Volume.Title()
			}
			assert.Equal(t, map[string]string{"/boot": "partition 1", "/home": "logical volume vg/home"}, mounts)
			t.Logf("progress: estimate %d, read %d", estimate, read)
			assert.Greater(t, estimate, int64(32*mib), "the estimate covers the root LV's extents, /home's and /boot")
			assert.LessOrEqual(t, estimate, int64(64*mib), "no more than the two LVs and /boot: not the whole PV")

			got := extractLikeCurtin(t, output)
			kernel, err := os.ReadFile(filepath.Join(got, "boot", kernelName))
			require.NoError(t, err)
			assert.Equal(t, "kernel image", string(kernel))
			bashrc, err := os.ReadFile(filepath.Join(got, "home/rocky/.bashrc"))
			require.NoError(t, err)
			assert.Equal(t, "# home on an LV\n", string(bashrc))
			assert.FileExists(t, filepath.Join(got, "usr/lib/os-release"))
		})
	}
}
