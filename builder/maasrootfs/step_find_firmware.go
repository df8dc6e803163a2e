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
type stepFindFirmware struct{}

func (s *stepFindFirmware) Run(_ context.Context, state multistep.StateBag) multistep.StepAction {
	c := state.Get("config").(*Config)
	root := c.firmwareRoot
	if root == "" {
		root = "/"
	}
	fw, err := qemu.FindFirmwareUnder(root, c.Architecture, c.Firmware, c.FirmwareCode, c.FirmwareVars)
	if err != nil {
		return halt(state, fmt.Errorf("firmware: %w", err))
	}
	state.Put(stateFirmware, fw)
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepFindFirmware) Cleanup(multistep.StateBag) {}
