package maasupload

import (
	"fmt"
	"net/url"
	"strconv"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
)

// BuilderID identifies artifacts made by maas-upload.
const BuilderID = "c34478be.maas.upload"

// RegistryProvider is the provider HCP Packer records uploaded images
// under, the platform an hcp-packer-artifact data source asks for.
const RegistryProvider = "maas"

// Artifact is an image uploaded to MAAS.
type Artifact struct {
	MAASURL      string
	ResourceID   int
	Name         string
	Architecture string
	Filetype     string // as sent: tgz, ddgz, ...
	BaseImage    string // "" when none was given
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
	return fmt.Sprintf("MAAS %s: boot resource %d, %s (%s)", a.host(), a.ResourceID, a.Name, a.Architecture)
}

func (a *Artifact) host() string {
	if u, err := url.Parse(a.MAASURL); err == nil && u.Host != "" {
		return u.Host
	}
	return a.MAASURL
}

// State exposes the sha256, size and architecture, and HCP Packer's
// registry image.
func (a *Artifact) State(name string) interface{} {
	switch name {
	case registryimage.ArtifactStateURI:
		return a.RegistryImage()
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

// RegistryImage is what HCP Packer records of the upload: the boot
// resource id under provider "maas" in the region of the MAAS host, with
// the image's name, architecture, filetype, sha256 and base image as
// labels (empty ones left out).
func (a *Artifact) RegistryImage() *registryimage.Image {
	// FromArtifact fails only for a nil artifact.
	img, _ := registryimage.FromArtifact(a,
		registryimage.WithProvider(RegistryProvider),
		registryimage.WithRegion(a.host()),
		registryimage.SetLabels(maasartifact.NonEmpty(map[string]interface{}{
			"name":         a.Name,
			"architecture": a.Architecture,
			"filetype":     a.Filetype,
			"sha256":       a.SHA256,
			"base_image":   a.BaseImage,
		})),
	)
	return img
}
