package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
	"github.com/c34478be/packer-plugin-maas/internal/test/testlvm"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// partitionExtent reads where partition n of a raw GPT disk lies, in bytes.
func partitionExtent(t *testing.T, raw string, n int) (offset, size int64) {
	t.Helper()
	info := sh(t, "sgdisk", "-i", strconv.Itoa(n), raw)
	sector := func(what string) int64 {
		m := regexp.MustCompile(what + ` sector: (\d+)`).FindStringSubmatch(info)
		require.NotNil(t, m, "sgdisk found no partition %d in %s: %s", n, raw, info)
		s, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		return s
	}
	first, last := sector("First"), sector("Last")
	return first * 512, (last - first + 1) * 512
}

// mountXFSOnLVM mounts the xfs-lvm test image's (raw) root LV, /boot
// partition and home LV read-only, one inside the other, as the booted
// system sees them: the kernel's own XFS driver is the oracle. There is
// no device-mapper here: lvm2 says where the LVs lie, and each is
// loop-mounted at its extents.
func mountXFSOnLVM(t *testing.T, raw string) string {
	t.Helper()
	bootOffset, bootSize := partitionExtent(t, raw, 1)
	pvOffset, pvSize := partitionExtent(t, raw, 2)
	pv := testlvm.Attach(t, raw, pvOffset, pvSize)
	lvs := pv.LVs()
	pv.Detach()
	mnt := t.TempDir()
	for _, m := range []struct {
		at           string
		offset, size int64
	}{
		{mnt, lvs["root"].Offset, lvs["root"].Size},
		{filepath.Join(mnt, "boot"), bootOffset, bootSize},
		{filepath.Join(mnt, "home"), lvs["home"].Offset, lvs["home"].Size},
	} {
		sh(t, "mount", "-t", "xfs", "-o", fmt.Sprintf("loop,ro,offset=%d,sizelimit=%d", m.offset, m.size), raw, m.at)
		t.Cleanup(func() { sh(t, "umount", m.at) })
	}
	return mnt
}

// TestExportXFSOnLVMThroughStockPacker: the file builder hands the
// xfs-lvm test image to maas-export, which finds the root on its LV,
// mounts /boot and /home as its fstab says (and leaves swap out, saying
// so); curtin's tar command restores exactly the tree the kernel shows
// with the three XFS filesystems mounted, generalized.
func TestExportXFSOnLVMThroughStockPacker(t *testing.T) {
	image := testimage.PathOf(t, testimage.XFSOnLVM)
	raw := filepath.Join(t.TempDir(), "disk.raw")
	sh(t, "qemu-img", "convert", "-O", "raw", image, raw)
	env := newExportEnv(t, "testdata/export.pkr.hcl")
	build := env.MustRun("build", "-var", "image="+image, ".")

	out := build.Output
	assert.Contains(t, out, "root filesystem: logical volume testvg/root")
	assert.Contains(t, out, "mounting /boot: partition 1")
	assert.Contains(t, out, "mounting /home: logical volume testvg/home")
	assert.Regexp(t, `/dev/mapper/testvg-swap none swap .*left out \(swap\)`, out)
	assert.Contains(t, out, "amd64/generic")

	target := extractAsCurtin(t, filepath.Join(env.Dir, "image.tar.gz"))
	want := generalized(withoutSGIACLs(testtree.Snapshot(t, mountXFSOnLVM(t, raw))))
	got := testtree.Snapshot(t, target)
	assert.Greater(t, len(want), 10000, "the image's root should hold thousands of files")
	assert.Contains(t, want, "home/"+testimage.HomeFile, "the oracle sees /home's file")
	assert.NotEmpty(t, bootKernels(t, target), "the kernel in the /boot partition is packed under ./boot")
	assert.NotEmpty(t, want["var/log/journal"].Xattrs, "the oracle sees journald's ACLs")
	testtree.AssertSame(t, want, got, ".")
	assertFileContent(t, target, "home/"+testimage.HomeFile, testimage.HomeFileContents)
}

// withoutSGIACLs is the kernel's view of XFS as a tarball must give it
// back: XFS shows POSIX ACLs (journald's on /var/log/journal) also as
// trusted.SGI_ACL_* attributes, which the export turns into
// system.posix_acl_* and never writes.
func withoutSGIACLs(tree testtree.Tree) testtree.Tree {
	for p, e := range tree {
		var kept []string
		for _, x := range strings.Split(e.Xattrs, ";") {
			if x != "" && !strings.HasPrefix(x, "trusted.SGI_ACL_") {
				kept = append(kept, x)
			}
		}
		e.Xattrs = strings.Join(kept, ";")
		tree[p] = e
	}
	return tree
}

