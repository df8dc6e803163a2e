// Package maasexport is the maas-export post-processor: it turns the disk image
// of any builder (above all the stock qemu builder) into a MAAS image file,
// without root, using the same engine as the maas-rootfs builder.
package maasexport

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
)

// PostProcessor is maas-export.
type PostProcessor struct {
	config Config
}

// ConfigSpec returns the HCL2 schema of the settings.
func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Configure decodes and validates the settings, so that `packer validate`
// reports every mistake before a build starts.
func (p *PostProcessor) Configure(raws ...interface{}) error {
	return p.config.prepare(raws...)
}

// PostProcess exports the incoming artifact's disk image.
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, in packersdk.Artifact) (_ packersdk.Artifact, _, _ bool, err error) {
	c := &p.config
	input, err := inputImage(c.ImagePath, in)
	if err != nil {
		return nil, false, false, err
	}
	output, err := checkPaths(c, input, in, ui)
	if err != nil {
		return nil, false, false, err
	}
	created, err := mkdirAll(filepath.Dir(output))
	if err != nil {
		return nil, false, false, fmt.Errorf("maas-export: creating the directory of output %s: %w", output, err)
	}
	defer func() {
		if err != nil {
			removeDirs(created)
		}
	}()

	ui.Say(fmt.Sprintf("Exporting %s to %s (%s, gzip level %d)", input, output, c.Filetype, c.CompressionLevel))
	art, _, err := maasartifact.Run(ctx, ui, maasartifact.Export{
		Options: export.Options{
			Input:            input,
			AllowBacking:     c.backingAllowed(),
			Output:           output,
			Filetype:         c.filetype(),
			CompressionLevel: c.CompressionLevel,
			RootPartition:    c.RootPartition,
			BootPartition:    c.BootPartition,
			Architecture:     c.Architecture,
			Tar:              c.tarOptions(),
			Sidecars:         c.Outputs.Sidecars(),
		},
		BuilderID:    BuilderID,
		ProgressName: filepath.Base(input),
		// A builder's build.* values, for later post-processors.
		PassOn: in.State("generated_data"),
	})
	var backing *diskimage.BackingPathError
	if errors.As(err, &backing) {
		return nil, false, false, fmt.Errorf("maas-export: %w; or, if that file is trusted, add its directory to backing_file_dirs", err)
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("maas-export: %w", err)
	}
	return art, false, false, nil
}

// inputImage picks the disk image to export: image_path, else the
// incoming artifact's disk. The stock qemu builder's output directory also
// holds UEFI variables, so its diskName state is preferred, then the only
// qcow2 file, then the only file.
func inputImage(imagePath string, in packersdk.Artifact) (string, error) {
	if imagePath != "" {
		return imagePath, nil
	}
	if made, ok := in.State(maasartifact.StatePath).(string); ok && made != "" {
		return "", fmt.Errorf("maas-export: the incoming artifact (%s) is already a MAAS image file, %s; maas-export needs a disk image: remove it from the chain or set image_path",
			in.BuilderId(), made)
	}
	files := in.Files()
	if name, ok := in.State("diskName").(string); ok && name != "" {
		for _, f := range files {
			if filepath.Base(f) == filepath.Base(name) {
				return f, nil
			}
		}
	}
	var qcow2 []string
	for _, f := range files {
		if isQcow2(f) {
			qcow2 = append(qcow2, f)
		}
	}
	switch {
	case len(qcow2) == 1:
		return qcow2[0], nil
	case len(files) == 1:
		return files[0], nil
	case len(files) == 0:
		return "", errors.New("maas-export: the incoming artifact has no files; set image_path to the disk image to export")
	}
	return "", fmt.Errorf("maas-export: the incoming artifact has several files (%s); set image_path to the disk image to export",
		strings.Join(files, ", "))
}

func isQcow2(path string) bool {
	format, err := diskimage.DetectFormat(path)
	return err == nil && format == diskimage.FormatQcow2
}

// defaultName is the file name an export gets without output.
func defaultName(input, buildName string, filetype maas.Filetype) string {
	name := buildName
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(input), filepath.Ext(input))
	}
	ext := ".tar.gz"
	if filetype == export.FiletypeDDGZ {
		ext = ".dd.gz"
	}
	return name + ext
}
