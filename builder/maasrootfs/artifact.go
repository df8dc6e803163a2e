package maasrootfs

import "github.com/c34478be/packer-plugin-maas/internal/maas"

// Names of the generated data, for templates (build.MAASImagePath) and
// later post-processors.
var generatedDataNames = []string{"MAASImagePath", "MAASImageSHA256", "MAASFiletype", "MAASArchitecture", "MAASBaseImage", "SourceImageURL"}

// Artifact is the image file maas-rootfs wrote. Its state carries what
// maas-upload needs (the maas.* keys) so the upload takes no second pass.
type Artifact struct {
	maas.ImageFile
	generated map[string]interface{}
}

func newArtifact(res *maas.ImageFile, sourceURL interface{}) *Artifact {
	source, _ := sourceURL.(string)
	return &Artifact{ImageFile: *res, generated: map[string]interface{}{
		"MAASImagePath":    res.Path,
		"MAASImageSHA256":  res.SHA256,
		"MAASFiletype":     res.Filetype,
		"MAASArchitecture": res.Architecture,
		"MAASBaseImage":    res.BaseImage,
		"SourceImageURL":   source,
	}}
}

// BuilderId identifies maas-rootfs's artifacts.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is the image file.
func (a *Artifact) Files() []string { return []string{a.Path} }

// Id is the file's path.
func (a *Artifact) Id() string { return a.Path }

// State answers the maas.* keys maas-upload reads, the disk for
// maas-export (qcow2 output), and the generated data.
func (a *Artifact) State(name string) interface{} {
	switch {
	case name == "generated_data":
		return a.generated
	case a.Filetype == formatQcow2:
		if name == "diskName" {
			return a.Path
		}
		return nil // a disk for maas-export, not a MAAS image file
	}
	v, _ := a.ImageFile.State(name)
	return v
}

// Destroy removes the file.
func (a *Artifact) Destroy() error { return a.Remove() }
