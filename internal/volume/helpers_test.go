package volume

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// run runs a tool and fails the test with its output when it fails or is
// missing.
var run = testtool.CombinedOutput

// runStdin is run with text on standard input.
func runStdin(t testing.TB, stdin, name string, args ...string) {
	t.Helper()
	testtool.Require(t, name)
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

const MiB = 1 << 20

// sharedTestDir holds test disks that several tests copy.
var sharedTestDir string

func TestMain(m *testing.M) {
	var err error
	if sharedTestDir, err = os.MkdirTemp("", "diskimage-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(sharedTestDir)
	os.Exit(code)
}

// convertTo converts the raw disk src into the qcow2 dst with qemu-img.
func convertTo(t *testing.T, src, dst string, opts ...string) string {
	args := append([]string{"convert", "-O", "qcow2"}, opts...)
	run(t, "qemu-img", append(args, src, dst)...)
	return dst
}
