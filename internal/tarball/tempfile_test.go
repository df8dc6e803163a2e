package tarball

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writerEnv makes the test binary a writer of the file it names: it
// starts the gzip file, says so on stdout, and finishes it when stdin
// closes, as a long export would.
const writerEnv = "ROOTFS_TEST_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		os.Exit(runWriter(path))
	}
	os.Exit(m.Run())
}

func runWriter(path string) int {
	_, err := WriteTGZ(context.Background(), path, 1, func(w io.Writer) error {
		if _, err := w.Write([]byte("half an export")); err != nil {
			return err
		}
		fmt.Println("writing")
		_, err := io.Copy(io.Discard, os.Stdin)
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// writer is a test binary writing path in a child process.
type writer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startWriter returns once the child has created its temporary file.
func startWriter(t *testing.T, path string) *writer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the writer child died before writing")
	require.Equal(t, "writing\n", line)
	return &writer{cmd: cmd, stdin: stdin}
}

// hiddenFiles lists the names in dir that start with a dot.
func hiddenFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var hidden []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			hidden = append(hidden, e.Name())
		}
	}
	return hidden
}

// TestNextRunRemovesTheTempFileOfAKilledRun: a run killed by SIGKILL
// cannot clean up; the next run for the same output removes what it
// left, but not the temporary file of a run still writing, nor those of
// other outputs.
func TestNextRunRemovesTheTempFileOfAKilledRun(t *testing.T) {
	dir := t.TempDir()
	output := filepath.Join(dir, "root.tar.gz")

	live := startWriter(t, output)
	liveTemp := hiddenFiles(t, dir)
	require.Len(t, liveTemp, 1)
	killed := startWriter(t, output)
	require.NoError(t, killed.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, killed.cmd.Wait())
	var leftover string
	for _, name := range hiddenFiles(t, dir) {
		if name != liveTemp[0] {
			leftover = name
		}
	}
	require.NotEmpty(t, leftover, "SIGKILL leaves the temporary file behind")
	others := []string{".root.tar.gz.0123456789abcdef.maas-tmp.keep", ".other.tar.gz.0123456789abcdef.maas-tmp", ".root.tar.gz.notes"}
	for _, name := range others {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
	}

	out, err := WriteTGZ(context.Background(), output, 1, func(w io.Writer) error {
		_, err := w.Write([]byte("the whole export"))
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, leftover)}, out.RemovedTemps)
	assert.Equal(t, "the whole export", run(t, "gzip", "-dc", output))
	assert.ElementsMatch(t, append(liveTemp, others...), hiddenFiles(t, dir),
		"only the killed run's temporary file of this output is removed")

	// The live run finishes undisturbed.
	require.NoError(t, live.stdin.Close())
	require.NoError(t, live.cmd.Wait())
	assert.Equal(t, "half an export", run(t, "gzip", "-dc", output))
	assert.ElementsMatch(t, others, hiddenFiles(t, dir))
}

func TestIsTempFor(t *testing.T) {
	for name, want := range map[string]bool{
		".root.tar.gz.0123456789abcdef.maas-tmp":   true,
		".root.tar.gz.0123456789abcdeg.maas-tmp":   false,
		".root.tar.gz.0123456789abcde.maas-tmp":    false,
		".root.tar.gz.x.0123456789abcdef.maas-tmp": false,
		".root.tar.gz.tmp-123456":                  false,
		"root.tar.gz.0123456789abcdef.maas-tmp":    false,
	} {
		assert.Equal(t, want, isTempFor(name, "root.tar.gz"), name)
	}
	assert.False(t, isTempFor(".root.tar.gz.0123456789abcdef.maas-tmp", "root.tar"), "another output's")
}
