package maasrootfs

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/guestcmd"
)

// Exit codes of `cloud-init status --wait`: 2 (cloud-init 23.4 and newer)
// means it finished with recoverable errors such as deprecated keys.
const cloudInitRecoverable = 2

// stepWaitCloudInit waits for cloud-init to finish, so provisioners see
// the machine as cloud-init left it (users, packages, grown disk), and
// fails the build when cloud-init failed.
//
// Uses the communicator (getComm); produces nothing.
type stepWaitCloudInit struct{}

func (s *stepWaitCloudInit) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	comm := getComm(state)
	ui.Say("Waiting for cloud-init to finish...")
	// Its progress dots and status lines are shown only when they matter.
	code, out, err := guestcmd.Run(ctx, comm, "cloud-init status --wait --long")
	out = strings.TrimSpace(strings.TrimLeft(out, ".")) // --wait's progress dots
	if err == nil && code != 0 && !strings.Contains(out, "status:") {
		// Seen once in CI: exit 1 and no status at all. Ask again, now
		// that cloud-init is done, so the user still learns why.
		log.Printf("cloud-init status --wait exited %d with output %q; asking again", code, out)
		if _, again, err := guestcmd.Run(ctx, comm, "cloud-init status --long"); err == nil && strings.TrimSpace(again) != "" {
			out = strings.TrimSpace(again)
		}
	}
	switch {
	case err != nil:
		return halt(state, fmt.Errorf("waiting for cloud-init: %w", err))
	case code == cloudInitRecoverable:
		ui.Say("cloud-init finished with recoverable errors:")
		sayLines(ui, out)
	case code != 0:
		ui.Error("cloud-init status in the build VM:")
		sayLines(ui, out)
		return halt(state, fmt.Errorf("cloud-init failed in the build VM (exit %d): see its status above, and check user_data", code))
	}
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepWaitCloudInit) Cleanup(multistep.StateBag) {}

// sayLines shows text one line at a time: given cloud-init's status as one
// multi-line error, Packer 1.9.4's terminal showed only its first line
// (its log had them all).
func sayLines(ui packersdk.Ui, text string) {
	for _, line := range strings.Split(text, "\n") {
		ui.Say("  " + line)
	}
}
