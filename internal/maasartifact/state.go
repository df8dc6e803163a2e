package maasartifact

import (
	"strconv"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
)

// Artifact state keys shared by the components that write MAAS image
// files (maas-rootfs, maas-export) and maas-upload, which reads them so
// it needs no extra pass over the file and no settings the producer
// already knows. Values are strings except StateSize (int64). Read them
// with FromState.
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
	// StatePackages is the number of packages the image's manifest and
	// SBOM list (int; 0 when none was written).
	StatePackages = "maas.packages"
)

// state answers the State* keys; ok is false for any other name.
func (img Image) state(name string) (value interface{}, ok bool) {
	switch name {
	case StatePath:
		return img.Path, true
	case StateFiletype:
		return string(img.Filetype), true
	case StateArchitecture:
		return img.Architecture, true
	case StateBaseImage:
		return img.BaseImage, true
	case StateSHA256:
		return img.SHA256, true
	case StateSize:
		return img.Size, true
	case StatePackages:
		return img.Packages, true
	}
	return nil, false
}

// FromState reads the State* keys of any artifact: this plugin's, one
// that crossed the plugin RPC boundary, or another plugin's. A key that
// is missing or of another type reads as the zero value.
func FromState(a packersdk.Artifact) Image {
	return Image{
		Path:         stateString(a, StatePath),
		Filetype:     maas.Filetype(stateString(a, StateFiletype)),
		SHA256:       stateString(a, StateSHA256),
		Size:         stateInt(a, StateSize),
		Architecture: stateString(a, StateArchitecture),
		BaseImage:    stateString(a, StateBaseImage),
		Packages:     int(stateInt(a, StatePackages)),
	}
}

func stateString(a packersdk.Artifact, key string) string {
	s, _ := a.State(key).(string)
	return s
}

// stateInt reads a number that may have crossed the plugin RPC boundary
// as any integer or float type, or as a string.
func stateInt(a packersdk.Artifact, key string) int64 {
	switch v := a.State(key).(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case uint64:
		return int64(v)
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}
