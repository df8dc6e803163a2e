package export

import (
	"fmt"
	"os"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
)

// BuilderID identifies artifacts made by maas-export.
const BuilderID = "c34478be.maas.export"

// Artifact is a MAAS image file written by maas-export. Its state carries
// what maas-upload needs, so the upload takes no second pass over the file.
type Artifact struct {
	Path         string
	Filetype     string
	SHA256       string
	Size         int64
	Architecture string
	BaseImage    string
	// generated is what templates see as build.<Name> data.
	generated map[string]interface{}
}

// BuilderId identifies maas-export's artifacts.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is the MAAS image file.
func (a *Artifact) Files() []string { return []string{a.Path} }

// Id is the file's path.
func (a *Artifact) Id() string { return a.Path }

// String says what was written.
func (a *Artifact) String() string {
	return fmt.Sprintf("MAAS image %s (%s, %s, %d bytes, sha256 %s)", a.Path, a.Filetype, a.Architecture, a.Size, a.SHA256)
}

// State answers the maas.* keys that maas-upload reads.
func (a *Artifact) State(name string) interface{} {
	switch name {
	case maas.StatePath:
		return a.Path
	case maas.StateFiletype:
		return a.Filetype
	case maas.StateArchitecture:
		return a.Architecture
	case maas.StateBaseImage:
		return a.BaseImage
	case maas.StateSHA256:
		return a.SHA256
	case maas.StateSize:
		return a.Size
	case "generated_data":
		return a.generated
	}
	return nil
}

// Destroy removes the file.
func (a *Artifact) Destroy() error {
	if err := os.Remove(a.Path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
