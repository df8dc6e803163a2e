package pkgdb

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkTestImage reads the test image's dpkg database from its root
// filesystem in process and writes the manifest, SBOM and checksum file
// (image hash given: the export hashes while writing). Target: small
// against the 4-5 s export of that image.
func BenchmarkTestImage(b *testing.B) {
	fsys := testImageRoot(b)
	dir := b.TempDir()
	img := Image{Path: filepath.Join(dir, "img.tar.gz"), SHA256: "00"}
	if err := os.WriteFile(img.Path, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	var readTime, writeTime time.Duration
	for range b.N {
		start := time.Now()
		inv, err := Read(fsys)
		if err != nil {
			b.Fatal(err)
		}
		readTime += time.Since(start)
		start = time.Now()
		if _, _, err := WriteOutputs(img, inv, Outputs{Manifest: true, SBOM: true, Checksum: true, Base: inv}, SBOMOptions{Tool: "bench"}); err != nil {
			b.Fatal(err)
		}
		writeTime += time.Since(start)
	}
	b.ReportMetric(float64(readTime.Microseconds())/1000/float64(b.N), "read-ms")
	b.ReportMetric(float64(writeTime.Microseconds())/1000/float64(b.N), "write-ms")
}
