package maasrootfs

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// testState is a state bag with a UI that writes to the returned buffer.
func testState() (*multistep.BasicStateBag, *bytes.Buffer) {
	var ui bytes.Buffer
	state := new(multistep.BasicStateBag)
	putUI(state, &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
	return state, &ui
}

// TestShutdownLadder walks the stop ladder against a guest that powers
// off, does not, or whose QMP fails. The fake guest never exits on its
// own, so a 1 ns shutdown_timeout decides each rung without a race: when
// it matters, the guest has exited before the time runs out or not at all.
func TestShutdownLadder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		asked      bool // generalize asked the guest to power off
		poweredOff bool // and it had done so
		obeysACPI  bool
		qmpBroken  bool
		timeout    time.Duration // shutdown_timeout
		want       multistep.StepAction
		ladder     []string
		say        string // in the UI
		err        []string
	}{
		{name: "powered off after generalize", asked: true, poweredOff: true, timeout: time.Hour,
			want: multistep.ActionContinue, say: "The guest powered off"},
		{name: "powers off at the power button", asked: true, obeysACPI: true, timeout: time.Nanosecond,
			want: multistep.ActionContinue, ladder: []string{"powerdown"}, say: "pressing the ACPI power button"},
		{name: "generalize did not ask: the button at once", obeysACPI: true, timeout: time.Hour,
			want: multistep.ActionContinue, ladder: []string{"powerdown"}, say: "The guest powered off"},
		{name: "ignores the power button", asked: true, timeout: time.Nanosecond,
			want: multistep.ActionHalt, ladder: []string{"powerdown", "quit"},
			err: []string{"the guest did not power off (raise shutdown_timeout if it is slow)", "QEMU quit", "Reached target Power-Off."}},
		{name: "QMP fails", asked: true, qmpBroken: true, timeout: time.Nanosecond,
			want: multistep.ActionHalt, ladder: []string{"powerdown", "quit", "kill"},
			err: []string{"ACPI power-down failed (QMP: connection reset by peer), QEMU killed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm := newFakeMachine()
			vm.obeysACPI, vm.qmpBroken = tc.obeysACPI, tc.qmpBroken
			if tc.poweredOff {
				vm.exit()
			}
			state, ui := testState()
			putVM(state, vm)
			if tc.asked {
				putShutdownAsked(state)
			}

			assert.Equal(t, tc.want, (&stepShutdown{timeout: tc.timeout}).Run(context.Background(), state), "UI:\n%s", ui)
			assert.Equal(t, tc.ladder, vm.ladder())
			assert.False(t, vm.running(), "QEMU is left running")
			assert.Contains(t, ui.String(), tc.say)
			if tc.want == multistep.ActionHalt {
				require.ErrorIs(t, getError(state), qemu.ErrForcedStop)
				for _, want := range tc.err {
					assert.ErrorContains(t, getError(state), want)
				}
			}
		})
	}
}

// TestShutdownCancelled: Ctrl-C while the guest powers off halts the step
// at once, without pressing any button; stepRunQEMU's Cleanup stops it.
func TestShutdownCancelled(t *testing.T) {
	vm := newFakeMachine()
	state, _ := testState()
	putVM(state, vm)
	putShutdownAsked(state)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	assert.Equal(t, multistep.ActionHalt, (&stepShutdown{timeout: time.Hour}).Run(ctx, state))
	assert.ErrorContains(t, getError(state), "cancelled while waiting for the guest to power off")
	assert.Empty(t, vm.ladder())
}
