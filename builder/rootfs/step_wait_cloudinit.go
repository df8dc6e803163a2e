package rootfs

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// Exit codes of `cloud-init status --wait`: 2 (cloud-init 23.4 and newer)
// means it finished with recoverable errors such as deprecated keys.
const cloudInitRecoverable = 2

// stepWaitCloudInit waits for cloud-init to finish, so provisioners see
// the machine as cloud-init left it (users, packages, grown disk), and
// fails the build when cloud-init failed.
type stepWaitCloudInit struct{}

func (s *stepWaitCloudInit) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := state.Get("ui").(packersdk.Ui)
	comm := state.Get("communicator").(packersdk.Communicator)
	ui.Say("Waiting for cloud-init to finish...")
	code, out, err := runRemote(ctx, comm, ui, "cloud-init status --wait --long", nil)
	switch {
	case err != nil:
		return halt(state, fmt.Errorf("cloud-init status: %w", err))
	case code == cloudInitRecoverable:
		ui.Say("cloud-init finished with recoverable errors (see above)")
	case code != 0:
		return halt(state, fmt.Errorf("cloud-init failed in the build VM (exit %d); check user_data:\n%s", code, out))
	}
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepWaitCloudInit) Cleanup(multistep.StateBag) {}

// runRemote runs command in the guest, shows its output and returns its
// exit status and combined output (trimmed). err is for when it could not
// run at all.
func runRemote(ctx context.Context, comm packersdk.Communicator, ui packersdk.Ui, command string, stdin []byte) (int, string, error) {
	var out bytes.Buffer
	cmd := &packersdk.RemoteCmd{Command: command, Stdout: &out, Stderr: &out}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.RunWithUi(ctx, comm, ui); err != nil {
		return 0, strings.TrimSpace(out.String()), err
	}
	return cmd.ExitStatus(), strings.TrimSpace(out.String()), nil
}
