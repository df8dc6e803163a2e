package maasrootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/packerui"
)

// stepExport writes the image file from the powered-off VM's disk: a MAAS
// tgz or ddgz through the export engine, or the disk as a standalone qcow2.
type stepExport struct{}

func (s *stepExport) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c := state.Get("config").(*Config)
	ui := state.Get("ui").(packersdk.Ui)
	disk := state.Get(stateOverlay).(string)
	output := filepath.Join(c.OutputDirectory, c.OutputFilename)

	var res *maas.ImageFile
	var err error
	if c.OutputFormat == formatQcow2 {
		res, err = s.qcow2(ctx, ui, disk, output, c.Architecture)
	} else {
		base, _ := state.Get(stateImagePath).(string)
		res, err = s.export(ctx, c, ui, disk, base, output)
	}
	if err != nil {
		return halt(state, err)
	}
	ui.Sayf("Wrote %s: %d bytes, sha256 %s", res.Path, res.Size, res.SHA256)
	state.Put(stateResult, res)
	return multistep.ActionContinue
}

func (s *stepExport) export(ctx context.Context, c *Config, ui packersdk.Ui, disk, base, output string) (*maas.ImageFile, error) {
	ui.Sayf("Exporting the disk to %s (%s, gzip level %d)", output, c.OutputFormat, c.CompressionLevel)
	var bar *packerui.Progress
	opts := export.Options{
		Input: disk,
		// The overlay's backing file is the cached cloud image.
		AllowBacking:     []string{base},
		Output:           output,
		Filetype:         c.OutputFormat,
		CompressionLevel: c.CompressionLevel,
		RootPartition:    c.RootPartition,
		BootPartition:    c.BootPartition,
		Architecture:     c.Architecture,
		Progress: func(total int64) func(int64) {
			bar = packerui.NewProgress(ui, filepath.Base(output), total)
			return bar.Add
		},
		Log: func(format string, args ...any) { ui.Sayf(format, args...) },
	}
	if c.OutputFormat == export.FiletypeTGZ {
		opts.Tar = c.Tarball.Options()
	}
	res, err := export.Run(ctx, opts)
	if bar != nil {
		bar.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("exporting %s: %w", disk, err)
	}
	arch := res.Architecture
	if arch == "" {
		arch = c.Architecture + "/generic"
	}
	if summary := res.ImageSummary(arch); summary != "" {
		ui.Say(summary)
	}
	return &maas.ImageFile{Path: res.Path, Filetype: res.Filetype, SHA256: res.SHA256, Size: res.Size,
		Architecture: arch, BaseImage: res.BaseImage}, nil
}

// qcow2 flattens the overlay and its backing image into one qcow2.
func (s *stepExport) qcow2(ctx context.Context, ui packersdk.Ui, disk, output, arch string) (*maas.ImageFile, error) {
	ui.Sayf("Writing the disk to %s (qcow2)", output)
	partial := output + ".partial"
	cmd := exec.CommandContext(ctx, "qemu-img", "convert", "-O", "qcow2", disk, partial)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(partial)
		return nil, fmt.Errorf("qemu-img convert %s: %w: %s", disk, err, out)
	}
	sum, size, err := hashFile(partial)
	if err == nil {
		err = os.Rename(partial, output)
	}
	if err != nil {
		_ = os.Remove(partial)
		return nil, err
	}
	return &maas.ImageFile{Path: output, Filetype: formatQcow2, SHA256: sum, Size: size, Architecture: arch + "/generic"}, nil
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
