package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// Size of the filesystems the matrix makes: room for the metadata tree.
const matrixFSMiB = 64

// fsKind is a filesystem variant and how mke2fs makes it.
type fsKind struct {
	name   string
	sparse bool // whether the tree may hold sparse files (see testtree.MetadataTree)
	args   []string
}

var (
	ext4Default = fsKind{"ext4", true, []string{"-t", "ext4", "-b", "4096"}}
	ext4Inline  = fsKind{"ext4 inline_data", false, []string{"-t", "ext4", "-O", "inline_data"}}
	ext4No64bit = fsKind{"ext4 ^64bit 1k blocks", true, []string{"-t", "ext4", "-O", "^64bit", "-b", "1024"}}
	ext3        = fsKind{"ext3", true, []string{"-t", "ext3"}}
	ext2        = fsKind{"ext2", true, []string{"-t", "ext2"}}
)

// The wrappers around the filesystem and the image formats.
const (
	wrapGPT  = "GPT"
	wrapMBR  = "MBR"
	wrapBare = "bare"

	formatRaw        = "raw"
	formatQcow2      = "qcow2"
	formatCompressed = "compressed qcow2"
	formatBacking    = "qcow2 with a backing file"
)

// makeDisk writes a raw disk holding tree in the filesystem kind, wrapped
// as asked, and returns it with the filesystem's byte offset.
func makeDisk(t *testing.T, tree string, kind fsKind, wrap string) (disk string, offset int64) {
	disk = filepath.Join(t.TempDir(), "disk.raw")
	fsSize := int64(matrixFSMiB * mib)
	switch wrap {
	case wrapGPT:
		offset = mib
		run(t, "truncate", "-s", fmt.Sprint(fsSize+2*mib), disk)
		run(t, "sgdisk", "-o", fmt.Sprintf("-n1:2048:+%dM", matrixFSMiB), "-t1:8304", "-c1:cloudimg-rootfs", disk)
	case wrapMBR:
		offset = mib
		run(t, "truncate", "-s", fmt.Sprint(fsSize+mib), disk)
		requireTool(t, "sfdisk")
		sfdisk := fmt.Sprintf("label: dos\nstart=2048, size=%d, type=83\n", fsSize/512)
		cmd := exec.Command("sfdisk", "-q", disk)
		cmd.Stdin = strings.NewReader(sfdisk)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "sfdisk: %s", out)
	case wrapBare:
		run(t, "truncate", "-s", fmt.Sprint(fsSize), disk)
	}
	args := append([]string{"-q", "-F", "-L", "root", "-E", fmt.Sprintf("offset=%d,nodiscard", offset), "-d", tree}, kind.args...)
	run(t, "mke2fs", append(args, disk, fmt.Sprintf("%dk", fsSize/1024))...)
	indexDirectories(t, fmt.Sprintf("%s?offset=%d", disk, offset))
	return disk, offset
}

// indexDirectories runs e2fsck -D, which turns the large directories
// mkfs -d writes linearly into htree directories (where dir_index is on,
// as it is by default from ext3 on).
func indexDirectories(t *testing.T, dev string) {
	requireTool(t, "e2fsck")
	out, err := exec.Command("e2fsck", "-fyD", dev).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) { // 1: directories optimized
		t.Fatalf("e2fsck -fyD %s: %v\n%s", dev, err, out)
	}
}

// asFormat converts the raw disk into the image format under test.
func asFormat(t *testing.T, raw string, offset int64, format string) string {
	switch format {
	case formatRaw:
		return raw
	case formatQcow2:
		return toQcow2(t, raw)
	case formatCompressed:
		return toQcow2(t, raw, "-c")
	}
	return withBackingFile(t, raw, offset)
}

// withBackingFile splits the disk into a backing file that lacks the data
// of /large (zeros there) and an overlay holding only what differs, so
// that the right content needs both. The backing file sits in the
// overlay's directory, where a backing chain may reach.
func withBackingFile(t *testing.T, raw string, offset int64) string {
	base := filepath.Join(filepath.Dir(raw), "base.raw")
	run(t, "cp", "--sparse=always", raw, base)
	blockSize, blocks := fileBlocks(t, raw, offset, "/large")
	for i := 0; i < len(blocks); {
		run := 1 // contiguous blocks are zeroed by one dd
		for i+run < len(blocks) && blocks[i+run] == blocks[i]+int64(run) {
			run++
		}
		zero(t, base, (offset/blockSize+blocks[i])*blockSize, int64(run)*blockSize)
		i += run
	}
	baseQcow2 := toQcow2(t, base)
	overlay := toQcow2(t, raw)
	run(t, "qemu-img", "rebase", "-q", "-f", "qcow2", "-b", baseQcow2, "-F", "qcow2", overlay)
	info := run(t, "qemu-img", "info", "--backing-chain", overlay)
	require.Contains(t, info, "backing file: "+baseQcow2)
	return overlay
}

