package fakecomm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// run starts command on comm the way Packer's steps do and waits for it.
func run(t *testing.T, comm packersdk.Communicator, command string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	cmd := &packersdk.RemoteCmd{Command: command, Stdout: &out, Stderr: &errOut}
	require.NoError(t, comm.Start(context.Background(), cmd))
	code = cmd.Wait()
	return code, out.String(), errOut.String()
}

func TestScriptedAnswersFromItsTable(t *testing.T) {
	comm := &Scripted{Answers: map[string]Answer{
		"uname -m": {0, "x86_64\n", ""},
		"false":    {3, "", "no\n"},
	}}
	code, out, _ := run(t, comm, "uname -m")
	assert.Equal(t, 0, code)
	assert.Equal(t, "x86_64\n", out)
	code, _, errOut := run(t, comm, "false")
	assert.Equal(t, 3, code)
	assert.Equal(t, "no\n", errOut)
	require.ErrorContains(t, comm.Start(context.Background(), &packersdk.RemoteCmd{Command: "reboot"}), `unexpected command "reboot"`)
	assert.Equal(t, []string{"uname -m", "false", "reboot"}, comm.Ran())
}

func TestLocalRunsOnThisHost(t *testing.T) {
	testtool.Require(t, "sh")
	comm := &Local{}
	code, out, errOut := run(t, comm, "echo out; echo err >&2; exit 4")
	assert.Equal(t, 4, code)
	assert.Equal(t, "out\n", out)
	assert.Equal(t, "err\n", errOut)

	dst := filepath.Join(t.TempDir(), "uploaded")
	require.NoError(t, comm.Upload(dst, strings.NewReader("data"), nil))
	data, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "data", string(data))
	assert.Error(t, comm.UploadDir("a", "b", nil))
	assert.Equal(t, []string{"echo out; echo err >&2; exit 4"}, comm.Commands())
}
