package e2e

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/test/fakemaas"
	"github.com/c34478be/packer-plugin-maas/internal/test/packertest"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// sh runs a host tool; a missing tool fails the test naming its package.
var sh = testtool.CombinedOutput

// rootOffset reads where partition 1 (the test image's root) starts.
func rootOffset(t *testing.T, raw string) int64 {
	t.Helper()
	m := regexp.MustCompile(`First sector: (\d+)`).FindStringSubmatch(sh(t, "sgdisk", "-i", "1", raw))
	require.NotNil(t, m, "sgdisk found no partition 1 in %s", raw)
	sector, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return sector * 512
}

// mountRoot loop-mounts the root filesystem of a raw disk. Only the tests
// do this, as an oracle independent of the plugin's own ext4 reader.
func mountRoot(t *testing.T, raw string, writable bool) string {
	t.Helper()
	dir := t.TempDir()
	opts := fmt.Sprintf("loop,offset=%d", rootOffset(t, raw))
	if !writable {
		opts += ",ro,noload"
	}
	out, err := exec.Command("mount", "-t", "ext4", "-o", opts, raw, dir).CombinedOutput()
	require.NoError(t, err, "the test loop-mounts the image as an oracle and needs root and loop devices: %s", out)
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// leftovers is what a build VM leaves that generalizing must remove, plus
// metadata the pristine image lacks (a capability, a sparse file, a hard
// link, a FIFO, a device).
func addLeftovers(t *testing.T, root string) {
	t.Helper()
	write := func(p, content string, mode os.FileMode) {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), mode))
	}
	write("etc/machine-id", "0123456789abcdef0123456789abcdef\n", 0o444)
	write("etc/ssh/ssh_host_ed25519_key", "private key", 0o600)
	write("etc/ssh/ssh_host_ed25519_key.pub", "public key", 0o644)
	write("var/lib/cloud/instances/iid-e2e/boot-finished", "done", 0o644)
	require.NoError(t, os.Symlink("/var/lib/cloud/instances/iid-e2e", filepath.Join(root, "var/lib/cloud/instance")))
	write("var/log/cloud-init.log", "log", 0o640)
	write("var/log/cloud-init-output.log", "output", 0o640)
	write("opt/e2e/ping", "pretend binary", 0o755)
	sh(t, "setcap", "cap_net_raw+ep", filepath.Join(root, "opt/e2e/ping"))
	require.NoError(t, os.Link(filepath.Join(root, "opt/e2e/ping"), filepath.Join(root, "usr/local/bin/ping-too")))
	require.NoError(t, unix.Mkfifo(filepath.Join(root, "opt/e2e/fifo"), 0o620))
	require.NoError(t, unix.Mknod(filepath.Join(root, "opt/e2e/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	f, err := os.Create(filepath.Join(root, "var/log/lastlog-e2e"))
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("data after a hole"), 1<<30)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// bootedImage is the test image as a build leaves it: a raw copy with
// leftovers added, and the qcow2 Packer gets.
func bootedImage(t *testing.T) (raw, qcow2 string) {
	t.Helper()
	dir := t.TempDir()
	raw = filepath.Join(dir, "disk.raw")
	sh(t, "qemu-img", "convert", "-O", "raw", testimage.Path(t), raw)
	mnt := mountRoot(t, raw, true)
	addLeftovers(t, mnt)
	sh(t, "umount", mnt)
	qcow2 = filepath.Join(dir, "booted.qcow2")
	sh(t, "qemu-img", "convert", "-O", "qcow2", raw, qcow2)
	return raw, qcow2
}

// hashFile returns the SHA-256 of a whole file (an output or a disk).
func hashFile(t *testing.T, p string) string {
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// generalized applies the generalization rules to a snapshot of the
// image: what maas-export must change, and nothing else.
// What generalization stores empty, and what else it leaves out of a
// Debian image: the build's identity, logins, journal, random seed and
// network configuration.
var (
	storedEmpty = map[string]bool{"etc/machine-id": true, "etc/hostname": true,
		"var/log/wtmp": true, "var/log/btmp": true, "var/log/lastlog": true, "var/log/auth.log": true}
	leftOut = regexp.MustCompile(`^(var/log/cloud-init.*\.log|var/log/(wtmp|btmp|auth\.log)\..*|var/lib/wtmpdb/wtmp\.db|` +
		`var/log/journal/.+|var/lib/systemd/random-seed|etc/netplan/50-cloud-init\.yaml|etc/network/interfaces\.d/50-cloud-init(\.cfg)?)$`)
)

func generalized(tree testtree.Tree) testtree.Tree {
	empty := sha256.Sum256(nil)
	out := testtree.Tree{}
	for p, e := range tree {
		regular := e.Mode&unix.S_IFMT == unix.S_IFREG
		switch {
		case regular && storedEmpty[p]:
			e.Size, e.Hash, e.Data, e.Blocks = 0, hex.EncodeToString(empty[:]), "", 0
		case p == "var/lib/dbus/machine-id" && regular,
			strings.HasPrefix(p, "etc/ssh/ssh_host_"),
			p == "var/lib/cloud/instance", strings.HasPrefix(p, "var/lib/cloud/instances/"),
			leftOut.MatchString(p):
			continue
		}
		out[p] = e
	}
	return out
}

func newExportEnv(t *testing.T, templates ...string) *packertest.Env {
	env := packertest.New(t, templates...)
	env.MustRun("init", ".")
	return env
}

// TestExportTgzThroughStockPacker: the file builder hands the booted test
// image to maas-export; curtin's tar command must restore exactly the
// image's root filesystem, generalized.
func TestExportTgzThroughStockPacker(t *testing.T) {
	raw, qcow2 := bootedImage(t)
	env := newExportEnv(t, "testdata/export.pkr.hcl")
	env.MustRun("validate", "-var", "image="+qcow2, ".")
	build := env.MustRun("build", "-var", "image="+qcow2, ".")

	tarball := filepath.Join(env.Dir, "image.tar.gz")
	require.FileExists(t, tarball, "the default output is the build's name in the working directory")
	sum := hashFile(t, tarball)
	assert.Contains(t, build.Output, "sha256 "+sum)
	assert.Contains(t, build.Output, "amd64/generic")

	target := t.TempDir()
	sh(t, "tar", "-C", target, "--xattrs", "--xattrs-include=*", "-Sxpf", tarball, "--numeric-owner")
	want := generalized(testtree.Snapshot(t, mountRoot(t, raw, false)))
	got := testtree.Snapshot(t, target)
	assert.Greater(t, len(want), 10000, "the image's root should hold thousands of files")
	assert.NotEmpty(t, want["opt/e2e/ping"].Xattrs)
	assert.Equal(t, "opt/e2e/ping", want["usr/local/bin/ping-too"].LinkPeer)
	assert.Equal(t, fmt.Sprintf("%d-%d", 1<<30, 1<<30+len("data after a hole")), want["var/log/lastlog-e2e"].Data, "the oracle sees the hole")
	testtree.AssertSame(t, want, got)
}

// TestExportDDGZThroughStockPacker: a ddgz is the whole disk, byte for byte.
func TestExportDDGZThroughStockPacker(t *testing.T) {
	image := testimage.Path(t)
	env := newExportEnv(t, "testdata/export.pkr.hcl")
	output := filepath.Join(env.Dir, "out", "disk.dd.gz")
	build := env.MustRun("build", "-var", "image="+image, "-var", "filetype=ddgz", "-var", "output="+output, ".")
	assert.Contains(t, build.Output, "architecture amd64/generic, from the programs of the root filesystem", "a ddgz is labelled by its programs, not by a guess")

	raw := filepath.Join(t.TempDir(), "disk.raw")
	sh(t, "qemu-img", "convert", "-O", "raw", image, raw)
	f, err := os.Open(output)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	h := sha256.New()
	n, err := io.Copy(h, zr)
	require.NoError(t, err)
	st, err := os.Stat(raw)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), n)
	assert.Equal(t, hashFile(t, raw), hex.EncodeToString(h.Sum(nil)), "gunzip of the ddgz must equal qemu-img convert -O raw")
}

// TestExportThenUploadThroughStockPacker: maas-upload takes the file,
// digest, filetype and architecture from maas-export's artifact.
func TestExportThenUploadThroughStockPacker(t *testing.T) {
	fake := fakemaas.Start()
	defer fake.Close()
	env := newExportEnv(t, "testdata/export-upload.pkr.hcl")
	env.ExtraEnv = []string{"MAAS_URL=" + fake.URL, "MAAS_API_KEY=" + fakemaas.APIKey}
	env.MustRun("build", "-var", "image="+testimage.Path(t), ".")

	tarball := filepath.Join(env.Dir, "image.tar.gz")
	files := fake.Files()
	require.Len(t, files, 1)
	got := files[0]
	assert.True(t, got.Complete)
	assert.Equal(t, "custom/debian-e2e", got.Name)
	assert.Equal(t, "root-tgz", got.Filetype, "MAAS stores an uploaded tgz as root-tgz")
	assert.Equal(t, "amd64/generic", got.Architecture)
	assert.Equal(t, hashFile(t, tarball), got.SHA256)
	st, err := os.Stat(tarball)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), got.Received)
}

