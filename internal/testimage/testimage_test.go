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
	if os.Getuid() != 0 {
		t.Fatal("this test drops root with setpriv; run it as root (the image build needs root anyway)")
	}
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
