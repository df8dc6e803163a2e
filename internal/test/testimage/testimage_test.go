package testimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

func TestPathIsTheCachedQcow2AndItsChecksum(t *testing.T) {
	path := Path(t)
	if again := Path(t); again != path {
		t.Errorf("second call gave %s, first %s", again, path)
	}
	out, err := exec.Command("qemu-img", "info", "--output=json", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info (Debian package qemu-utils): %v", err)
	}
	var info struct {
		Format      string `json:"format"`
		VirtualSize int64  `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.VirtualSize != 2<<30 {
		t.Errorf("image is %s of %d bytes, want a 2 GiB qcow2", info.Format, info.VirtualSize)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	if got, want := SHA256(t), hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("checksum file says %s, the image hashes to %s", got, want)
	}
}

// The script's contract with its callers: a cached image costs nothing and
// stdout carries exactly one line, the path.
func TestScriptPrintsOnlyThePathWhenCached(t *testing.T) {
	path := Path(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, script)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != path+"\n" {
		t.Errorf("stdout = %q, want just %q", out, path+"\n")
	}
}

// Building needs root; without it the script must say so rather than fail
// somewhere inside mmdebstrap.
func TestScriptRefusesToBuildWithoutRoot(t *testing.T) {
	testtool.RequireRoot(t) // it drops root with setpriv
	testtool.Require(t, "setpriv", "bash")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	if err := os.Chmod(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"bash", filepath.Join(root, script))
	cmd.Env = append(os.Environ(), "PACKER_MAAS_CACHE="+cache, "HOME="+cache)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the script succeeded without root: %s", out)
	}
	if !strings.Contains(string(out), "needs root") {
		t.Errorf("output does not say root is needed:\n%s", out)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the refused build left %d entries in the cache", len(entries))
	}
}

// A build that fails half-way leaves no image and no temporary tree behind,
// and prints nothing on stdout (callers take its last line as the path).
func TestScriptCleansUpAFailedBuild(t *testing.T) {
	testtool.RequireRoot(t) // the image build needs root
	testtool.Require(t, "bash")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fakeBin := t.TempDir()
	// The fake leaves a partial tree in its target, the next-to-last argument.
	fake := "#!/bin/sh\nmkdir -p \"$(eval echo \\${$(($#-1))})/etc\"\necho 'mmdebstrap: simulated failure' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "mmdebstrap"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, script))
	cmd.Env = append(os.Environ(), "PACKER_MAAS_CACHE="+cache, "PATH="+fakeBin+":"+os.Getenv("PATH"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err == nil {
		t.Fatal("the build succeeded with a failing mmdebstrap")
	}
	if len(stdout) != 0 {
		t.Errorf("a failed build printed %q on stdout", stdout)
	}
	if !strings.Contains(stderr.String(), "simulated failure") {
		t.Errorf("stderr does not show mmdebstrap's error:\n%s", stderr.String())
	}
	entries, err := os.ReadDir(filepath.Join(cache, "test-image"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("the failed build left %s in the cache", e.Name())
		}
	}
}
