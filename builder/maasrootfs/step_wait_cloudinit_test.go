package maasrootfs

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakecomm"
)

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
	comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{
		"cloud-init status --wait --long": {Code: 1, Stdout: "....\n" + status + "\n"},
	}}
	action, ui, state := runWaitCloudInit(t, comm)
	assert.Equal(t, multistep.ActionHalt, action)
	assert.Contains(t, ui, "  status: error\n")
	assert.Contains(t, ui, "  ('scripts-user', RuntimeError('Runparts: 1 failures'))\n", "every line of the status, not the first")
	assert.NotContains(t, ui, "....")
	require.ErrorContains(t, state.Get("error").(error), "cloud-init failed in the build VM (exit 1)")
	assert.Len(t, comm.Ran(), 1)
}

func TestWaitCloudInitAsksAgainWhenTheStatusIsMissing(t *testing.T) {
	comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{
		"cloud-init status --wait --long": {Code: 1, Stdout: "..."},
		"cloud-init status --long":        {Code: 1, Stdout: "status: error\ndetail:\nscripts-user failed\n"},
	}}
	action, ui, _ := runWaitCloudInit(t, comm)
	assert.Equal(t, multistep.ActionHalt, action)
	assert.Contains(t, ui, "  status: error\n")
	assert.Contains(t, ui, "  scripts-user failed\n")
}

func TestWaitCloudInitPassesQuietly(t *testing.T) {
	comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{
		"cloud-init status --wait --long": {Code: 0, Stdout: "....\nstatus: done\n"},
	}}
	action, ui, _ := runWaitCloudInit(t, comm)
	assert.Equal(t, multistep.ActionContinue, action)
	assert.Equal(t, "Waiting for cloud-init to finish...\n", strings.TrimLeft(ui, "=> "))
}