// zero overwrites n bytes of file at off with zeros.
func zero(t *testing.T, file string, off, n int64) {
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(make([]byte, n), off)
	require.NoError(t, err)
}

// fileBlocks asks debugfs for the filesystem block size and the blocks
// holding a file's data.
func fileBlocks(t *testing.T, raw string, offset int64, path string) (blockSize int64, blocks []int64) {
	dev := fmt.Sprintf("%s?offset=%d", raw, offset)
	stats := run(t, "debugfs", "-R", "stats", dev)
	m := regexp.MustCompile(`Block size:\s+(\d+)`).FindStringSubmatch(stats)
	require.NotNil(t, m, "debugfs stats: %s", stats)
	blockSize, _ = strconv.ParseInt(m[1], 10, 64)
	out := run(t, "debugfs", "-R", "blocks "+path, dev)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "debugfs ") { // the version banner
			continue
		}
		for _, f := range strings.Fields(line) {
			n, err := strconv.ParseInt(f, 10, 64)
			require.NoError(t, err, "debugfs blocks %s: %s", path, out)
			blocks = append(blocks, n)
		}
	}
	require.NotEmpty(t, blocks, "debugfs blocks %s: %s", path, out)
	return blockSize, blocks
}

// TestExportMatrix exports a tree holding every kind of metadata from
// each filesystem variant, partition wrapper and image format, extracts
// it with curtin's command and compares every attribute with the source.
func TestExportMatrix(t *testing.T) {
	cases := []struct {
		kind         fsKind
		wrap, format string
	}{
		{ext4Default, wrapGPT, formatRaw},
		{ext4Inline, wrapMBR, formatQcow2},
		{ext4No64bit, wrapBare, formatCompressed},
		{ext3, wrapGPT, formatBacking},
		{ext2, wrapMBR, formatRaw},
		{ext4Default, wrapBare, formatBacking},
		{ext4Default, wrapMBR, formatCompressed},
	}
	trees := map[bool]string{}
	for _, tc := range cases {
		if trees[tc.kind.sparse] == "" {
			trees[tc.kind.sparse] = testtree.MetadataTree(t, tc.kind.sparse)
		}
	}
	want := map[bool]testtree.Tree{}
	for sparse, tree := range trees {
		want[sparse] = testtree.Snapshot(t, tree)
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s in %s as %s", tc.kind.name, tc.wrap, tc.format), func(t *testing.T) {
			raw, offset := makeDisk(t, trees[tc.kind.sparse], tc.kind, tc.wrap)
			input := asFormat(t, raw, offset, tc.format)
			output := filepath.Join(t.TempDir(), "root.tar.gz")
			res, err := Run(context.Background(), Options{
				Input: input, Output: output, CompressionLevel: 1,
				Architecture: "amd64/generic", // the metadata tree has no programs
				Tar:          tarball.Options{Generalize: tarball.Generalize{}},
			})
			require.NoError(t, err)
			assert.Equal(t, "ubuntu/noble", res.BaseImage)
			assert.EqualValues(t, 1, res.Stats.SkippedSockets)
			assert.EqualValues(t, 1, res.Stats.Hardlinks)
			assert.EqualValues(t, 4, res.Stats.Devices+res.Stats.FIFOs)

			got := testtree.Snapshot(t, extractLikeCurtin(t, output))
			// Expected differences: mkfs adds lost+found; sockets are
			// not archived (as GNU tar does); the target directory's own
			// mtime is the extraction's.
			testtree.AssertSame(t, want[tc.kind.sparse], got, "lost+found", "dev/sock", ".")
			assert.Equal(t, want[tc.kind.sparse]["."].Mode, got["."].Mode)
		})
	}
}

// TestExportErrorsOnBrokenImages: damaged input fails with an error
// saying what is wrong, and leaves no output.
func TestExportErrorsOnBrokenImages(t *testing.T) {
	tree := ubuntuLikeTree(t)
	raw := gptDisk(t, partSpec{num: 1, sizeMiB: 24, typ: "8304", name: "root", mkfs: ext4From(tree, "root")})
	qcow2 := toQcow2(t, raw)
	truncated := filepath.Join(t.TempDir(), "truncated.qcow2")
	data, err := os.ReadFile(qcow2)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(truncated, data[:len(data)/2], 0o644))
	blank := filepath.Join(t.TempDir(), "blank.raw")
	run(t, "truncate", "-s", "32M", blank)

	for _, tc := range []struct{ name, input, want string }{
		{"truncated qcow2", truncated, "truncated.qcow2"},
		{"no partition table", blank, "no partition table"},
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
