package testtool

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// childEnv marks the test binary re-run by InChild.
const childEnv = "TESTTOOL_CHILD_TEST"

// InChild runs the test named t.Name() alone in a new process of the test
// binary and returns that process's peak resident memory in bytes, or
// reports false when called in the child itself, which then runs the
// test's body.
//
// Hostile inputs are measured this way because it is the only measure
// that covers every way a parser can blow up: Go aborts on a failed huge
// allocation with "fatal error: out of memory", which no recover catches
// and which would kill the whole test binary, and a child's peak RSS
// (getrusage ru_maxrss) counts every page touched, including memory the
// Go heap statistics do not see and memory freed again before the call
// returns; it does not depend on GC timing or on what other tests of the
// parent allocate at the same time. The child's output is logged when it
// fails.
//
//	func TestX(t *testing.T) {
//		if rss, parent := testtool.InChild(t); parent {
//			// assert on rss
//			return
//		}
//		// the hostile case, run in the child
//	}
func InChild(t *testing.T) (peakRSS int64, parent bool) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^"+strings.ReplaceAll(t.Name(), "/", "$/^")+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatalf("no rusage for the child process")
	}
	return ru.Maxrss << 10, true // Linux reports ru_maxrss in KiB
}
