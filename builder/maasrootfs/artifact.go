package maasrootfs

import "github.com/c34478be/packer-plugin-maas/internal/maasartifact"

// Names of the generated data, for templates (build.MAASImagePath) and
// later post-processors: the image file's (a maasartifact.Artifact) and
// the cloud image's URL.
var generatedDataNames = append(append([]string(nil), maasartifact.GeneratedDataNames...), "SourceImageURL")
