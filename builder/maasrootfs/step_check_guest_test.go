package maasrootfs

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
	"github.com/c34478be/packer-plugin-maas/internal/test/fakecomm"
)

// TestCheckGuestRemoveKernel checks that remove_kernel on an image
// without dpkg stops the build before the provisioners run, saying why,
// and that the check asks nothing of the guest when remove_kernel is off.
func TestCheckGuestRemoveKernel(t *testing.T) {
	for _, tc := range []struct {
		name         string
		removeKernel bool
		dpkgStatus   int
		want         multistep.StepAction
	}{
		{"dpkg image", true, 0, multistep.ActionContinue},
		{"rpm image", true, 1, multistep.ActionHalt},
		{"remove_kernel off", false, 1, multistep.ActionContinue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{
				"command -v dpkg-query": {Code: tc.dpkgStatus, Stdout: map[bool]string{true: "/usr/bin/dpkg-query\n"}[tc.dpkgStatus == 0]},
			}}
			var ui bytes.Buffer
			state := new(multistep.BasicStateBag)
			state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
			state.Put("communicator", comm)
			assert.Equal(t, tc.want, (&stepCheckGuest{removeKernel: tc.removeKernel}).Run(context.Background(), state))
			if !tc.removeKernel {
				assert.Empty(t, comm.Ran())
			}
			if tc.want == multistep.ActionHalt {
				require.ErrorContains(t, state.Get("error").(error), "remove_kernel needs a dpkg-based image")
				assert.ErrorContains(t, state.Get("error").(error), "remove remove_kernel")
			}
		})
	}
}

// TestStepsCheckGuestBeforeProvisioning checks where the checks run: the
// firmware before the download, the guest before the provisioners.
func TestStepsCheckGuestBeforeProvisioning(t *testing.T) {
	var b Builder
	_, _, err := b.Prepare(validSettings(t))
	require.NoError(t, err)
	var names []string
	steps, err := b.steps(newPhases(time.Now), qemuDriver{})
	require.NoError(t, err)
	for _, s := range steps {
		if ts, ok := s.(*timedStep); ok {
			names = append(names, ts.name)
		} else if _, ok := s.(*stepCheckGuest); ok {
			names = append(names, "check guest")
		} else if _, ok := s.(*stepFindFirmware); ok {
			names = append(names, "find firmware")
		}
	}
	assert.Equal(t, []string{"find firmware", "download", "boot to SSH", "cloud-init", "check guest", "provisioning", "generalize", "shutdown", "export"}, names)
}

// TestGeneratedDataTellsRemoveKernel checks that the provisioners learn of
// remove_kernel through the data StepProvision hands them.
func TestGeneratedDataTellsRemoveKernel(t *testing.T) {
	for _, remove := range []bool{true, false} {
		settings := validSettings(t)
		settings["remove_kernel"] = remove
		var b Builder
		_, _, err := b.Prepare(settings)
		require.NoError(t, err)
		state, _ := b.newState(&packersdk.BasicUi{}, nil)
		assert.Equal(t, remove, commonsteps.PopulateProvisionHookData(state)[curtinhook.GeneratedRemoveKernel])
	}
}
