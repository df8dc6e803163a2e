package maasartifact

import (
	"context"
	"fmt"
	"strings"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/packerui"
)

// Export is an export a component runs.
type Export struct {
	// Options are the export's; Progress and Log are set by Run.
	// Options.Architecture is the component's architecture setting.
	export.Options
	// BuilderID is the component's, for the artifact.
	BuilderID string
	// ProgressName labels the progress bar.
	ProgressName string
	// PassOn is generated data the artifact carries on (see New).
	PassOn interface{}
}

// Run runs the export with a progress bar, tells ui what it found and
// wrote, and returns the artifact, with the export's result for what
// else the caller reports. Its errors are the export's, for the caller to
// wrap.
func Run(ctx context.Context, ui packersdk.Ui, e Export) (*Artifact, export.Result, error) {
	start := time.Now()
	var bar *packerui.Progress
	opts := e.Options
	opts.Progress = func(total int64) func(int64) {
		bar = packerui.NewProgress(ui, e.ProgressName, total)
		return bar.Add
	}
	opts.Log = func(format string, args ...any) { ui.Say(fmt.Sprintf(format, args...)) }
	res, err := export.Run(ctx, opts)
	if bar != nil {
		bar.Close()
	}
	if err != nil {
		return nil, res, err
	}
	for _, tmp := range res.RemovedTemps {
		ui.Say(fmt.Sprintf("Removed %s, left by an earlier export of %s that was killed", tmp, res.Path))
	}
	arch := Architecture(opts.Architecture, res.Architecture)
	if res.Architecture != "" && arch != res.Architecture {
		ui.Error(fmt.Sprintf("Warning: architecture is set to %s, but the image's programs are %s; MAAS will deploy it as %s",
			opts.Architecture, res.Architecture, arch))
	}
	ui.Say(fmt.Sprintf("Wrote %s: %d bytes in %s, sha256 %s%s", res.Path, res.Size, time.Since(start).Round(time.Millisecond), res.SHA256, sidecarSummary(res)))
	if summary := res.ImageSummary(arch); summary != "" {
		ui.Say(summary)
	}
	return FromResult(e.BuilderID, opts.Architecture, res, e.PassOn), res, nil
}

// FromResult describes the file an export wrote for the component
// builderID, whose architecture setting is archSetting (see
// Architecture).
func FromResult(builderID, archSetting string, res export.Result, passOn interface{}) *Artifact {
	img := Image{
		Path: res.Path, Filetype: res.Filetype, SHA256: res.SHA256, Size: res.Size,
		Architecture: Architecture(archSetting, res.Architecture), BaseImage: res.BaseImage,
		Sidecars: res.SidecarFiles,
	}
	if res.Packages != nil {
		img.Packages = len(res.Packages.Packages)
	}
	return New(builderID, img, passOn)
}

// sidecarSummary ends the "Wrote" line: the package count and the files
// written next to the image.
func sidecarSummary(res export.Result) string {
	var s string
	if inv := res.Packages; inv != nil {
		format := inv.Format
		if format == "" {
			format = "no package database"
		}
		s = fmt.Sprintf("; %d packages (%s)", len(inv.Packages), format)
	}
	if len(res.SidecarFiles) > 0 {
		s += "; wrote " + strings.Join(res.SidecarFiles, ", ")
	}
	return s
}
