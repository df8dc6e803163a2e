//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

package exportcfg

import (
	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/version"
)

// Outputs are the files written next to a tgz or ddgz image once it is
// complete, each on by default.
type Outputs struct {
	// Write `<image>.manifest`: one `name<TAB>version` line per installed
	// package, sorted, the format of Ubuntu's cloud-image manifests. The
	// packages are read from the image's own database, as data (no
	// chroot): dpkg, rpm (sqlite, Berkeley DB or ndb) or apk. A `ddgz`
	// export writes it when it finds the disk's root filesystem. Defaults
	// to `true`.
	Manifest *bool `mapstructure:"manifest"`
	// Write `<image>.spdx.json`: an SPDX 2.3 SBOM (JSON) naming the image
	// file with its sha256 and every installed package with its version,
	// architecture, package URL (purl) and supplier where the database
	// names one. Defaults to `true`.
	SBOM *bool `mapstructure:"sbom"`
	// Write `<image>.sha256`: `HASH  FILENAME`, which `sha256sum -c`
	// checks in the image's directory. Defaults to `true`.
	ChecksumFile *bool `mapstructure:"checksum_file"`
}

// Sidecars turns the settings into the export's options.
func (o Outputs) Sidecars() export.Sidecars {
	return export.Sidecars{
		Manifest: on(o.Manifest),
		SBOM:     on(o.SBOM),
		Checksum: on(o.ChecksumFile),
		Tool:     "packer-plugin-maas-" + version.PluginVersion.FormattedVersion(),
	}
}

// on reads a setting that defaults to true.
func on(b *bool) bool { return b == nil || *b }
