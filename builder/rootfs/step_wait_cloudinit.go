package rootfs

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"sync"

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
	// Its progress dots and status lines are shown only when they matter.
	code, out, err := runRemoteQuietly(ctx, comm, "cloud-init status --wait --long")
	out = strings.TrimSpace(strings.TrimLeft(out, ".")) // --wait's progress dots
	if err == nil && code != 0 && !strings.Contains(out, "status:") {
		// Seen once in CI: exit 1 and no status at all. Ask again, now
		// that cloud-init is done, so the user still learns why.
		log.Printf("cloud-init status --wait exited %d with output %q; asking again", code, out)
		if _, again, err := runRemoteQuietly(ctx, comm, "cloud-init status --long"); err == nil && again != "" {
			out = again
		}
	}
	switch {
	case err != nil:
		return halt(state, fmt.Errorf("cloud-init status: %w", err))
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

// runRemoteQuietly runs command in the guest and returns its exit status
// and combined output (trimmed) without showing it. err is for when it
// could not run at all.
func runRemoteQuietly(ctx context.Context, comm packersdk.Communicator, command string) (int, string, error) {
	var out outputBuffer
	cmd := &packersdk.RemoteCmd{Command: command, Stdout: &out, Stderr: &out}
	if err := comm.Start(ctx, cmd); err != nil {
		return 0, "", err
	}
	exited := make(chan int, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case code := <-exited:
		return code, strings.TrimSpace(out.String()), nil
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

// runRemote runs command in the guest, shows its output and returns its
// exit status and combined output (trimmed). err is for when it could not
// run at all.
func runRemote(ctx context.Context, comm packersdk.Communicator, ui packersdk.Ui, command string, stdin []byte) (int, string, error) {
	var out outputBuffer
	cmd := &packersdk.RemoteCmd{Command: command, Stdout: &out, Stderr: &out}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.RunWithUi(ctx, comm, ui); err != nil {
		return 0, strings.TrimSpace(out.String()), err
	}
	return cmd.ExitStatus(), strings.TrimSpace(out.String()), nil
}

// outputBuffer collects a remote command's stdout and stderr together, in
// the order they arrive. The SSH communicator copies each stream in its
// own goroutine, so a bytes.Buffer given as both would be written to
// concurrently.
type outputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
