package testimage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

func TestPathIsTheCachedQcow2AndItsChecksum(t *testing.T) {
	path := Path(t)
	if again := Path(t); again != path {
		t.Errorf("second call gave %s, first %s", again, path)
	}
	assertQcow2WithChecksum(t, path, SHA256(t))
}

// TestXFSOnLVMIsAnotherCachedQcow2: the variant is cached apart from the
// default image, under its own name, with its own checksum.
func TestXFSOnLVMIsAnotherCachedQcow2(t *testing.T) {
	path := PathOf(t, XFSOnLVM)
	if again := PathOf(t, XFSOnLVM); again != path {
		t.Errorf("second call gave %s, first %s", again, path)
	}
	if def := Path(t); filepath.Dir(def) == filepath.Dir(path) {
		t.Errorf("the variant %s shares the default image's cache directory %s", path, filepath.Dir(def))
	}
	if !strings.HasSuffix(path, "-xfs-lvm.qcow2") {
		t.Errorf("variant image %s is not named after the variant", path)
	}
	assertQcow2WithChecksum(t, path, SHA256Of(t, XFSOnLVM))
}

func assertQcow2WithChecksum(t *testing.T, path, sum string) {
	t.Helper()
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
	if got, want := sum, hex.EncodeToString(h.Sum(nil)); got != want {
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

// A variant build that fails with its filesystems loop-mounted (here: the
// copy into them) unmounts them, detaches every loop device and leaves
// nothing in the cache. The fake mmdebstrap makes a tree just big enough
// for the steps before the disk (a kernel, an initrd, the files the
// cleaning edits); the disk steps are real.
func TestScriptCleansUpAVariantBuildThatFailsWhileMounted(t *testing.T) {
	testtool.RequireRoot(t)
	testtool.Require(t, "bash", "losetup", "mkfs.xfs", "pvcreate", "sgdisk", "objcopy")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	fakeBin := t.TempDir()
	fakes := map[string]string{
		// The tree is the next-to-last argument.
		"mmdebstrap": "#!/bin/sh\nr=\"$(eval echo \\${$(($#-1))})\"\n" +
			"mkdir -p \"$r/boot\" \"$r/etc/ssh\" \"$r/etc/default\" \"$r/usr/lib\" \"$r/home\" \"$r/var/lib/apt/lists\" \"$r/var/cache/apt\" \"$r/var/log/apt\" \"$r/tmp\" \"$r/var/tmp\"\n" +
			"echo kernel > \"$r/boot/vmlinuz-6.1.0-fake\"; echo initrd > \"$r/boot/initrd.img-6.1.0-fake\"\n" +
			"echo ID=debian > \"$r/usr/lib/os-release\"; ln -s ../usr/lib/os-release \"$r/etc/os-release\"; echo 'root:*:1::::::' > \"$r/etc/shadow\"\n",
		"cp": "#!/bin/sh\necho 'cp: simulated failure' >&2\nexit 3\n",
	}
	for name, script := range fakes {
		if err := os.WriteFile(filepath.Join(fakeBin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	t.Cleanup(func() { unmountUnder(t, cache) }) // should the script leave mounts
	cmd := exec.Command("bash", filepath.Join(root, script), "--variant", string(XFSOnLVM))
	cmd.Env = append(os.Environ(), "PACKER_MAAS_CACHE="+cache, "PATH="+fakeBin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the build succeeded with a failing cp:\n%s", out)
	}
	if !strings.Contains(string(out), "cp: simulated failure") || !strings.Contains(string(out), "filling them through loop mounts") {
		t.Fatalf("the build did not fail at the copy into the mounted filesystems:\n%s", out)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), cache) {
		t.Errorf("mounts left under %s:\n%s", cache, mounts)
	}
	if loops := testtool.Output(t, "losetup", "-l", "-n", "-O", "BACK-FILE"); strings.Contains(loops, cache) {
		t.Errorf("loop devices left over files in %s:\n%s", cache, loops)
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

// unmountUnder unmounts what is mounted below dir, innermost first, so
// that a failing test leaves the host as it was.
func unmountUnder(t *testing.T, dir string) {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if out, err := exec.Command("umount", p).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", p, err, out)
		}
	}
}

func TestScriptRefusesAnUnknownVariant(t *testing.T) {
	testtool.Require(t, "bash")
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(root, script), "--variant", "zfs")
	cmd.Env = append(os.Environ(), "PACKER_MAAS_CACHE="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown variant 'zfs' (want ext4 or xfs-lvm)") {
		t.Errorf("err %v, output:\n%s", err, out)
	}
}
