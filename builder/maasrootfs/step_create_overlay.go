package maasrootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// stepCreateOverlay makes the build's work directory in the output
// directory and the VM's disk in it: a qcow2 overlay whose backing file is
// the cached cloud image, which therefore stays untouched, grown to
// disk_size.
//
// Uses the cloud image (getImagePath, getSourceURL); produces the work
// directory (getWorkDir) and the disk (getOverlay), and removes both in
// Cleanup.
type stepCreateOverlay struct {
	driver    driver
	outputDir string // output_directory
	imageURL  string // image_url, named in errors when the download step has no URL
	diskSize  int64  // disk_size in bytes, 0 to keep the image's

	workDir string
}

func (s *stepCreateOverlay) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	base, err := filepath.Abs(getImagePath(state))
	if err != nil {
		return halt(state, fmt.Errorf("cloud image path: %w", err))
	}
	outputDir, err := filepath.Abs(s.outputDir)
	if err == nil {
		s.workDir, err = os.MkdirTemp(outputDir, ".build-")
	}
	if err != nil {
		return halt(state, fmt.Errorf("work directory in %s: %w", s.outputDir, err))
	}
	putWorkDir(state, s.workDir)

	if _, err := diskimage.DetectFormat(base); err != nil {
		return halt(state, fmt.Errorf("image_url: the cloud image %s: %w", base, err))
	}
	if err := qemu.CheckSelfContained(base); err != nil {
		return halt(state, fmt.Errorf("image_url %s: %w", orDefault(getSourceURL(state), s.imageURL), err))
	}
	overlay := filepath.Join(s.workDir, "disk.qcow2")
	if err := s.driver.CreateOverlay(ctx, base, overlay, s.diskSize); err != nil {
		return halt(state, fmt.Errorf("creating the VM's disk on %s (check disk_size): %w", base, err))
	}
	size, err := s.driver.VirtualSize(ctx, overlay)
	if err != nil {
		return halt(state, err)
	}
	ui.Sayf("VM disk: %s, %d MiB, on %s", overlay, size>>20, base)
	putOverlay(state, overlay)
	return multistep.ActionContinue
}

// Cleanup removes the overlay, the seed and the UEFI variables: the image
// file, when there is one, has been written next to them by then.
func (s *stepCreateOverlay) Cleanup(state multistep.StateBag) {
	if s.workDir == "" {
		return
	}
	if err := os.RemoveAll(s.workDir); err != nil {
		getUI(state).Error(fmt.Sprintf("removing the build's work directory: %v", err))
	}
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// halt records err for Packer and the user and stops the build: a bare
// ActionHalt would leave "build was halted" and nothing else.
func halt(state multistep.StateBag, err error) multistep.StepAction {
	putError(state, err)
	getUI(state).Error(err.Error())
	return multistep.ActionHalt
}
