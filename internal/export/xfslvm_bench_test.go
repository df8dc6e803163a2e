package export

import (
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// BenchmarkExportXFSOnLVMTestImage exports the test image and its xfs-lvm
// variant (the same Debian tree plus lvm2, xfsprogs and udev, on XFS root
// and home LVs and an XFS /boot) in the same run, each in a child process:
// the wall and CPU ratios say what reading XFS through LVM, three
// filesystems assembled by fstab, costs against one ext4 partition.
// Target: peak RSS <= 256 MiB.
func BenchmarkExportXFSOnLVMTestImage(b *testing.B) {
	ext4, xfsLVM := testimage.Path(b), testimage.PathOf(b, testimage.XFSOnLVM)
	for range b.N {
		base := exportInChild(b, ext4, tarball.DefaultCompressionLevel)
		ours := exportInChild(b, xfsLVM, tarball.DefaultCompressionLevel)
		b.ReportMetric(ours.wall.Seconds()/base.wall.Seconds(), "wall-ratio")
		b.ReportMetric(ours.cpu.Seconds()/base.cpu.Seconds(), "cpu-ratio")
		b.ReportMetric(ours.wall.Seconds(), "xfs-lvm-s")
		b.ReportMetric(base.wall.Seconds(), "ext4-s")
		b.ReportMetric(ours.cpu.Seconds(), "xfs-lvm-cpu-s")
		b.ReportMetric(base.cpu.Seconds(), "ext4-cpu-s")
		b.ReportMetric(float64(ours.size)/mebi, "xfs-lvm-MiB")
		b.ReportMetric(float64(base.size)/mebi, "ext4-MiB")
		b.ReportMetric(float64(ours.peakRSS)/mebi, "xfs-lvm-peak-RSS-MiB")
		b.ReportMetric(float64(base.peakRSS)/mebi, "ext4-peak-RSS-MiB")
	}
}
