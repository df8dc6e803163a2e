package maasrootfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/guestcmd"
)

// errRemoveKernelNeedsDpkg is why remove_kernel stops a build of an image
// without dpkg: MAAS installs a kernel on deploy only into Debian-family
// images; a RHEL or SUSE image boots the kernel it holds.
var errRemoveKernelNeedsDpkg = errors.New("remove_kernel needs a dpkg-based image (Debian, Ubuntu), and this one has no dpkg-query: " +
	"MAAS installs its own kernel on deploy only into those, and an rpm-based image (RHEL, SUSE) must keep its kernel to boot; remove remove_kernel")

// stepCheckGuest checks, once cloud-init is done and before the
// provisioners run, what the settings need of the guest and only the
// guest can tell: that remove_kernel can work. Finding out at generalize
// would waste the provisioning.
//
// Uses the communicator (getComm); produces nothing.
type stepCheckGuest struct {
	removeKernel bool // remove_kernel
}

func (s *stepCheckGuest) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	if !s.removeKernel {
		return multistep.ActionContinue
	}
	code, _, err := guestcmd.Run(ctx, getComm(state), "command -v dpkg-query")
	switch {
	case err != nil:
		return halt(state, fmt.Errorf("checking the guest for remove_kernel: %w", err))
	case code != 0:
		return halt(state, errRemoveKernelNeedsDpkg)
	}
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepCheckGuest) Cleanup(multistep.StateBag) {}