// bootKernels lists the kernels in an extracted image's /boot.
func bootKernels(t *testing.T, root string) []string {
	t.Helper()
	kernels, err := filepath.Glob(filepath.Join(root, "boot/vmlinuz-*"))
	require.NoError(t, err)
	return kernels
}

// TestRootfsTwoLayoutsInOneBuild: one packer build runs maas-rootfs on
// the default test image and on its xfs-lvm variant at once (two TCG
// guests, each on its own port and output directory). Each guest boots
// from its layout (the variant with its LVs active: root and home from
// testvg, swap on), is provisioned, generalized and exported; each
// tarball holds the provisioner's marker, its /boot's kernel, and for the
// variant /home's file; no QEMU is left.
func TestRootfsTwoLayoutsInOneBuild(t *testing.T) {
	vars := []string{
		"-var", "image=" + testimage.Path(t), "-var", "checksum=sha256:" + testimage.SHA256(t),
		"-var", "xfs_lvm_image=" + testimage.PathOf(t, testimage.XFSOnLVM),
		"-var", "xfs_lvm_checksum=sha256:" + testimage.SHA256Of(t, testimage.XFSOnLVM),
	}
	env := packertest.New(t, "testdata/rootfs-two-layouts.pkr.hcl")
	env.MustRun("init", ".")
	started := time.Now()
	build := env.MustRun(append([]string{"build"}, append(vars, ".")...)...)
	t.Logf("two builds in one packer build: %s", time.Since(started).Round(time.Second))

	out := build.Output
	assert.Regexp(t, `maas-rootfs\.xfslvm: .*root filesystem: logical volume testvg/root`, out)
	assert.Regexp(t, `maas-rootfs\.xfslvm: mounting /home: logical volume testvg/home`, out)
	assert.Regexp(t, `maas-rootfs\.ext4: .*root filesystem: partition 1`, out)
	for _, phases := range regexp.MustCompile(`(?s)Time spent:.*?total[^\n]*`).FindAllString(out, -1) {
		t.Log("phases:\n" + phases)
	}
	ports := regexp.MustCompile(`127\.0\.0\.1:(\d+)`).FindAllStringSubmatch(out, -1)
	seen := map[string]bool{}
	for _, p := range ports {
		seen[p[1]] = true
	}
	assert.GreaterOrEqual(t, len(seen), 2, "each guest on its own port")

	for _, tc := range []struct {
		name   string
		mounts []string
	}{
		{"ext4", []string{"/ /dev/vda1 ext4"}},
		{"xfslvm", []string{"/ /dev/mapper/testvg-root xfs", "/boot /dev/vda1 xfs", "/home /dev/mapper/testvg-home xfs", "swap /dev/dm-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			output := filepath.Join(env.Dir, "output-"+tc.name)
			entries, err := os.ReadDir(output)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			image := tc.name + ".tar.gz"
			assert.ElementsMatch(t, []string{image, image + ".manifest", image + ".spdx.json", image + ".sha256", image + ".changes", "console.log"}, names,
				"each build's own files, in its own output directory")
			assert.Empty(t, processesMentioning(t, output), "a process (QEMU?) still uses the output directory")

			root := extractAsCurtin(t, filepath.Join(output, tc.name+".tar.gz"))
			assertFileContent(t, root, "etc/e2e-marker", "provisioned by packer-maas\n")
			assertGeneralized(t, root)
			assert.NotEmpty(t, bootKernels(t, root), "the kernel is in ./boot")
			raw, err := os.ReadFile(filepath.Join(root, "etc/e2e-mounts"))
			require.NoError(t, err)
			// findmnt pads its columns.
			var mounts []string
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				mounts = append(mounts, strings.Join(strings.Fields(line), " "))
			}
			for i, m := range tc.mounts {
				if assert.Less(t, i, len(mounts), "what the guest mounted: %q", mounts) {
					assert.True(t, strings.HasPrefix(mounts[i], m), "the guest mounted %q, want %q", mounts[i], m)
				}
			}
			assert.Len(t, mounts, len(tc.mounts), "what the guest mounted: %q", mounts)
			if tc.name == "xfslvm" {
				assertFileContent(t, root, "home/"+testimage.HomeFile, testimage.HomeFileContents)
			}
		})
	}
}
