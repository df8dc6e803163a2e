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
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/packerui"
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
	start := time.Now()
	var bar *packerui.Progress
	res, err := export.Run(ctx, export.Options{
		Input:            input,
		AllowBacking:     c.backingAllowed(),
		Output:           output,
		Filetype:         c.Filetype,
		CompressionLevel: c.CompressionLevel,
		RootPartition:    c.RootPartition,
		BootPartition:    c.BootPartition,
		Architecture:     c.Architecture,
		Tar:              c.tarOptions(),
		Progress: func(total int64) func(int64) {
			bar = packerui.NewProgress(ui, filepath.Base(input), total)
			return bar.Add
		},
		Log: func(format string, args ...any) { ui.Say(fmt.Sprintf(format, args...)) },
	})
	if bar != nil {
		bar.Close()
	}
	var backing *diskimage.BackingPathError
	if errors.As(err, &backing) {
		return nil, false, false, fmt.Errorf("maas-export: %w; or, if that file is trusted, add its directory to backing_file_dirs", err)
	}
	if err != nil {
		return nil, false, false, fmt.Errorf("maas-export: %w", err)
	}
	for _, tmp := range res.RemovedTemps {
		ui.Say(fmt.Sprintf("Removed %s, left by an earlier export of %s that was killed", tmp, output))
	}
	art := newArtifact(c, res, in.State("generated_data"))
	if c.Architecture != "" && res.Architecture != "" && c.Architecture != res.Architecture {
		ui.Error(fmt.Sprintf("Warning: architecture is set to %s, but the image's programs are %s; MAAS will deploy it as %s",
			c.Architecture, res.Architecture, c.Architecture))
	}
	ui.Say(fmt.Sprintf("Wrote %s: %d bytes in %s, sha256 %s", res.Path, res.Size, time.Since(start).Round(time.Millisecond), res.SHA256))
	if summary := res.ImageSummary(art.Architecture); summary != "" {
		ui.Say(summary)
	}
	return art, false, false, nil
}

// newArtifact describes the written file. The incoming artifact's
// generated data (a builder's build.* values) is passed on, so that later
// post-processors in the chain still see it.
func newArtifact(c *Config, res export.Result, incoming interface{}) *Artifact {
	// export.Run fails when neither the setting nor the image tells the
	// architecture, so one of them is set.
	arch := c.Architecture
	if arch == "" {
		arch = res.Architecture
	}
	a := &Artifact{ImageFile: maas.ImageFile{
		Path: res.Path, Filetype: res.Filetype, SHA256: res.SHA256, Size: res.Size,
		Architecture: arch, BaseImage: res.BaseImage,
	}}
	a.generated = map[string]interface{}{}
	switch data := incoming.(type) { // map[interface{}]... when it came over RPC
	case map[interface{}]interface{}:
		for k, v := range data {
			if name, ok := k.(string); ok {
				a.generated[name] = v
			}
		}
	case map[string]interface{}:
		for k, v := range data {
			a.generated[k] = v
		}
	}
	a.generated["MAASImagePath"] = a.Path
	a.generated["MAASImageSHA256"] = a.SHA256
	a.generated["MAASArchitecture"] = a.Architecture
	a.generated["MAASBaseImage"] = a.BaseImage
	return a
}

// inputImage picks the disk image to export: image_path, else the
// incoming artifact's disk. The stock qemu builder's output directory also
// holds UEFI variables, so its diskName state is preferred, then the only
// qcow2 file, then the only file.
func inputImage(imagePath string, in packersdk.Artifact) (string, error) {
	if imagePath != "" {
		return imagePath, nil
	}
	if made, ok := in.State(maas.StatePath).(string); ok && made != "" {
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
func defaultName(input, buildName, filetype string) string {
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