// btrfsDisk makes a GPT disk whose only partition holds btrfs, which the
// export does not read.
func btrfsDisk(t *testing.T) string {
	dir := t.TempDir()
	disk, fsImg := filepath.Join(dir, "btrfs.raw"), filepath.Join(dir, "btrfs.fs")
	sh(t, "truncate", "-s", "320M", disk)
	sh(t, "sgdisk", "-o", "-n1:1M:0", "-t1:8304", "-c1:root", disk)
	sh(t, "truncate", "-s", "310M", fsImg)
	sh(t, "mkfs.btrfs", "-q", fsImg)
	sh(t, "dd", "if="+fsImg, "of="+disk, "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none")
	return disk
}

// TestExportBadInputsThroughStockPacker: each fails the build with a clear
// error and leaves no output file.
func TestExportBadInputsThroughStockPacker(t *testing.T) {
	notADisk := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(notADisk, []byte(strings.Repeat("not a disk image\n", 200)), 0o644))
	for _, tc := range []struct {
		name, image string
		want        []string
	}{
		{"not a disk image", notADisk, []string{"maas-export", "no partition table"}},
		{"btrfs root", btrfsDisk(t), []string{"maas-export", "btrfs", `filetype = "ddgz"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newExportEnv(t, "testdata/export.pkr.hcl")
			res := env.Run("build", "-var", "image="+tc.image, ".")
			assert.NotEqual(t, 0, res.ExitCode)
			for _, want := range tc.want {
				assert.Contains(t, res.Output, want)
			}
			leftovers, err := filepath.Glob(filepath.Join(env.Dir, "*.gz*"))
			require.NoError(t, err)
			hidden, err := filepath.Glob(filepath.Join(env.Dir, ".*tmp*"))
			require.NoError(t, err)
			assert.Empty(t, append(leftovers, hidden...), "a failed export leaves no file behind")
		})
	}
}

func TestExportValidateNamesBadSettings(t *testing.T) {
	env := newExportEnv(t, "testdata/export-bad-settings.pkr.hcl")
	res := env.Run("validate", ".")
	assert.NotEqual(t, 0, res.ExitCode)
	for _, want := range []string{`filetype "ddxz"`, "compression_level 12", `architecture "amd64/generic/x"`, `skip_generalize: unknown rule "everything"`, `exclude "var/cache"`, "backing_file_dirs: stat no-such-dir"} {
		assert.Contains(t, res.Output, want)
	}
}
