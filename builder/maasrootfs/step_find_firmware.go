package maasrootfs

import (
	"context"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// stepFindFirmware finds the guest's firmware files on the machine that
// runs the build, first of all, so that a missing OVMF stops the build
// before the cloud image is downloaded. Explicit firmware_code and
// firmware_vars are checked here too: they name the build host's files.
//
// Uses the firmware settings; produces the firmware (getFirmware).
type stepFindFirmware struct {
	root string // where the usual paths are looked for: "" is /
	arch string
	kind string // firmware
	code string // firmware_code
	vars string // firmware_vars
}

func (s *stepFindFirmware) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	root := s.root
	if root == "" {
		root = "/"
	}
	fw, err := qemu.FindFirmwareUnder(root, s.arch, s.kind, s.code, s.vars)
	if err != nil {
		return halt(state, fmt.Errorf("firmware: %w", err))
	}
	putFirmware(state, fw)
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepFindFirmware) Cleanup(multistep.StateBag) {}
