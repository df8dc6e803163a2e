package export

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// BenchmarkExportSidecars exports the test image (uncompressed qcow2, as
// the stock qemu builder leaves it) as a tgz with and without the
// manifest, SBOM and checksum file, interleaved, best of three each, in
// child processes. Target: sidecar-ratio (wall) <= 1.05.
func BenchmarkExportSidecars(b *testing.B) {
	disk := filepath.Join(b.TempDir(), "disk.qcow2")
	run(b, "qemu-img", "convert", "-O", "qcow2", testimage.Path(b), disk)
	run(b, "sync")
	for range b.N {
		var without, with measured
		for i := range 3 {
			plain := sidecarExportInChild(b, disk, Sidecars{})
			full := sidecarExportInChild(b, disk, Sidecars{Manifest: true, SBOM: true, Checksum: true, Tool: "bench"})
			if i == 0 || plain.wall < without.wall {
				without = plain
			}
			if i == 0 || full.wall < with.wall {
				with = full
			}
		}
		b.ReportMetric(with.wall.Seconds()/without.wall.Seconds(), "sidecar-ratio")
		b.ReportMetric(with.cpu.Seconds()/without.cpu.Seconds(), "sidecar-cpu-ratio")
		b.ReportMetric(without.wall.Seconds(), "without-s")
		b.ReportMetric(with.wall.Seconds(), "with-s")
		b.ReportMetric(float64(with.peakRSS)/mebi, "with-peak-RSS-MiB")
	}
}

func sidecarExportInChild(b *testing.B, input string, sidecars Sidecars) measured {
	b.Helper()
	output := filepath.Join(b.TempDir(), "img.tar.gz")
	job, _ := json.Marshal(childJob{Input: input, Output: output, Filetype: FiletypeTGZ, Level: tarball.DefaultCompressionLevel, Sidecars: sidecars})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(job))
	m := measure(b, cmd, output)
	if _, err := os.Stat(output + ".spdx.json"); (err == nil) != sidecars.SBOM {
		b.Fatalf("SBOM written: %v, wanted: %v", err == nil, sidecars.SBOM)
	}
	return m
}
