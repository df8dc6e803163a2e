// Package version holds the plugin's version, reported to Packer by
// `packer-plugin-maas describe` and used in the binary's installed name.
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is the release version; overridden at link time by goreleaser.
	Version = "0.1.0"
	// VersionPrerelease marks development builds ("dev"); empty for releases.
	VersionPrerelease = "dev"
	// VersionMetadata is optional build metadata.
	VersionMetadata = ""
	// PluginVersion is what the plugin reports to Packer.
	PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
)
