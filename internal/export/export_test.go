package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

const mib = 1 << 20

var (
	requireTool = testtool.Require
	run         = testtool.CombinedOutput
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

// ubuntuLikeTree makes a small root filesystem: os-release behind the same
// symlink Ubuntu and Debian use, a real ELF binary, and the build leftovers
// generalization must remove.
func ubuntuLikeTree(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "root")
	writeFile(t, filepath.Join(root, "usr/lib/os-release"),
		"PRETTY_NAME=\"Ubuntu 24.04 LTS\"\nID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n", 0o644)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.Symlink("../usr/lib/os-release", filepath.Join(root, "etc/os-release")))
	env, err := os.ReadFile("/usr/bin/env")
	require.NoError(t, err)
	writeFile(t, filepath.Join(root, "usr/bin/env"), string(env), 0o755)
	require.NoError(t, os.Symlink("usr/bin", filepath.Join(root, "bin")))
	writeFile(t, filepath.Join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n", 0o444)
	writeFile(t, filepath.Join(root, "etc/ssh/ssh_host_ed25519_key"), "secret", 0o600)
	writeFile(t, filepath.Join(root, "etc/ssh/sshd_config"), "Port 22\n", 0o644)
	writeFile(t, filepath.Join(root, "var/lib/cloud/instance/boot-finished"), "done", 0o644)
	writeFile(t, filepath.Join(root, "home/ubuntu/hello.txt"), "hello from the build\n", 0o640)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "boot"), 0o755))
	return root
}

type partSpec struct {
	num     int
	sizeMiB int
	typ     string // sgdisk type code
	name    string
	mkfs    func(t *testing.T, disk string, offset, size int64)
}

func ext4From(tree, label string) func(t *testing.T, disk string, offset, size int64) {
	return func(t *testing.T, disk string, offset, size int64) {
		run(t, "mkfs.ext4", "-q", "-F", "-L", label, "-E", fmt.Sprintf("offset=%d,nodiscard", offset),
			"-d", tree, disk, fmt.Sprintf("%dk", size/1024))
	}
}

// gptDisk writes a raw GPT disk with the given partitions, laid out one
// after another from 1 MiB.
func gptDisk(t *testing.T, parts ...partSpec) string {
	disk := filepath.Join(t.TempDir(), "disk.raw")
	total := 2
	for _, p := range parts {
		total += p.sizeMiB
	}
	run(t, "truncate", "-s", fmt.Sprintf("%dM", total), disk)
	start := int64(1)
	args := []string{"-o"}
	offsets := map[int]int64{}
	for _, p := range parts {
		end := start + int64(p.sizeMiB)
		args = append(args, fmt.Sprintf("-n%d:%dM:%dM", p.num, start, end-1),
			fmt.Sprintf("-t%d:%s", p.num, p.typ), fmt.Sprintf("-c%d:%s", p.num, p.name))
		offsets[p.num] = start * mib
		start = end
	}
	// sgdisk's end is inclusive in sectors; "-1M" style ends leave a gap,
	// so size filesystems by what sgdisk actually made.
	run(t, "sgdisk", append(args, disk)...)
	for _, p := range parts {
		if p.mkfs != nil {
			p.mkfs(t, disk, offsets[p.num], int64(p.sizeMiB-1)*mib)
		}
	}
	return disk
}

