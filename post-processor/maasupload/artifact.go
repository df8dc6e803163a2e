package maasupload

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
)

// BuilderID identifies artifacts made by maas-upload.
const BuilderID = "c34478be.maas.upload"

// Artifact is an image uploaded to MAAS.
type Artifact struct {
	MAASURL      string
	ResourceID   int
	Name         string
	Architecture string
	// Version is the MAAS set holding the file (empty through API 3).
	Version string
	SHA256  string
	Size    int64
}

// BuilderId identifies maas-upload's artifacts.
func (a *Artifact) BuilderId() string { return BuilderID }

// Files is empty: the image lives in MAAS.
func (a *Artifact) Files() []string { return nil }

// Id is the MAAS boot resource id.
func (a *Artifact) Id() string { return strconv.Itoa(a.ResourceID) }

// String names the MAAS, the image and its resource id.
func (a *Artifact) String() string {
	host := a.MAASURL
	if u, err := url.Parse(a.MAASURL); err == nil && u.Host != "" {
		host = u.Host
	}
	return fmt.Sprintf("MAAS %s: boot resource %d, %s (%s)", host, a.ResourceID, a.Name, a.Architecture)
}

// State exposes the sha256, size, name and architecture.
func (a *Artifact) State(name string) interface{} {
	switch name {
	case maasartifact.StateSHA256:
		return a.SHA256
	case maasartifact.StateSize:
		return a.Size
	case maasartifact.StateArchitecture:
		return a.Architecture
	}
	return nil
}

// Destroy does nothing: deleting an uploaded image is left to the user.
func (a *Artifact) Destroy() error { return nil }
