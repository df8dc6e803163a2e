package maasrootfs

import (
	"bytes"
	"context"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/generalize"
	"github.com/c34478be/packer-plugin-maas/internal/guestcmd"
	"github.com/c34478be/packer-plugin-maas/internal/lines"
)

// stepCheckGuest checks, once cloud-init is done and before the
// provisioners run, what the settings need of the guest and only the
// guest can tell: that remove_kernel can work (MAAS installs a kernel on
// deploy only into Debian-family images; a RHEL or SUSE image boots the
// kernel it holds). It runs internal/generalize's check script, which
// decides the image's family as generalize will: finding out at
// generalize would waste the provisioning.
//
// Uses the communicator (getComm); produces nothing.
type stepCheckGuest struct {
	settings generalize.Settings // those of the generalize step
}

func (s *stepCheckGuest) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	if !s.settings.RemoveKernel {
		return multistep.ActionContinue
	}
	script, err := generalize.CheckScript(s.settings)
	if err != nil {
		return halt(state, err)
	}
	// One stream, so that the reason is the last line.
	code, out, err := guestcmd.RunWithUi(ctx, getComm(state), getUI(state), checkCommand, bytes.NewReader(script))
	switch {
	case err != nil:
		return halt(state, fmt.Errorf("checking the guest for remove_kernel: %w", err))
	case code != 0:
		return halt(state, fmt.Errorf("checking the guest for remove_kernel (exit %d): %s", code, lines.Last(out, 1)))
	}
	return multistep.ActionContinue
}

// checkCommand runs the check script, as the build user: it needs no root.
const checkCommand = "sh -s 2>&1"

// Cleanup has nothing to do.
func (s *stepCheckGuest) Cleanup(multistep.StateBag) {}
