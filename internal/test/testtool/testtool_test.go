package testtool

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatalf instead of stopping.
type recorder struct {
	testing.TB
	failure string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.failure = fmt.Sprintf(format, args...) }

func TestRequireNamesThePackageOfAMissingTool(t *testing.T) {
	r := &recorder{TB: t}
	saved := debianPackages["tar"]
	t.Setenv("PATH", t.TempDir())
	Require(r, "tar")
	if !strings.Contains(r.failure, "missing") || !strings.Contains(r.failure, saved) {
		t.Errorf("failure %q must say tar is missing and name the package %q", r.failure, saved)
	}
}

func TestOutputKeepsStderrOutOfTheResult(t *testing.T) {
	if out := Output(t, "sh", "-c", "echo out; echo err >&2"); out != "out\n" {
		t.Errorf("Output = %q, want only standard output", out)
	}
	if out := CombinedOutput(t, "sh", "-c", "echo out; echo err >&2"); out != "out\nerr\n" {
		t.Errorf("CombinedOutput = %q, want both", out)
	}
}

func TestAFailingToolFailsTheTestWithItsOutput(t *testing.T) {
	for _, run := range []func(testing.TB, string, ...string) string{Output, CombinedOutput} {
		r := &recorder{TB: t}
		run(r, "sh", "-c", "echo what went wrong >&2; exit 3")
		if !strings.Contains(r.failure, "exit status 3") || !strings.Contains(r.failure, "what went wrong") {
			t.Errorf("failure %q must hold the exit status and the tool's message", r.failure)
		}
	}
}
