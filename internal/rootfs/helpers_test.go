package rootfs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
)

// debianPackages names the package of each host tool the tests run.
var debianPackages = map[string]string{
	"tar":       "tar",
	"gzip":      "gzip",
	"setfattr":  "attr",
	"getfattr":  "attr",
	"setfacl":   "acl",
	"setcap":    "libcap2-bin",
	"sha256sum": "coreutils",
}

// run runs a host tool and returns its standard output; a missing tool
// fails the test with the Debian package to install.
func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is missing: apt-get install %s", name, debianPackages[name])
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), stderr.String())
	return string(out)
}

// packDir packs the host directory src into dst with WriteTar and
// WriteTGZ, as the exporter does with an image.
func packDir(t testing.TB, src, dst string, opts Options) (Output, Stats) {
	t.Helper()
	fsys, err := dirfs.Open(src)
	require.NoError(t, err)
	var stats Stats
	out, err := WriteTGZ(context.Background(), dst, DefaultCompressionLevel, func(w io.Writer) error {
		var err error
		stats, err = WriteTar(context.Background(), w, fsys, opts)
		return err
	})
	require.NoError(t, err)
	return out, stats
}

// extractCurtin unpacks a rootfs tarball with curtin's exact command.
func extractCurtin(t testing.TB, tgz string) string {
	t.Helper()
	target := t.TempDir()
	run(t, "", "tar", "-C", target, "--xattrs", "--xattrs-include=*", "-Sxpf", tgz, "--numeric-owner")
	return target
}

// node is what the tests compare of one file.
type node struct {
	Mode         uint32 // st_mode
	UID, GID     uint32
	Mtime        int64 // seconds
	Size         int64
	Blocks       int64 // 512-byte blocks allocated: holes must stay holes
	Rdev         uint64
	Target       string // symlink target
	ContentHash  string
	Xattrs       string // getfattr's dump of every namespace
	HardlinkPeer string // the first path (in walk order) of the same inode
}

// snapshot records every file below root, keyed by path relative to it.
func snapshot(t testing.TB, root string) map[string]node {
	t.Helper()
	xattrs := dumpXattrs(t, root)
	nodes := map[string]node{}
	firstPathOfInode := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		var st syscall.Stat_t
		require.NoError(t, syscall.Lstat(p, &st))
		n := node{
			Mode: st.Mode, UID: st.Uid, GID: st.Gid, Mtime: st.Mtim.Sec,
			Rdev: st.Rdev, Xattrs: xattrs[rel],
		}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			n.Size, n.Blocks, n.ContentHash = st.Size, st.Blocks, hashFile(t, p)
		case syscall.S_IFLNK:
			n.Target, err = os.Readlink(p)
			require.NoError(t, err)
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR && st.Nlink > 1 {
			if first, ok := firstPathOfInode[st.Ino]; ok {
				n.HardlinkPeer = first
			} else {
				firstPathOfInode[st.Ino] = rel
			}
		}
		nodes[rel] = n
		return nil
	})
	require.NoError(t, err)
	return nodes
}

func hashFile(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// dumpXattrs runs getfattr over a tree: relative path -> its dump.
func dumpXattrs(t testing.TB, root string) map[string]string {
	t.Helper()
	out := run(t, root, "getfattr", "-R", "-h", "-P", "-d", "-m", "-", "-e", "hex", ".")
	dumps := map[string]string{}
	var current string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# file: "); ok {
			current = strings.TrimPrefix(strings.TrimPrefix(name, "."), "/")
			if current == "" {
				current = "."
			}
			continue
		}
		if line != "" {
			dumps[current] += line + "\n"
		}
	}
	require.NoError(t, sc.Err())
	return dumps
}

// requireSameTree compares two snapshots entry by entry.
func requireSameTree(t testing.TB, want, got map[string]node) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("%q is missing from the extracted tree", p)
			continue
		}
		if w != g {
			t.Errorf("%q differs:\nsource    %+v\nextracted %+v", p, w, g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%q appeared in the extracted tree", p)
		}
	}
}
