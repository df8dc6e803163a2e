package pkgdb

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomicRemovesAKilledRunsTemporaryFile: a run killed while
// writing a manifest leaves its temporary file, whose lock died with it;
// the next write of that manifest removes it, and leaves a stranger's
// file of a similar name alone.
func TestWriteFileAtomicRemovesAKilledRunsTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "img.tar.gz"+ManifestSuffix)
	leftover := filepath.Join(dir, ".img.tar.gz.manifest.0123456789abcdef.maas-tmp")
	stranger := filepath.Join(dir, ".img.tar.gz.0123456789abcdef.maas-tmp.keep")
	for _, f := range []string{leftover, stranger} {
		if err := os.WriteFile(f, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFileAtomic(manifest, func(w io.Writer) error { _, err := io.WriteString(w, "a\t1\n"); return err }); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != filepath.Base(stranger) || names[1] != filepath.Base(manifest) {
		t.Errorf("left %v, want the manifest and the stranger's file", names)
	}
	if info, err := os.Stat(manifest); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("manifest: %v, %v", info, err)
	}
}
