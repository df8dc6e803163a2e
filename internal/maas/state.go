package maas

// Artifact state keys shared by the components that produce MAAS image
// files (the maas-rootfs builder, maas-export) and maas-upload, which
// reads them so it needs no extra pass over the file and no settings the
// producer already knows. Values are strings except StateSize (int64).
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
)
