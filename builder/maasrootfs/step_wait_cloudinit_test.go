package maasrootfs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// guestCommands stands in for the SSH communicator: like it, it copies a
// command's stdout and stderr in two goroutines, then sets the exit status.
// (go test -race caught the shared buffer this way.)
type guestCommands struct {
	packersdk.Communicator
	answers map[string]guestAnswer
	ran     []string
}

type guestAnswer struct {
	code           int
	stdout, stderr string
}

func (g *guestCommands) Start(_ context.Context, cmd *packersdk.RemoteCmd) error {
	g.ran = append(g.ran, cmd.Command)
	answer, ok := g.answers[cmd.Command]
	if !ok {
		return fmt.Errorf("unexpected command %q", cmd.Command)
	}
	go func() {
		var copies sync.WaitGroup
		for _, stream := range []struct {
			w    io.Writer
			text string
		}{{cmd.Stdout, answer.stdout}, {cmd.Stderr, answer.stderr}} {
			copies.Add(1)
			go func() {
				defer copies.Done()
				for _, b := range []byte(stream.text) { // as small SSH packets
					_, _ = stream.w.Write([]byte{b})
				}
			}()
		}
		copies.Wait()
		cmd.SetExited(answer.code)
	}()
	return nil
}

func runWaitCloudInit(t *testing.T, comm packersdk.Communicator) (multistep.StepAction, string, multistep.StateBag) {
	var ui bytes.Buffer
	state := new(multistep.BasicStateBag)
	state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
	state.Put("communicator", comm)
	action := (&stepWaitCloudInit{}).Run(context.Background(), state)
	return action, ui.String(), state
}

func TestWaitCloudInitShowsTheFailedStatus(t *testing.T) {
	status := "status: error\ntime: Thu, 26 Nov 2026 11:00:00 +0000\ndetail:\n('scripts-user', RuntimeError('Runparts: 1 failures'))"
	comm := &guestCommands{answers: map[string]guestAnswer{
		"cloud-init status --wait --long": {1, "....\n" + status + "\n", ""},
	}}
	action, ui, state := runWaitCloudInit(t, comm)
	assert.Equal(t, multistep.ActionHalt, action)
	assert.Contains(t, ui, "  status: error\n")
	assert.Contains(t, ui, "  ('scripts-user', RuntimeError('Runparts: 1 failures'))\n", "every line of the status, not the first")
	assert.NotContains(t, ui, "....")
	require.ErrorContains(t, state.Get("error").(error), "cloud-init failed in the build VM (exit 1)")
	assert.Len(t, comm.ran, 1)
}

func TestWaitCloudInitAsksAgainWhenTheStatusIsMissing(t *testing.T) {
	comm := &guestCommands{answers: map[string]guestAnswer{
		"cloud-init status --wait --long": {1, "...", ""},
		"cloud-init status --long":        {1, "status: error\ndetail:\nscripts-user failed\n", ""},
	}}
	action, ui, _ := runWaitCloudInit(t, comm)
	assert.Equal(t, multistep.ActionHalt, action)
	assert.Contains(t, ui, "  status: error\n")
	assert.Contains(t, ui, "  scripts-user failed\n")
}

func TestWaitCloudInitPassesQuietly(t *testing.T) {
	comm := &guestCommands{answers: map[string]guestAnswer{
		"cloud-init status --wait --long": {0, "....\nstatus: done\n", ""},
	}}
	action, ui, _ := runWaitCloudInit(t, comm)
	assert.Equal(t, multistep.ActionContinue, action)
	assert.Equal(t, "Waiting for cloud-init to finish...\n", strings.TrimLeft(ui, "=> "))
}
