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

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// xfsMiB is the smallest filesystem mkfs.xfs makes.
const xfsMiB = 301

// mkxfs formats a partition with mkfs.xfs and fills it with tree through
// the kernel (a loop mount, as root): mkfs.xfs has no offset option, so
// the filesystem is made in a file and copied in.
func mkxfs(tree, label, uuid string) func(t *testing.T, disk string, offset, size int64) {
	return func(t *testing.T, disk string, offset, size int64) {
		testtool.RequireRoot(t)
		fs := filepath.Join(t.TempDir(), "xfs.img")
		run(t, "truncate", "-s", fmt.Sprint(size), fs)
		run(t, "mkfs.xfs", "-q", "-L", label, "-m", "uuid="+uuid, fs)
		mnt := t.TempDir()
		run(t, "mount", "-o", "loop", fs, mnt)
		mounted := true
		defer func() {
			if mounted {
				run(t, "umount", mnt)
			}
		}()
		run(t, "cp", "-a", tree+"/.", mnt)
		run(t, "umount", mnt)
		mounted = false
		run(t, "dd", "if="+fs, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", offset/mib), "conv=notrunc,sparse", "status=none")
	}
}

const xfsRootUUID = "3e6f1b2a-8c4d-4a5e-9f7b-0c1d2e3f4a5b"

// TestExportRHELLikeXFSRootAndBoot: the RHEL layout, an XFS /boot and an
// XFS root whose /etc/fstab mounts /boot by UUID, exports as a tarball
// that curtin's tar extracts with /boot's files under ./boot; a ddgz
// export of the same disk reads the architecture from the XFS root.
func TestExportRHELLikeXFSRootAndBoot(t *testing.T) {
	fstabText := strings.Join([]string{
		"UUID=" + xfsRootUUID + " / xfs defaults 0 0",
		"UUID=" + bootUUID + " /boot xfs defaults 0 0",
		"UUID=7B77-95E7 /boot/efi vfat umask=0077,shortname=winnt 0 2",
	}, "\n") + "\n"
	disk := gptDisk(t,
		partSpec{num: 1, sizeMiB: 40, typ: "ef00", name: "EFI System Partition", mkfs: vfatESP},
		partSpec{num: 2, sizeMiB: xfsMiB + 1, typ: "8300", name: "bootpart", mkfs: mkxfs(bootTree(t), "boot", bootUUID)},
		partSpec{num: 3, sizeMiB: xfsMiB + 1, typ: "8300", name: "rootpart", mkfs: mkxfs(rhelLikeRoot(t, fstabText), "", xfsRootUUID)},
	)
	res, output, err := exportTGZ(t, disk, Options{})
	require.NoError(t, err)
	assert.Equal(t, "xfs", res.Root.Filesystem)
	require.NotNil(t, res.Boot)
	assert.Equal(t, bootUUID, res.Boot.FSUUID)
	assert.Equal(t, "xfs", res.Boot.Filesystem)
	assert.Equal(t, "rhel/9", res.BaseImage)
	assert.Equal(t, "amd64/generic", res.Architecture)

	got := extractLikeCurtin(t, output)
	kernel, err := os.ReadFile(filepath.Join(got, "boot", kernelName))
	require.NoError(t, err, "the XFS /boot fstab names must be packed under ./boot")
	assert.Equal(t, "kernel image", string(kernel))
	assert.FileExists(t, filepath.Join(got, "boot/loader/entries/test.conf"))
	hello, err := os.ReadFile(filepath.Join(got, "home/ubuntu/hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello from the build\n", string(hello))

	ddgz, err := Run(context.Background(), Options{Input: disk, Output: filepath.Join(t.TempDir(), "disk.dd.gz"), Filetype: FiletypeDDGZ})
	require.NoError(t, err)
	assert.Equal(t, "amd64/generic", ddgz.Architecture, "read from the XFS root's programs")
}

// xfsOracle is the kernel's view of an XFS filesystem as a tarball must
// give it back: XFS shows POSIX ACLs also as trusted.SGI_ACL_* attributes,
// which the export turns into system.posix_acl_* and never writes.
func xfsOracle(t *testing.T, mnt string) testtree.Tree {
	tree := testtree.Snapshot(t, mnt)
	for name, e := range tree {
		var kept []string
		for _, x := range strings.Split(e.Xattrs, ";") {
			if x != "" && !strings.HasPrefix(x, "trusted.SGI_ACL_") {
				kept = append(kept, x)
			}
		}
		e.Xattrs = strings.Join(kept, ";")
		tree[name] = e
	}
	return tree
}

// TestExportXFSDirtyLogSaysWhatToDo: an XFS root shut down with changes
// only in its log (as a crash leaves it) fails the export with the
// reader's error, which says how to get a clean filesystem, and leaves no
// output: whether the root is found by its partition type or only by
// its /etc/os-release, which the dirty log keeps from being read.
func TestExportXFSDirtyLogSaysWhatToDo(t *testing.T) {
	testtool.RequireRoot(t)
	testtool.Require(t, "xfs_io")
	tree := ubuntuLikeTree(t)
	for _, tc := range []struct{ name, typ, partName string }{
		{"root partition type", "8304", "root"},
		{"found by os-release", "8300", "linux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := gptDisk(t, partSpec{num: 1, sizeMiB: xfsMiB + 1, typ: tc.typ, name: tc.partName,
				mkfs: func(t *testing.T, disk string, offset, size int64) {
					fs := filepath.Join(t.TempDir(), "xfs.img")
					run(t, "truncate", "-s", fmt.Sprint(size), fs)
					run(t, "mkfs.xfs", "-q", fs)
					mnt := t.TempDir()
					run(t, "mount", "-o", "loop", fs, mnt)
					run(t, "cp", "-a", tree+"/.", mnt)
					run(t, "xfs_io", "-x", "-c", "shutdown -f", mnt)
					run(t, "umount", mnt)
					run(t, "dd", "if="+fs, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", offset/mib), "conv=notrunc,sparse", "status=none")
				}})
			dir := t.TempDir()
			_, err := Run(context.Background(), Options{Input: disk, Output: filepath.Join(dir, "out.tar.gz")})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "the log holds changes not yet written to the filesystem")
			assert.Contains(t, err.Error(), "shut the VM down cleanly")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "a failed export must leave nothing behind")
		})
	}
}
