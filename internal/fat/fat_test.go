package fat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

var run = testtool.CombinedOutput

// files is a /boot as BLS lays it out, with names that need long entries,
// names that fit 8.3 in lower case, a file spanning many clusters and an
// empty one.
func files() map[string][]byte {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes
	return map[string][]byte{
		"vmlinuz-6.1.0-test":                         []byte("kernel image"),
		"initramfs-6.1.0-test.img":                   big,
		"loader/entries/0123456789abcdef-6.1.0.conf": []byte("title Test\nlinux /vmlinuz-6.1.0-test\n"),
		"loader/loader.conf":                         []byte("timeout 3\n"),
		"empty":                                      nil,
		"EFI/Linux/Ünïcode name.efi":                 []byte("unicode"),
	}
}

// makeFAT formats an image with mkfs.vfat and fills it with mtools, which
// write FAT without mounting it.
func makeFAT(t *testing.T, fatBits, sizeKiB int) string {
	img := filepath.Join(t.TempDir(), "fat.img")
	run(t, "mkfs.vfat", "-C", "-F", fmt.Sprint(fatBits), "-s", "1", img, fmt.Sprint(sizeKiB))
	src := t.TempDir()
	dirs := map[string]bool{}
	for name, data := range files() {
		p := filepath.Join(src, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var sorted []string
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted) // parents first
	for _, d := range sorted {
		run(t, "mmd", "-i", img, "::"+d)
	}
	for name := range files() {
		run(t, "mcopy", "-i", img, filepath.Join(src, name), "::"+name)
	}
	return img
}

func openImage(t *testing.T, img string, opts Options) *FS {
	f, err := os.Open(img)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	require.NoError(t, err)
	fs, err := Open(f, st.Size(), opts)
	require.NoError(t, err)
	return fs
}

// walk reads every file of the tree back.
func walk(t *testing.T, fs *FS, ino uint64, prefix string, out map[string][]byte, modes map[string]uint32) {
	entries, err := fs.ReadDir(ino)
	require.NoError(t, err)
	for _, e := range entries {
		p := strings.TrimPrefix(prefix+"/"+e.Name, "/")
		st, err := fs.Stat(e.Ino)
		require.NoError(t, err)
		modes[p] = st.Mode
		if st.Mode&fstree.ModeType == fstree.ModeDir {
			walk(t, fs, e.Ino, p, out, modes)
			continue
		}
		f, err := fs.OpenFile(e.Ino)
		require.NoError(t, err)
		assert.Equal(t, st.Size, f.Size())
		data, err := io.ReadAll(io.NewSectionReader(f, 0, f.Size()))
		require.NoError(t, err)
		if len(data) == 0 {
			data = nil
		}
		out[p] = data
	}
}

func TestReadsWhatMtoolsWrote(t *testing.T) {
	for _, tc := range []struct{ bits, sizeKiB int }{{12, 2048}, {16, 32 << 10}, {32, 40 << 10}} {
		t.Run(fmt.Sprintf("FAT%d", tc.bits), func(t *testing.T) {
			fs := openImage(t, makeFAT(t, tc.bits, tc.sizeKiB), DefaultOptions)
			assert.Equal(t, tc.bits, fs.Bits())
			got, modes := map[string][]byte{}, map[string]uint32{}
			walk(t, fs, fs.RootInode(), "", got, modes)
			assert.Equal(t, files(), got)
			assert.Equal(t, uint32(fstree.ModeRegular|0o755), modes["vmlinuz-6.1.0-test"], "vfat's default modes (umask 022)")
			assert.Equal(t, uint32(fstree.ModeDir|0o755), modes["loader"])
		})
	}
}

func TestMountOptionsSetOwnersAndModes(t *testing.T) {
	fs := openImage(t, makeFAT(t, 16, 32<<10), Options{UID: 0, GID: 0, FileMask: 0o077, DirMask: 0o077})
	st, err := fs.Stat(fs.RootInode())
	require.NoError(t, err)
	assert.Equal(t, uint32(fstree.ModeDir|0o700), st.Mode)
	entries, err := fs.ReadDir(fs.RootInode())
	require.NoError(t, err)
	for _, e := range entries {
		st, err := fs.Stat(e.Ino)
		require.NoError(t, err)
		assert.Zero(t, st.Mode&0o077, e.Name)
	}
}

func TestRefusesBrokenChains(t *testing.T) {
	img := makeFAT(t, 16, 32<<10)
	fs := openImage(t, img, DefaultOptions)
	// Point every FAT entry at cluster 2: every chain loops.
	data, err := os.ReadFile(img)
	require.NoError(t, err)
	reserved := int(data[14]) | int(data[15])<<8
	fatStart := reserved * 512
	for i := 2; i < int(fs.clusters)+2; i++ {
		data[fatStart+2*i], data[fatStart+2*i+1] = 2, 0
	}
	broken, err := Open(bytes.NewReader(data), int64(len(data)), DefaultOptions)
	require.NoError(t, err)
	entries, err := broken.ReadDir(broken.RootInode())
	require.NoError(t, err)
	var failed int
	for _, e := range entries {
		st, err := broken.Stat(e.Ino)
		require.NoError(t, err)
		if st.Mode&fstree.ModeType == fstree.ModeDir {
			_, err = broken.ReadDir(e.Ino)
		} else if st.Size > 0 {
			_, err = broken.OpenFile(e.Ino)
		}
		if err != nil {
			failed++
			assert.Contains(t, err.Error(), "(a loop)")
		}
	}
	assert.Positive(t, failed)
}

// TestOpenRefusesHostileGeometry: sizes from the boot sector are checked
// against the partition before anything is allocated or read.
func TestOpenRefusesHostileGeometry(t *testing.T) {
	img, err := os.ReadFile(makeFAT(t, 32, 40<<10))
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		patch func(b []byte)
		want  string
	}{
		{"larger than the partition", func(b []byte) { b[32], b[33], b[34], b[35] = 0xff, 0xff, 0xff, 0x0f }, "larger than its partition"},
		{"root cluster out of range", func(b []byte) { b[44], b[45], b[46], b[47] = 0xff, 0xff, 0xff, 0x0f }, "root directory cluster"},
		{"FAT too small", func(b []byte) { b[36], b[37], b[38], b[39] = 1, 0, 0, 0 }, "do not fit the FAT"},
		{"bad sector size", func(b []byte) { b[11], b[12] = 0x00, 0x03 }, "bytes per sector is invalid"},
		{"no signature", func(b []byte) { b[510] = 0 }, "no boot sector signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), img...)
			tc.patch(b)
			_, err := Open(bytes.NewReader(b), int64(len(b)), DefaultOptions)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
