package pkgdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Outputs selects the files WriteOutputs writes next to an image.
type Outputs struct {
	Manifest, SBOM, Checksum bool
	// Base, when set, is the base image's inventory: the change list
	// against it is written too.
	Base *Inventory
}

// WriteOutputs writes the selected files next to the image
// (<image>.manifest, .spdx.json, .sha256, .changes) and returns their
// paths and, with a base, the changes. Each file is written atomically;
// when one fails, those already written by this call are removed, so
// that no partial set is left.
func WriteOutputs(img Image, inv *Inventory, want Outputs, opts SBOMOptions) (files []string, changes Changes, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				os.Remove(f)
			}
			files, changes = nil, nil
		}
	}()
	write := func(suffix string, fn func(io.Writer) error) error {
		p := img.Path + suffix
		if err := WriteFileAtomic(p, fn); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		files = append(files, p)
		return nil
	}
	if want.Manifest {
		if err := write(ManifestSuffix, func(w io.Writer) error { return WriteManifest(w, inv.Packages) }); err != nil {
			return files, nil, err
		}
	}
	if want.SBOM {
		doc := BuildSBOM(inv, img, opts)
		if err := write(SPDXSuffix, func(w io.Writer) error { return WriteSBOM(w, doc) }); err != nil {
			return files, nil, err
		}
	}
	if want.Checksum {
		if err := write(ChecksumSuffix, func(w io.Writer) error { return WriteChecksum(w, img.SHA256, img.Path) }); err != nil {
			return files, nil, err
		}
	}
	if want.Base != nil {
		changes = Diff(want.Base, inv)
		if err := write(ChangesSuffix, changes.Write); err != nil {
			return files, nil, err
		}
	}
	return files, changes, nil
}

// maxOSReleaseSize caps /etc/os-release, a few hundred bytes in practice.
const maxOSReleaseSize = 64 << 10

// OSReleaseID returns the ID of the tree's os-release ("debian",
// "ubuntu", "rhel"), or "" when it has none.
func OSReleaseID(fsys fstree.FS) (string, error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		f, err := openRegular(fsys, p, maxOSReleaseSize)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		data, err := readAll(f)
		closeFile(f)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("ID=")); ok {
				return strings.ToLower(strings.Trim(string(v), `"'`)), nil
			}
		}
		return "", nil
	}
	return "", nil
}
