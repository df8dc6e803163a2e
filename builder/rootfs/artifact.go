package rootfs

import (
	"fmt"
	"os"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
)

// result is what the export step wrote.
type result struct {
	Path         string
	Format       string // tgz, ddgz or qcow2
	SHA256       string
	Size         int64
	Architecture string // MAAS architecture, like amd64/generic
	BaseImage    string // MAAS base_image hint, like ubuntu/noble; "" when unknown
}

// Names of the generated data, for templates (build.MAASImagePath) and
// later post-processors.
var generatedDataNames = []string{"MAASImagePath", "MAASImageSHA256", "MAASFiletype", "MAASArchitecture", "MAASBaseImage", "SourceImageURL"}

// Artifact is the image file maas-rootfs wrote. Its state carries what
// maas-upload needs (the maas.* keys) so the upload takes no second pass.
type Artifact struct {
	result
	generated map[string]interface{}
}

func newArtifact(res *result, sourceURL interface{}) *Artifact {
	source, _ := sourceURL.(string)
	return &Artifact{result: *res, generated: map[string]interface{}{
		"MAASImagePath":    res.Path,
		"MAASImageSHA256":  res.SHA256,
		"MAASFiletype":     res.Format,
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

// String says what was written.
func (a *Artifact) String() string {
	return fmt.Sprintf("MAAS image %s (%s, %s, %d bytes, sha256 %s)", a.Path, a.Format, a.Architecture, a.Size, a.SHA256)
}

// State answers the maas.* keys maas-upload reads, the disk for
// maas-export (qcow2 output), and the generated data.
func (a *Artifact) State(name string) interface{} {
	if a.Format == formatQcow2 && strings.HasPrefix(name, "maas.") {
		return nil // a disk for maas-export, not a MAAS image file
	}
	switch name {
	case maas.StatePath:
		return a.Path
	case maas.StateFiletype:
		return a.Format
	case maas.StateArchitecture:
		return a.Architecture
	case maas.StateBaseImage:
		return a.BaseImage
	case maas.StateSHA256:
		return a.SHA256
	case maas.StateSize:
		return a.Size
	case "diskName":
		if a.Format == formatQcow2 {
			return a.Path
		}
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
