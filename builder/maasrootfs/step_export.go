package maasrootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
)

// stepExport writes the image file from the powered-off VM's disk: a MAAS
// tgz or ddgz through the export engine, or the disk as a standalone qcow2.
// A failed or cancelled export leaves no file at output.
//
// Uses the powered-off VM's disk and its backing image (getOverlay,
// getImagePath), the image's URL (getSourceURL) and, when read, the
// cloud image's packages (getBasePackages); produces the
// artifact (getResult, a *maasartifact.Artifact).
type stepExport struct {
	driver driver
	output string // output_directory/output_filename
	format string // output_format
	arch   string // architecture
	// settings is the export's part of the settings: filetype,
	// compression, partitions, tar rules.
	settings export.Options
}

// newStepExport is the export step for the settings c.
func newStepExport(c *Config, d driver) *stepExport {
	settings := export.Options{
		Filetype:         maas.Filetype(c.OutputFormat),
		CompressionLevel: c.CompressionLevel,
		RootPartition:    c.RootPartition,
		BootPartition:    c.BootPartition,
		Architecture:     c.Architecture,
	}
	if c.OutputFormat != formatQcow2 {
		settings.Sidecars = c.Outputs.Sidecars()
	}
	if settings.Filetype == export.FiletypeTGZ {
		settings.Tar = c.Tarball.Options()
	}
	return &stepExport{driver: d, output: filepath.Join(c.OutputDirectory, c.OutputFilename),
		format: c.OutputFormat, arch: c.Architecture, settings: settings}
}

func (s *stepExport) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	disk := getOverlay(state)
	passOn := map[string]interface{}{"SourceImageURL": getSourceURL(state)}

	var art *maasartifact.Artifact
	var err error
	if s.format == formatQcow2 {
		art, err = s.qcow2(ctx, ui, disk, passOn)
	} else {
		base, _ := state.Get(keyImagePath).(string)
		art, err = s.export(ctx, ui, disk, base, getBasePackages(state), passOn)
	}
	if err != nil {
		return halt(state, err)
	}
	putResult(state, art)
	return multistep.ActionContinue
}

// export runs the export of disk, whose backing file is base; with
// basePackages, the cloud image's, it writes the change list against
// them and tells the user its summary.
func (s *stepExport) export(ctx context.Context, ui packersdk.Ui, disk, base string, basePackages *pkgdb.Inventory, passOn interface{}) (*maasartifact.Artifact, error) {
	ui.Sayf("Exporting the disk to %s (%s, gzip level %d)", s.output, s.format, s.settings.CompressionLevel)
	opts := s.settings
	opts.Input = disk
	opts.AllowBacking = []string{base} // the overlay's backing file is the cached cloud image
	opts.Output = s.output
	opts.Sidecars.Base = basePackages
	art, res, err := maasartifact.Run(ctx, ui, maasartifact.Export{
		Options: opts, BuilderID: BuilderID, ProgressName: filepath.Base(s.output), PassOn: passOn,
	})
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", disk, err)
	}
	if res.ChangesFile != "" {
		ui.Say(fmt.Sprintf("Packages against the base image: %s (%s)", res.Changes.Summary(), res.ChangesFile))
	}
	return art, nil
}

// qcow2 flattens the overlay and its backing image into one qcow2.
func (s *stepExport) qcow2(ctx context.Context, ui packersdk.Ui, disk string, passOn interface{}) (*maasartifact.Artifact, error) {
	output := s.output
	ui.Sayf("Writing the disk to %s (qcow2)", output)
	partial := output + ".partial"
	if err := s.driver.ConvertToQcow2(ctx, disk, partial); err != nil {
		_ = os.Remove(partial)
		return nil, fmt.Errorf("writing %s as qcow2: %w", disk, err)
	}
	sum, size, err := hashFile(partial)
	if err == nil {
		err = os.Rename(partial, output)
	}
	if err != nil {
		_ = os.Remove(partial)
		return nil, err
	}
	ui.Sayf("Wrote %s: %d bytes, sha256 %s", output, size, sum)
	img := maasartifact.Image{Path: output, SHA256: sum, Size: size, Architecture: maasartifact.Architecture(s.arch, "")}
	return maasartifact.NewDisk(BuilderID, img, formatQcow2, passOn), nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Cleanup has nothing to do: the export writes its file only on success.
func (s *stepExport) Cleanup(multistep.StateBag) {}
