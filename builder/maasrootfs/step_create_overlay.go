package maasrootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// stepCreateOverlay makes the build's work directory in the output
// directory and the VM's disk in it: a qcow2 overlay whose backing file is
// the cached cloud image, which therefore stays untouched, grown to
// disk_size.
type stepCreateOverlay struct {
	workDir string
}

func (s *stepCreateOverlay) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	c := state.Get("config").(*Config)
	ui := state.Get("ui").(packersdk.Ui)
	base, err := filepath.Abs(state.Get(stateImagePath).(string))
	if err != nil {
		return halt(state, fmt.Errorf("cloud image path: %w", err))
	}
	outputDir, err := filepath.Abs(c.OutputDirectory)
	if err == nil {
		s.workDir, err = os.MkdirTemp(outputDir, ".build-")
	}
	if err != nil {
		return halt(state, fmt.Errorf("work directory in %s: %w", c.OutputDirectory, err))
	}
	state.Put(stateWorkDir, s.workDir)

	if _, err := diskimage.DetectFormat(base); err != nil {
		return halt(state, fmt.Errorf("image_url: the cloud image %s: %w", base, err))
	}
	if err := qemu.CheckSelfContained(base); err != nil {
		source, _ := state.GetOk("SourceImageURL") // set by the download step
		return halt(state, fmt.Errorf("image_url %v: %w", orDefault(source, c.ImageURL), err))
	}
	overlay := filepath.Join(s.workDir, "disk.qcow2")
	if err := qemu.CreateOverlay(ctx, base, overlay, c.diskSize); err != nil {
		return halt(state, fmt.Errorf("creating the VM's disk on %s (check disk_size): %w", base, err))
	}
	size, err := qemu.VirtualSize(ctx, overlay)
	if err != nil {
		return halt(state, err)
	}
	ui.Sayf("VM disk: %s, %d MiB, on %s", overlay, size>>20, base)
	state.Put(stateOverlay, overlay)
	return multistep.ActionContinue
}

// Cleanup removes the overlay, the seed and the UEFI variables: the image
// file, when there is one, has been written next to them by then.
func (s *stepCreateOverlay) Cleanup(state multistep.StateBag) {
	if s.workDir == "" {
		return
	}
	if err := os.RemoveAll(s.workDir); err != nil {
		state.Get("ui").(packersdk.Ui).Error(fmt.Sprintf("removing the build's work directory: %v", err))
	}
}

func orDefault(v any, def string) any {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return def
}

// halt records err for Packer and the user and stops the build: a bare
// ActionHalt would leave "build was halted" and nothing else.
func halt(state multistep.StateBag, err error) multistep.StepAction {
	state.Put("error", err)
	state.Get("ui").(packersdk.Ui).Error(err.Error())
	return multistep.ActionHalt
}
