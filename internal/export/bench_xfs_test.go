package export

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// partitionSpan is where partition n of a raw GPT disk lies, in bytes.
func partitionSpan(b *testing.B, raw string, n int) (start, size int64) {
	info := run(b, "sgdisk", "-i", strconv.Itoa(n), raw)
	first := regexp.MustCompile(`First sector: (\d+)`).FindStringSubmatch(info)
	last := regexp.MustCompile(`Last sector: (\d+)`).FindStringSubmatch(info)
	if first == nil || last == nil {
		b.Fatalf("sgdisk -i %d %s: %s", n, raw, info)
	}
	f, _ := strconv.ParseInt(first[1], 10, 64)
	l, _ := strconv.ParseInt(last[1], 10, 64)
	return f * 512, (l - f + 1) * 512
}

// benchXFSRootUUID is the UUID of the XFS root the benchmark makes, which
// its fstab names as a RHEL image's does.
const benchXFSRootUUID = "5b0e7c1d-2f3a-4b4c-8d5e-6f708192a3b4"

// withRootAs copies the raw disk and replaces its root filesystem (at
// start, size bytes) by a fresh one of fsType holding tree, copied by the
// kernel (cp -a through a loop mount), and returns the copy as qcow2.
func withRootAs(b *testing.B, raw string, start, size int64, tree, fsType string) string {
	disk := filepath.Join(b.TempDir(), fsType+".raw")
	run(b, "cp", "--sparse=always", raw, disk)
	fs := filepath.Join(b.TempDir(), fsType+".img")
	run(b, "truncate", "-s", strconv.FormatInt(size, 10), fs)
	if fsType == "xfs" {
		run(b, "mkfs.xfs", "-q", "-f", "-m", "uuid="+benchXFSRootUUID, fs)
	} else {
		run(b, "mkfs.ext4", "-q", "-F", "-L", "cloudimg-rootfs", fs)
	}
	mnt, unmount := loopMount(b, fs)
	run(b, "cp", "-a", tree+"/.", mnt)
	if fsType == "xfs" { // an XFS label holds 12 bytes, not cloudimg-rootfs
		fstab := "UUID=" + benchXFSRootUUID + " / xfs defaults 0 0\nLABEL=UEFI /boot/efi vfat umask=0077,nofail 0 1\n"
		if err := os.WriteFile(filepath.Join(mnt, "etc/fstab"), []byte(fstab), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	unmount()
	run(b, "dd", "if="+fs, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", start/mib), "conv=notrunc,sparse", "status=none")
	return toQcow2(b, disk)
}

// BenchmarkExportXFSvsExt4 exports the test image's root tree from an XFS
// and from an ext4 root of the same size, each filled by the kernel, on
// otherwise equal uncompressed qcow2 disks, in the same run. Targets:
// XFS wall time <= 1.2x ext4's, peak RSS < 256 MiB each.
func BenchmarkExportXFSvsExt4(b *testing.B) {
	testtool.RequireRoot(b)
	raw := filepath.Join(b.TempDir(), "disk.raw")
	run(b, "qemu-img", "convert", "-O", "raw", testimage.Path(b), raw)
	start, size := partitionSpan(b, raw, 1)
	if start%mib != 0 {
		b.Fatalf("the test image's root starts at byte %d, not on a MiB", start)
	}
	tree, unmount := loopMount(b, raw, "ro", fmt.Sprintf("offset=%d", start), fmt.Sprintf("sizelimit=%d", size))
	ext4 := withRootAs(b, raw, start, size, tree, "ext4")
	xfs := withRootAs(b, raw, start, size, tree, "xfs")
	unmount()
	// Flush the new disks so that writeback does not slow whichever
	// export runs first.
	run(b, "sync")
	for range b.N {
		ext4Run, xfsRun := bestOfTwoInterleaved(b, ext4, xfs)
		b.ReportMetric(xfsRun.wall.Seconds()/ext4Run.wall.Seconds(), "xfs/ext4-wall-ratio")
		b.ReportMetric(xfsRun.cpu.Seconds()/ext4Run.cpu.Seconds(), "xfs/ext4-cpu-ratio")
		b.ReportMetric(ext4Run.wall.Seconds(), "ext4-s")
		b.ReportMetric(xfsRun.wall.Seconds(), "xfs-s")
		b.ReportMetric(ext4Run.cpu.Seconds(), "ext4-cpu-s")
		b.ReportMetric(xfsRun.cpu.Seconds(), "xfs-cpu-s")
		b.ReportMetric(float64(ext4Run.peakRSS)/mebi, "ext4-peak-RSS-MiB")
		b.ReportMetric(float64(xfsRun.peakRSS)/mebi, "xfs-peak-RSS-MiB")
		b.ReportMetric(float64(xfsRun.size)/float64(ext4Run.size), "xfs/ext4-size-ratio")
	}
}
