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

// TestCheckGuestRemoveKernel checks that remove_kernel on an image the
// check script refuses stops the build before the provisioners run, with
// the script's reason, that the user sees what the script prints, and
// that the check asks nothing of the guest when remove_kernel is off
// (internal/generalize tests the script itself).
func TestCheckGuestRemoveKernel(t *testing.T) {
	refusal := "remove_kernel is for Debian-family images (Debian, Ubuntu) only, and this one is a RHEL-family image (ID=rocky): ...; remove remove_kernel"
	for _, tc := range []struct {
		name         string
		removeKernel bool
		answer       fakecomm.Answer
		want         multistep.StepAction
	}{
		{"debian image", true, fakecomm.Answer{Stdout: "packer-maas: image family: debian (ID=debian)\n"}, multistep.ActionContinue},
		{"rocky image", true, fakecomm.Answer{Code: 1, Stdout: "packer-maas: image family: rhel (ID=rocky)\n" + refusal + "\n"}, multistep.ActionHalt},
		{"remove_kernel off", false, fakecomm.Answer{Code: 1}, multistep.ActionContinue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comm := &fakecomm.Scripted{Answers: map[string]fakecomm.Answer{checkCommand: tc.answer}}
			var ui bytes.Buffer
			state := new(multistep.BasicStateBag)
			state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
			state.Put("communicator", comm)
			c := preparedConfig(t, map[string]interface{}{"remove_kernel": tc.removeKernel})
			assert.Equal(t, tc.want, (&stepCheckGuest{settings: c.generalizeSettings()}).Run(context.Background(), state))
			if !tc.removeKernel {
				assert.Empty(t, comm.Ran())
				return
			}
			assert.Equal(t, []string{"sh -s 2>&1"}, comm.Ran(), "the check needs no root")
			assert.Contains(t, ui.String(), "image family: ")
			if tc.want == multistep.ActionHalt {
				require.EqualError(t, state.Get("error").(error), "checking the guest for remove_kernel (exit 1): "+refusal)
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
