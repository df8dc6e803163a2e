// Command packer-plugin-maas is the Packer plugin that builds MAAS custom
// images from cloud images and uploads them to MAAS.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/c34478be/packer-plugin-maas/builder/rootfs"
	"github.com/c34478be/packer-plugin-maas/post-processor/export"
	"github.com/c34478be/packer-plugin-maas/post-processor/upload"
	"github.com/c34478be/packer-plugin-maas/provisioner/curtinhook"
	"github.com/c34478be/packer-plugin-maas/version"
)

func main() {
	pps := plugin.NewSet()
	pps.RegisterBuilder("rootfs", new(rootfs.Builder))
	pps.RegisterPostProcessor("export", new(export.PostProcessor))
	pps.RegisterPostProcessor("upload", new(upload.PostProcessor))
	pps.RegisterProvisioner("curtin-hook", new(curtinhook.Provisioner))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
