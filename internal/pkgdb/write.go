package pkgdb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

// File name suffixes of what is written next to an image.
const (
	ManifestSuffix = ".manifest"
	ChecksumSuffix = ".sha256"
	SPDXSuffix     = ".spdx.json"
	ChangesSuffix  = ".changes"
)

// WriteFileAtomic writes path through write as the image beside it is
// written (tarball.WriteFile): into a locked temporary file in the same
// directory, synced and renamed over path only when write succeeded, so
// that path is never seen half-written, a failure leaves no file, and the
// temporary file of a run killed meanwhile is removed by the next one.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return tarball.WriteFile(path, write)
}

// WriteManifest writes the packages as Ubuntu's cloud-image manifests
// list them: one "name<TAB>version" line per package, sorted (the
// inventory's order), names as the package tool lists them.
func WriteManifest(w io.Writer, pkgs []Package) error {
	for _, p := range pkgs {
		if _, err := fmt.Fprintf(w, "%s\t%s\n", p.ID, p.Version); err != nil {
			return err
		}
	}
	return nil
}

// WriteChecksum writes one "HASH  FILENAME" line, the format sha256sum -c
// reads, naming the file by its base name so that the check runs in the
// directory that holds both.
func WriteChecksum(w io.Writer, sha256Hex, imagePath string) error {
	name := filepath.Base(imagePath)
	if strings.ContainsAny(name, "\\\n\r") {
		// sha256sum escapes such names; none of ours has them.
		return fmt.Errorf("checksum file: image name %q holds a backslash or newline", name)
	}
	_, err := fmt.Fprintf(w, "%s  %s\n", sha256Hex, name)
	return err
}

// HashFile returns the hex sha256 of a host file, for an image written
// without hashing on the way.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
