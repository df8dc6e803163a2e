package maas

import (
	"errors"
	"fmt"
	"os"
)

// Artifact state keys shared by the components that produce MAAS image
// files (the maas-rootfs builder, maas-export) and maas-upload, which
// reads them so it needs no extra pass over the file and no settings the
// producer already knows. Values are strings except StateSize (int64).
const (
	// StatePath is the MAAS image file to upload.
	StatePath = "maas.path"
	// StateFiletype is the MAAS filetype of that file (tgz, ddgz, ...).
	StateFiletype = "maas.filetype"
	// StateArchitecture is the MAAS architecture, e.g. amd64/generic.
	StateArchitecture = "maas.architecture"
	// StateBaseImage is the base image, e.g. ubuntu/noble, when known.
	StateBaseImage = "maas.base_image"
	// StateSHA256 is the file's sha256, lowercase hex.
	StateSHA256 = "maas.sha256"
	// StateSize is the file's size in bytes (int64).
	StateSize = "maas.size"
)

// ImageFile is a MAAS image file as its producers describe it in artifact
// state. maas-rootfs and maas-export both embed it in their artifacts, so
// the keys above are answered in one place.
type ImageFile struct {
	Path         string
	Filetype     string // tgz, ddgz, ...
	SHA256       string // lowercase hex
	Size         int64
	Architecture string // like amd64/generic
	BaseImage    string // like ubuntu/noble; "" when unknown
}

// State answers the State* keys; ok is false for any other name.
func (f ImageFile) State(name string) (value interface{}, ok bool) {
	switch name {
	case StatePath:
		return f.Path, true
	case StateFiletype:
		return f.Filetype, true
	case StateArchitecture:
		return f.Architecture, true
	case StateBaseImage:
		return f.BaseImage, true
	case StateSHA256:
		return f.SHA256, true
	case StateSize:
		return f.Size, true
	}
	return nil, false
}

// String describes the file for Packer's list of artifacts.
func (f ImageFile) String() string {
	return fmt.Sprintf("MAAS image %s (%s, %s, %d bytes, sha256 %s)", f.Path, f.Filetype, f.Architecture, f.Size, f.SHA256)
}

// Remove deletes the file; a file already gone is no error.
func (f ImageFile) Remove() error {
	if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
