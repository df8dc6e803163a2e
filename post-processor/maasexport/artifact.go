package maasexport

import "github.com/c34478be/packer-plugin-maas/internal/maas"

// BuilderID identifies artifacts made by maas-export.
const BuilderID = "c34478be.maas.export"

// Artifact is a MAAS image file written by maas-export. Its state carries
// what maas-upload needs, so the upload takes no second pass over the file.
type Artifact struct {
	maas.ImageFile
	// generated is what templates see as build.<Name> data.
	generated map[string]interface{}
}

// BuilderId identifies maas-export's artifacts.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is the MAAS image file.
func (a *Artifact) Files() []string { return []string{a.Path} }

// Id is the file's path.
func (a *Artifact) Id() string { return a.Path }

// State answers the maas.* keys that maas-upload reads, and the generated data.
func (a *Artifact) State(name string) interface{} {
	if v, ok := a.ImageFile.State(name); ok {
		return v
	}
	if name == "generated_data" {
		return a.generated
	}
	return nil
}

// Destroy removes the file.
func (a *Artifact) Destroy() error { return a.Remove() }
