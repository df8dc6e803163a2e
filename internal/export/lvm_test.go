package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testlvm"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// Identities of the filesystems on the anaconda-like disk's LVs.
const (
	lvRootUUID = "5a0c3e1f-7b2d-4e6a-9c8b-1d0e2f3a4b6c"
	lvHomeUUID = "8e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5d"
)

// lvmFS is the filesystem an anaconda-like LVM disk puts on /boot, root
// and home, and the sizes it needs (XFS cannot be smaller than 301 MiB).
type lvmFS struct {
	name      string
	mkfs      func(tree, label, uuid string) func(t *testing.T, disk string, offset, size int64)
	fsckPass  bool // anaconda writes fsck passes 1 and 2 for ext4, 0 for XFS
	bootMiB   int64
	rootMiB   int64
	homeMiB   int64
	toolNames []string
}

var (
	lvmExt4 = lvmFS{name: "ext4", mkfs: mkext4, fsckPass: true, bootMiB: 16, rootMiB: 32, homeMiB: 16, toolNames: []string{"mkfs.ext4"}}
	lvmXFS  = lvmFS{name: "xfs", mkfs: mkxfs, bootMiB: xfsMiB + 1, rootMiB: xfsMiB + 3, homeMiB: xfsMiB + 3, toolNames: []string{"mkfs.xfs", "mount", "umount"}}
)

// fstab is the root's /etc/fstab as anaconda writes it for this layout.
func (fs lvmFS) fstab() string {
	root, other := " 0 0", " 0 0"
	if fs.fsckPass {
		root, other = " 1 1", " 1 2"
	}
	return "# /etc/fstab, created by anaconda\n" +
		"/dev/mapper/vg-root / " + fs.name + " defaults" + root + "\n" +
		"UUID=" + bootUUID + " /boot " + fs.name + " defaults" + other + "\n" +
		"/dev/mapper/vg-home /home " + fs.name + " defaults" + other + "\n" +
		"/dev/mapper/vg-swap none swap defaults 0 0\n"
}

// lvmDisk is an anaconda-like disk and where each of its filesystems
// lies, by name (boot, root, home).
type lvmDisk struct {
	path   string
	extent map[string]testlvm.Extent
}

// rockyHome is a /home with one user's file.
func rockyHome(t *testing.T) string {
	home := filepath.Join(t.TempDir(), "home")
	writeFile(t, filepath.Join(home, "rocky/.bashrc"), "# home on an LV\n", 0o644)
	return home
}

// anacondaLVMDisk is the layout anaconda's LVM autopart writes: a GPT
// /boot partition and a PV partition whose group vg holds root, home
// (holding the tree home) and swap, the root's fstab naming them as
// anaconda does, all of filesystem fs. lvm2 makes the PV, group and LVs
// (testlvm: without activation, there is no device-mapper here); each
// filesystem is made in a file and written at its LV's extents.
func anacondaLVMDisk(t *testing.T, fs lvmFS, home string) lvmDisk {
	testtool.Require(t, append([]string{"sgdisk", "mkswap", "dd"}, fs.toolNames...)...)
	dir := t.TempDir()
	// /boot from 1 MiB, the PV after it (room for its metadata, swap,
	// home and root), 1 MiB for the backup GPT.
	d := lvmDisk{path: filepath.Join(dir, "disk.raw"), extent: map[string]testlvm.Extent{}}
	pvStart, pvSize := (1+fs.bootMiB)*mib, (24+8+fs.homeMiB+fs.rootMiB)*mib
	run(t, "truncate", "-s", fmt.Sprint(pvStart+pvSize+mib), d.path)
	run(t, "sgdisk", fmt.Sprintf("-n1:2048:%d", pvStart/512-1), "-t1:8300",
		fmt.Sprintf("-n2:%d:%d", pvStart/512, (pvStart+pvSize)/512-1), "-t2:8e00", d.path)
	d.extent["boot"] = testlvm.Extent{Offset: mib, Size: fs.bootMiB * mib}
	fs.mkfs(bootTree(t), "boot", bootUUID)(t, d.path, mib, fs.bootMiB*mib)

	pv := testlvm.Attach(t, d.path, pvStart, pvSize)
	pv.Run("pvcreate", pv.Device())
	pv.Run("vgcreate", "-s", "1M", "vg", pv.Device())
	for _, lv := range []struct {
		name string
		mib  int64
	}{{"swap", 8}, {"home", fs.homeMiB}, {"root", fs.rootMiB}} {
		pv.Run("lvcreate", "-an", "-Zn", "-L", fmt.Sprintf("%dM", lv.mib), "-n", lv.name, "vg")
	}
	lvs := pv.LVs()
	pv.Detach()

	root := rhelLikeRoot(t, fs.fstab())
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home"), 0o755))
	trees := map[string]struct{ tree, uuid string }{"root": {root, lvRootUUID}, "home": {home, lvHomeUUID}}
	for name, lv := range lvs {
		img := filepath.Join(dir, name+".img")
		if name == "swap" {
			run(t, "truncate", "-s", fmt.Sprint(lv.Size), img)
			run(t, "mkswap", img)
		} else {
			fs.mkfs(trees[name].tree, "", trees[name].uuid)(t, img, 0, lv.Size)
		}
		d.extent[name] = lv
		// All of it, zeros too, as a disk written through the LV holds it.
		run(t, "dd", "if="+img, "of="+d.path, "bs=1M", "seek="+fmt.Sprint(lv.Offset), "oflag=seek_bytes", "conv=notrunc", "status=none")
	}
	return d
}

