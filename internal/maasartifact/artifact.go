// Package maasartifact is what a MAAS image file is to Packer: the one
// artifact maas-rootfs and maas-export return, the maas.* state keys
// maas-upload reads from it, and the glue that runs an export with
// progress and turns its result into that artifact (export.go).
//
// It is Packer glue, so it imports the Packer SDK; it is shared by two
// components, so it lives under internal/ beside packerui, the other
// shared glue, rather than in one component that the other would import.
// internal/maas and internal/export, which do the work, stay free of
// Packer.
package maasartifact

import (
	"errors"
	"fmt"
	"os"
	"strings"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
)

// Image is a MAAS image file as its producer describes it.
type Image struct {
	Path         string
	Filetype     maas.Filetype
	SHA256       string // lowercase hex
	Size         int64
	Architecture string // like amd64/generic
	BaseImage    string // like ubuntu/noble; "" when unknown
	// Sidecars are the files written next to the image (manifest, SBOM,
	// checksum file); Packages is the number of packages they list.
	Sidecars []string
	Packages int
}

// GeneratedDataNames are the generated data every Artifact carries, for
// templates (build.MAASImagePath) and later post-processors.
var GeneratedDataNames = []string{"MAASImagePath", "MAASImageSHA256", "MAASFiletype", "MAASArchitecture", "MAASBaseImage"}

// Artifact is an image file written by maas-rootfs or maas-export. Its
// state carries what maas-upload needs (the maas.* keys), so the upload
// takes no second pass over the file.
type Artifact struct {
	Image
	// DiskFormat, when set ("qcow2"), says the file is a disk image for a
	// later maas-export, not a MAAS image file: the state then answers the
	// disk's name (diskName, as the stock qemu builder's does) and none of
	// the maas.* keys, so maas-upload does not take it for one.
	DiskFormat string
	builderID  string
	generated  map[string]interface{}
}

// New describes the image file img written by the component builderID.
// passOn is generated data to carry on (a builder's build.* values, as a
// map with string keys, or with interface{} keys when it came over RPC);
// the MAAS* names are set over it.
func New(builderID string, img Image, passOn interface{}) *Artifact {
	a := &Artifact{Image: img, builderID: builderID, generated: map[string]interface{}{}}
	switch data := passOn.(type) {
	case map[interface{}]interface{}:
		for k, v := range data {
			if name, ok := k.(string); ok {
				a.generated[name] = v
			}
		}
	case map[string]interface{}:
		for k, v := range data {
			a.generated[k] = v
		}
	}
	a.setGenerated()
	return a
}

// NewDisk describes a disk image of format (qcow2) written by builderID.
func NewDisk(builderID string, img Image, format string, passOn interface{}) *Artifact {
	a := New(builderID, img, passOn)
	a.DiskFormat = format
	a.setGenerated()
	return a
}

func (a *Artifact) setGenerated() {
	filetype := string(a.Filetype)
	if a.DiskFormat != "" {
		filetype = a.DiskFormat
	}
	a.generated["MAASImagePath"] = a.Path
	a.generated["MAASImageSHA256"] = a.SHA256
	a.generated["MAASFiletype"] = filetype
	a.generated["MAASArchitecture"] = a.Architecture
	a.generated["MAASBaseImage"] = a.BaseImage
}

// BuilderId identifies the component that wrote the file.
func (a *Artifact) BuilderId() string { return a.builderID }

// Files is the image file, then the files written next to it.
func (a *Artifact) Files() []string { return append([]string{a.Path}, a.Sidecars...) }

// Id is the file's path.
func (a *Artifact) Id() string { return a.Path }

// String describes the file for Packer's list of artifacts.
func (a *Artifact) String() string {
	kind, format := "MAAS image", string(a.Filetype)
	if a.DiskFormat != "" {
		kind, format = "disk image", a.DiskFormat
	}
	return fmt.Sprintf("%s %s (%s, %s, %d bytes, sha256 %s)", kind, a.Path, format, a.Architecture, a.Size, a.SHA256)
}

// State answers the maas.* keys maas-upload reads (diskName instead for
// a disk image), the generated data and HCP Packer's registry image.
func (a *Artifact) State(name string) interface{} {
	switch {
	case name == "generated_data":
		return a.generated
	case name == registryimage.ArtifactStateURI:
		return a.RegistryImage()
	case a.DiskFormat != "":
		if name == "diskName" {
			return a.Path
		}
		return nil
	}
	v, _ := a.state(name)
	return v
}

// Destroy removes the files; a file already gone is no error.
func (a *Artifact) Destroy() error {
	for _, f := range a.Files() {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Architecture is the MAAS architecture an image file is recorded with:
// the setting when there is one ("amd64" stands for "amd64/generic"),
// else what the export read from the image's programs; "" when neither
// tells.
func Architecture(setting, detected string) string {
	if setting == "" {
		return detected
	}
	if !strings.Contains(setting, "/") {
		return setting + "/generic"
	}
	return setting
}