// btrfsFS formats a partition with btrfs, which no reader reads:
// mkfs.btrfs has no offset option, so it is made in a file and copied in.
func btrfsFS(t *testing.T, disk string, offset, size int64) {
	fs := filepath.Join(t.TempDir(), "btrfs.img")
	run(t, "truncate", "-s", fmt.Sprint(size), fs)
	run(t, "mkfs.btrfs", "-q", fs)
	run(t, "dd", "if="+fs, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", offset/mib), "conv=notrunc,sparse", "status=none")
}

func toQcow2(t testing.TB, raw string, extra ...string) string {
	out := raw + ".qcow2"
	run(t, "qemu-img", append(append([]string{"convert", "-O", "qcow2"}, extra...), raw, out)...)
	return out
}

// extractLikeCurtin unpacks a tarball with curtin's exact command.
func extractLikeCurtin(t *testing.T, tarball string) string {
	target := t.TempDir()
	run(t, "tar", "-C", target, "--xattrs", "--xattrs-include=*", "-Sxpf", tarball, "--numeric-owner")
	return target
}

func sha256File(t *testing.T, path string) string {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestExportRootfsFromQcow2WithSeparateBoot(t *testing.T) {
	tree := ubuntuLikeTree(t)
	bootTree := filepath.Join(t.TempDir(), "boot")
	writeFile(t, filepath.Join(bootTree, "vmlinuz-6.8.0"), "kernel image", 0o600)
	esp := func(t *testing.T, disk string, offset, size int64) {
		run(t, "mkfs.vfat", "-F", "32", "-s", "1", "--offset", fmt.Sprint(offset/512), disk, fmt.Sprint(size/1024))
	}
	raw := gptDisk(t,
		partSpec{num: 15, sizeMiB: 40, typ: "ef00", name: "esp", mkfs: esp},
		partSpec{num: 16, sizeMiB: 16, typ: "ea00", name: "bls_boot", mkfs: ext4From(bootTree, "boot")},
		partSpec{num: 1, sizeMiB: 24, typ: "8304", name: "cloudimg-rootfs", mkfs: ext4From(tree, "cloudimg-rootfs")},
	)
	input := toQcow2(t, raw, "-c")
	output := filepath.Join(t.TempDir(), "out", "image.tar.gz")
	require.NoError(t, os.MkdirAll(filepath.Dir(output), 0o755))

	var expected, counted int64
	res, err := Run(context.Background(), Options{
		Input: input, Output: output, Filetype: FiletypeTGZ,
		Tar: tarball.Options{Generalize: tarball.DefaultGeneralize()},
		Progress: func(total int64) func(int64) {
			expected = total
			return func(n int64) { counted += n }
		},
	})
	require.NoError(t, err)

	assert.Equal(t, 1, res.Root.Number)
	require.NotNil(t, res.Boot)
	assert.Equal(t, 16, res.Boot.Number)
	assert.Equal(t, "amd64/generic", res.Architecture)
	assert.Equal(t, "ubuntu/noble", res.BaseImage)
	assert.Equal(t, "Ubuntu 24.04 LTS", res.OS)
	assert.Equal(t, sha256File(t, output), res.SHA256)
	st, err := os.Stat(output)
	require.NoError(t, err)
	assert.Equal(t, st.Size(), res.Size)
	assert.Positive(t, expected)
	assert.Positive(t, counted)

	got := extractLikeCurtin(t, output)
	hello, err := os.ReadFile(filepath.Join(got, "home/ubuntu/hello.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello from the build\n", string(hello))
	kernel, err := os.ReadFile(filepath.Join(got, "boot/vmlinuz-6.8.0"))
	require.NoError(t, err, "the /boot partition must be packed under ./boot")
	assert.Equal(t, "kernel image", string(kernel))
	machineID, err := os.Stat(filepath.Join(got, "etc/machine-id"))
	require.NoError(t, err)
	assert.Zero(t, machineID.Size())
	assert.NoFileExists(t, filepath.Join(got, "etc/ssh/ssh_host_ed25519_key"))
	assert.FileExists(t, filepath.Join(got, "etc/ssh/sshd_config"))
	assert.NoDirExists(t, filepath.Join(got, "var/lib/cloud/instance"))
	assert.NoFileExists(t, filepath.Join(got, "EFI/BOOT/BOOTX64.EFI"), "the ESP stays out")
}

func TestExportDiskAsDDGZMatchesRawImage(t *testing.T) {
	tree := ubuntuLikeTree(t)
	raw := gptDisk(t, partSpec{num: 1, sizeMiB: 24, typ: "8304", name: "root", mkfs: ext4From(tree, "root")})
	input := toQcow2(t, raw)
	output := filepath.Join(t.TempDir(), "disk.dd.gz")

	res, err := Run(context.Background(), Options{Input: input, Output: output, Filetype: FiletypeDDGZ})
	require.NoError(t, err)
	assert.Equal(t, FiletypeDDGZ, res.Filetype)
	assert.Equal(t, sha256File(t, output), res.SHA256)

	f, err := os.Open(output)
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	want, err := os.ReadFile(raw)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "the ddgz content must equal the raw disk (%d vs %d bytes)", len(want), len(got))
}

func TestExportErrorsLeaveNoOutput(t *testing.T) {
	tree := ubuntuLikeTree(t)
	notADisk := filepath.Join(t.TempDir(), "notes.txt")
	writeFile(t, notADisk, strings.Repeat("not a disk image\n", 100), 0o644)
	twoRoots := gptDisk(t,
		partSpec{num: 1, sizeMiB: 16, typ: "8300", name: "a", mkfs: ext4From(tree, "a")},
		partSpec{num: 2, sizeMiB: 16, typ: "8300", name: "b", mkfs: ext4From(tree, "b")},
	)
	btrfsRoot := gptDisk(t, partSpec{num: 1, sizeMiB: 310, typ: "8304", name: "root", mkfs: btrfsFS})

	for _, tc := range []struct {
		name, input, want string
	}{
		{"not a disk image", notADisk, "partition"},
		{"two candidate roots", twoRoots, "root_partition"},
		{"btrfs root", btrfsRoot, `filetype = "ddgz"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Run(context.Background(), Options{Input: tc.input, Output: filepath.Join(dir, "out.tar.gz")})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "a failed export must leave nothing behind")
		})
	}
}

func TestExportCancelledLeavesNoOutput(t *testing.T) {
	tree := ubuntuLikeTree(t)
	raw := gptDisk(t, partSpec{num: 1, sizeMiB: 24, typ: "8304", name: "root", mkfs: ext4From(tree, "root")})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Input: raw, Output: filepath.Join(dir, "out.tar.gz")})
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestImageSummary(t *testing.T) {
	ubuntu := Result{OS: "Ubuntu 24.04.1 LTS", BaseImage: "ubuntu/noble"}
	assert.Equal(t, "Image: Ubuntu 24.04.1 LTS, amd64/generic, base_image hint ubuntu/noble", ubuntu.ImageSummary("amd64/generic"))

	debian := Result{OS: "Debian GNU/Linux 12 (bookworm)"}
	summary := debian.ImageSummary("arm64/generic")
	assert.Contains(t, summary, "Image: Debian GNU/Linux 12 (bookworm), arm64/generic;")
	assert.Contains(t, summary, "no base_image hint", "an empty hint must be said in words, not printed as \"\"")
	assert.NotContains(t, summary, `""`)

	assert.Empty(t, Result{}.ImageSummary("amd64/generic"), "nothing to say when the OS was not read (ddgz)")
}

// The os-release files are those the distributions ship, cut to the
// fields that decide the hint.
func TestBaseImageHintFromOSRelease(t *testing.T) {
	cases := map[string]string{
		"ID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n":                    "ubuntu/noble",
		"ID=\"rhel\"\nVERSION_ID=\"9.4\"\n":                                            "rhel/9",
		"ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"9\"\n":                   "centos/9",
		"ID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.2\"\n":                          "ol/9",
		"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.5\"\n":           "rhel/9",
		"ID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.10\"\n":      "rhel/8",
		"ID=fedora\nVERSION_ID=41\n":                                                   "",
		"ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n":                    "",
		"ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n":                               "",
		"ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.6\"\n":           "",
		"ID=ubuntu\nVERSION_ID=\"24.04\"\n":                                            "",
		"# ID=rhel\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_CODENAME=wilma\n": "",
	}
	for osRelease, want := range cases {
		assert.Equal(t, want, baseImageHint(parseOSRelease([]byte(osRelease))), osRelease)
	}
}