// TestExportReadsRootAndHomeOnLVM: the root on an LV is found (by its
// os-release, and by root_partition = "vg/root"), its fstab's
// /dev/mapper names and UUID= resolve to the LVs and the /boot partition,
// and GNU tar, extracting as curtin does, yields /boot's and /home's files
// in place; progress counts what the LVs' extents hold.
func TestExportReadsRootAndHomeOnLVM(t *testing.T) {
	disk := anacondaLVMDisk(t, lvmExt4, rockyHome(t)).path
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

// mountTree mounts the disk's root, /boot and /home read-only through the
// kernel (loop devices at their extents), one inside the other, as the
// booted system would see them, and returns where.
func (d lvmDisk) mountTree(t *testing.T) string {
	mnt := t.TempDir()
	for _, m := range []struct{ fs, at string }{{"root", mnt}, {"boot", filepath.Join(mnt, "boot")}, {"home", filepath.Join(mnt, "home")}} {
		e := d.extent[m.fs]
		run(t, "mount", "-o", fmt.Sprintf("loop,ro,offset=%d,sizelimit=%d", e.Offset, e.Size), d.path, m.at)
		t.Cleanup(func() { run(t, "umount", m.at) })
	}
	return mnt
}

// xfsHomeTree is testtree's metadata tree with the device minor XFS
// cannot hold replaced by the largest it can.
func xfsHomeTree(t *testing.T) string {
	tree := testtree.MetadataTree(t, true)
	require.NoError(t, os.Remove(filepath.Join(tree, "dev/bigminor")))
	require.NoError(t, unix.Mknod(filepath.Join(tree, "dev/bigminor"), unix.S_IFCHR|0o600, int(unix.Mkdev(259, 262143))))
	return tree
}

// TestExportXFSOnLVMEqualsTheMountedTree: the RHEL-family layout (an XFS
// /boot partition; XFS root and home and a swap LV in one LVM group, the
// fstab as anaconda writes it), with every attribute kind in /home,
// exports (root found by os-release and by root_partition = "vg/root")
// as a tarball that curtin's tar extracts into exactly what the kernel
// shows with the three filesystems mounted: /boot and /home in place,
// no swap.
func TestExportXFSOnLVMEqualsTheMountedTree(t *testing.T) {
	home := rockyHome(t)
	require.NoError(t, os.Rename(xfsHomeTree(t), filepath.Join(home, "meta")))
	disk := anacondaLVMDisk(t, lvmXFS, home)
	want := xfsOracle(t, disk.mountTree(t))
	for _, rootPartition := range []string{"", "vg/root"} {
		t.Run("root_partition="+rootPartition, func(t *testing.T) {
			output := filepath.Join(t.TempDir(), "root.tar.gz")
			var log []string
			res, err := Run(context.Background(), Options{
				Input: disk.path, Output: output, RootPartition: rootPartition, CompressionLevel: 1,
				Tar: tarball.Options{Generalize: tarball.Generalize{}},
				Log: func(format string, args ...any) { log = append(log, fmt.Sprintf(format, args...)) },
			})
			require.NoError(t, err)
			t.Log(strings.Join(log, "\n"))
			assert.Equal(t, fmt.Sprintf("logical volume vg/root, %d.0 MiB, xfs", lvmXFS.rootMiB), res.Root.Describe())
			mounts := map[string]string{}
			for _, m := range res.Mounts {
				mounts[m.Point] = m.Volume.Title() + " " + m.Volume.Filesystem + " " + m.Volume.FSUUID
			}
			assert.Equal(t, map[string]string{
				"/boot": "partition 1 xfs " + bootUUID,
				"/home": "logical volume vg/home xfs " + lvHomeUUID,
			}, mounts)
			assert.Equal(t, "rhel/9", res.BaseImage)
			assert.Equal(t, "amd64/generic", res.Architecture, "read from the XFS root's programs")

			got := testtree.Snapshot(t, extractLikeCurtin(t, output))
			// Sockets are not archived (as GNU tar does); the target
			// directory's own mtime is the extraction's.
			testtree.AssertSame(t, want, got, "home/meta/dev/sock", ".")
			assert.Equal(t, want["."].Mode, got["."].Mode)
			assert.Contains(t, got, "boot/"+kernelName)
			assert.Contains(t, got, "home/rocky/.bashrc")
		})
	}
}
