// Command packer-plugin-maas is the Packer plugin that builds MAAS custom
// images from cloud images and uploads them to MAAS.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/c34478be/packer-plugin-maas/builder/maasrootfs"
	"github.com/c34478be/packer-plugin-maas/post-processor/maasexport"
	"github.com/c34478be/packer-plugin-maas/post-processor/maasupload"
	"github.com/c34478be/packer-plugin-maas/provisioner/maascurtinhook"
	"github.com/c34478be/packer-plugin-maas/version"
)

func main() {
	pps := plugin.NewSet()
	pps.RegisterBuilder("rootfs", new(maasrootfs.Builder))
	pps.RegisterPostProcessor("export", new(maasexport.PostProcessor))
	pps.RegisterPostProcessor("upload", new(maasupload.PostProcessor))
	pps.RegisterProvisioner("curtin-hook", new(maascurtinhook.Provisioner))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
