package maasartifact

import (
	"os"
	"path/filepath"

	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
)

// LocalRegion is the registry region of a file when the host has no name.
const LocalRegion = "local"

// RegistryImage is what HCP Packer records of the file (a build with an
// hcp_packer_registry block asks for it): its absolute path (maas-rootfs's
// output_directory may be relative) as the image id, under
// the component's builder id as provider, and its digest and MAAS
// metadata as labels. The region is the host's name, because a path means
// something only on the machine that wrote it, and CI fans builds out
// over many. Empty values make no label.
func (a *Artifact) RegistryImage() *registryimage.Image {
	labels := map[string]interface{}{
		"sha256":       a.SHA256,
		"architecture": a.Architecture,
		"filetype":     string(a.Filetype),
		"base_image":   a.BaseImage,
	}
	if a.DiskFormat != "" {
		labels["filetype"] = a.DiskFormat
	}
	// FromArtifact fails only for a nil artifact.
	img, _ := registryimage.FromArtifact(a,
		registryimage.WithID(absolute(a.Path)),
		registryimage.WithRegion(hostRegion()),
		registryimage.SetLabels(NonEmpty(labels)),
	)
	return img
}

func absolute(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func hostRegion() string {
	if name, err := os.Hostname(); err == nil && name != "" {
		return name
	}
	return LocalRegion
}

// NonEmpty drops the labels whose value is "", which HCP Packer would show
// as blank labels.
func NonEmpty(labels map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(labels))
	for k, v := range labels {
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		out[k] = v
	}
	return out
}
