package testtool

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Fatalf and Skipf instead of
// stopping; only the first of each is kept.
type recorder struct {
	testing.TB
	failure, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	if r.failure == "" {
		r.failure = fmt.Sprintf(format, args...)
	}
}
func (r *recorder) Skipf(format string, args ...any) {
	if r.skip == "" {
		r.skip = fmt.Sprintf(format, args...)
	}
}

func TestRequireNamesThePackageOfAMissingTool(t *testing.T) {
	t.Setenv(AcceptanceEnv, "1")
	r := &recorder{TB: t}
	saved := debianPackages["tar"]
	t.Setenv("PATH", t.TempDir())
	Require(r, "tar")
	if !strings.Contains(r.failure, "missing") || !strings.Contains(r.failure, saved) {
		t.Errorf("failure %q must say tar is missing and name the package %q", r.failure, saved)
	}
	if r.skip != "" {
		t.Errorf("with %s set, a missing tool must fail, not skip (%q)", AcceptanceEnv, r.skip)
	}
}

// The unit tier is what `go test ./...` runs: a test that needs a host
// tool skips there, present or not, and says how to run it.
func TestRequireSkipsOutsideTheAcceptanceTier(t *testing.T) {
	t.Setenv(AcceptanceEnv, "")
	for name, require := range map[string]func(testing.TB){
		"tool": func(tb testing.TB) { Require(tb, "sh", "tar") },
		"root": RequireRoot,
	} {
		r := &recorder{TB: t}
		require(r)
		if !strings.Contains(r.skip, AcceptanceEnv+"=1") {
			t.Errorf("%s: skip message %q must name %s", name, r.skip, AcceptanceEnv)
		}
	}
	r := &recorder{TB: t}
	Require(r, "sh", "tar")
	if !strings.Contains(r.skip, "sh, tar") {
		t.Errorf("skip message %q must name the tools", r.skip)
	}
}

func TestRequireRootInTheAcceptanceTier(t *testing.T) {
	t.Setenv(AcceptanceEnv, "1")
	r := &recorder{TB: t}
	RequireRoot(r)
	if r.skip != "" {
		t.Errorf("with %s set, RequireRoot must not skip (%q)", AcceptanceEnv, r.skip)
	}
	if root := os.Geteuid() == 0; root != (r.failure == "") {
		t.Errorf("as uid %d, RequireRoot failed with %q", os.Geteuid(), r.failure)
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
	Require(t, "sh") // the recorder below would not stop at the gate
	for _, run := range []func(testing.TB, string, ...string) string{Output, CombinedOutput} {
		r := &recorder{TB: t}
		run(r, "sh", "-c", "echo what went wrong >&2; exit 3")
		if !strings.Contains(r.failure, "exit status 3") || !strings.Contains(r.failure, "what went wrong") {
			t.Errorf("failure %q must hold the exit status and the tool's message", r.failure)
		}
	}
}
