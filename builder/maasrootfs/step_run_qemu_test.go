package maasrootfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/communicator"
	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// stepFunc is a step that does what run says.
type stepFunc func(context.Context, multistep.StateBag) multistep.StepAction

func (f stepFunc) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	return f(ctx, state)
}
func (f stepFunc) Cleanup(multistep.StateBag) {}

// TestFailedOrCancelledBuildLeavesNothing runs the steps from the overlay
// to the VM as the build does, then fails or cancels the build: the
// Cleanups must leave no QEMU running and remove the overlay, the seed and
// the QMP socket's directory, keeping output_directory.
func TestFailedOrCancelledBuildLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(cancel context.CancelFunc) multistep.Step
	}{
		{"a later step fails", func(context.CancelFunc) multistep.Step {
			return stepFunc(func(_ context.Context, state multistep.StateBag) multistep.StepAction {
				return halt(state, errors.New("provisioning failed"))
			})
		}},
		{"cancelled while the guest powers off", func(cancel context.CancelFunc) multistep.Step {
			return stepFunc(func(ctx context.Context, state multistep.StateBag) multistep.StepAction {
				putShutdownAsked(state)
				cancel() // Ctrl-C
				return (&stepShutdown{timeout: time.Hour}).Run(ctx, state)
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			base := filepath.Join(t.TempDir(), "cloud.img")
			require.NoError(t, os.WriteFile(base, []byte("raw cloud image"), 0o600))
			d := &fakeDriver{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			state, ui := testState()
			state.Put(keyImagePath, base)
			putFirmware(state, qemu.Firmware{Kind: qemu.FirmwareBIOS})
			overlay := &stepCreateOverlay{driver: d, outputDir: out}
			comm := &communicator.Config{SSH: communicator.SSH{SSHUsername: "packer-maas"}}

			(&multistep.BasicRunner{Steps: []multistep.Step{
				overlay,
				&stepCreateSeed{comm: comm},
				&stepRunQEMU{driver: d, accelerator: "tcg", outputDir: out,
					vm: qemu.Config{Arch: "amd64", CPUs: 1, MemoryMiB: 512}},
				tc.end(cancel),
			}}).Run(ctx, state)

			require.NotNil(t, d.machine, "QEMU was not started: %s", ui)
			assert.False(t, d.machine.running(), "QEMU is left running")
			assert.Equal(t, []string{"kill"}, d.machine.ladder())
			assert.Contains(t, ui.String(), "Stopping QEMU")
			assert.NotEmpty(t, overlay.workDir)
			assert.NoDirExists(t, overlay.workDir, "the overlay and seed are left behind")
			assert.NoDirExists(t, filepath.Dir(d.started[0].QMPSocket))
			assert.DirExists(t, out)
		})
	}
}
