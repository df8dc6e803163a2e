package maasrootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExportQcow2LeavesNoPartialFile: a qcow2 export that fails or is
// cancelled halfway leaves neither the output file nor its partial one;
// one that succeeds leaves the output alone, with its hash.
func TestExportQcow2LeavesNoPartialFile(t *testing.T) {
	halfWritten := func(err func(ctx context.Context) error) func(context.Context, string, string) error {
		return func(ctx context.Context, _, dst string) error {
			if werr := os.WriteFile(dst, []byte("first clusters"), 0o600); werr != nil {
				return werr
			}
			return err(ctx)
		}
	}
	for _, tc := range []struct {
		name    string
		convert func(context.Context, string, string) error
		cancel  bool
		err     string
	}{
		{"qemu-img fails", halfWritten(func(context.Context) error { return errors.New("No space left on device") }), false,
			"No space left on device"},
		{"cancelled", halfWritten(func(ctx context.Context) error { return ctx.Err() }), true, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			step := &stepExport{driver: &fakeDriver{convert: tc.convert}, output: filepath.Join(out, "image.qcow2"),
				format: formatQcow2, arch: "amd64"}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			state, _ := testState()
			putOverlay(state, "/build/disk.qcow2")

			assert.Equal(t, multistep.ActionHalt, step.Run(ctx, state))
			assert.ErrorContains(t, getError(state), tc.err)
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			assert.Empty(t, entries, "the failed export left files")
		})
	}

	t.Run("succeeds", func(t *testing.T) {
		out := t.TempDir()
		output := filepath.Join(out, "image.qcow2")
		step := &stepExport{driver: &fakeDriver{}, output: output, format: formatQcow2, arch: "amd64"}
		state, _ := testState()
		putOverlay(state, "/build/disk.qcow2")

		require.Equal(t, multistep.ActionContinue, step.Run(context.Background(), state), "error: %v", getError(state))
		data, err := os.ReadFile(output)
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		res := getResult(state)
		assert.Equal(t, hex.EncodeToString(sum[:]), res.SHA256)
		assert.Equal(t, int64(len(data)), res.Size)
		assert.Equal(t, "amd64/generic", res.Architecture)
		assert.NoFileExists(t, output+".partial")
	})
}
