package testtool

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// childEnv marks the test binary re-run by InChild.
const childEnv = "TESTTOOL_CHILD_TEST"

// peakLine is how the child reports its peak RSS to the parent.
const peakLine = "testtool-peak-rss-bytes:"

// InChild runs the test named t.Name() alone in a new process of the test
// binary and returns that process's peak resident memory in bytes, or
// reports false when called in the child itself, which then runs the
// test's body.
//
// Hostile inputs are measured this way because it is the only measure
// that covers every way a parser can blow up: Go aborts on a failed huge
// allocation with "fatal error: out of memory", which no recover catches
// and which would kill the whole test binary, and a process's peak RSS
// counts every page touched, including memory the Go heap statistics do
// not see and memory freed again before the call returns; it does not
// depend on GC timing or on what other tests of the parent allocate at the
// same time. The child reads its own VmHWM from /proc/self/status: the
// parent's rusage of the child (ru_maxrss) would not do, because Linux
// carries the parent's peak into it when the child is forked with the
// parent's memory and then execs. The child's output is logged when it
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
		t.Cleanup(func() { fmt.Printf("%s %d\n", peakLine, ownPeakRSS(t)) })
		return 0, false
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^"+strings.ReplaceAll(regexp.QuoteMeta(t.Name()), "/", "$/^")+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, peakLine+" "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n, true
		}
	}
	t.Fatalf("%s in a child process did not report its peak RSS\n%s", t.Name(), out)
	return 0, true
}

// ownPeakRSS is this process's peak resident set (VmHWM), in bytes.
func ownPeakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kib << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
