package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// xfsMatrixMiB is the size of the matrix's filesystems: room for the
// metadata tree and the on-disk forms, whose sparse files are mostly holes.
const xfsMatrixMiB = 1024

// lateMtime is a time in 2300, which only bigtime XFS keeps.
var lateMtime = time.Date(2300, 1, 2, 3, 4, 5, 0, time.UTC).Unix()

// xfsVariant is a mkfs.xfs feature set, how its disk is wrapped and in
// which image format the export reads it.
type xfsVariant struct {
	name         string
	mkfsArgs     []string
	wrap, format string
	huge         bool // the 100,000-entry btree directory: slow, made once
	bigtime      bool // times past 2038 can be kept
}

// xfsMetadataTree is testtree's metadata tree less the device minor XFS
// cannot hold (XFSForms makes the largest it can).
func xfsMetadataTree(t *testing.T) string {
	tree := testtree.MetadataTree(t, true)
	require.NoError(t, os.Remove(filepath.Join(tree, "dev/bigminor")))
	return tree
}

// loopMount mounts the filesystem image img (as root) and returns the
// mount point and an unmount the test must call before reading img.
func loopMount(t testing.TB, img string, opts ...string) (dir string, unmount func()) {
	dir = t.TempDir()
	run(t, "mount", "-o", strings.Join(append([]string{"loop"}, opts...), ","), img, dir)
	mounted := true
	unmount = func() {
		if mounted {
			mounted = false
			run(t, "umount", dir)
		}
	}
	t.Cleanup(unmount)
	return dir, unmount
}

// xfsImage makes an XFS filesystem of size bytes in a file.
func xfsImage(t testing.TB, size int64, args ...string) string {
	img := filepath.Join(t.TempDir(), "xfs.img")
	run(t, "truncate", "-s", fmt.Sprint(size), img)
	run(t, "mkfs.xfs", append(append([]string{"-q", "-f", "-L", "root"}, args...), img)...)
	return img
}

// wrapXFS puts the filesystem image fs on a disk as wrap says: alone
// (the image itself) or as the only partition of a GPT disk, typed as an
// x86-64 root.
func wrapXFS(t *testing.T, fs, wrap string) string {
	if wrap == wrapBare {
		return fs
	}
	st, err := os.Stat(fs)
	require.NoError(t, err)
	return gptDisk(t, partSpec{num: 1, sizeMiB: int(st.Size()/mib) + 1, typ: "8304", name: "root",
		mkfs: func(t *testing.T, disk string, offset, _ int64) {
			run(t, "dd", "if="+fs, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", offset/mib), "conv=notrunc,sparse", "status=none")
		}})
}

// exportAndExtract exports input as a tgz with no generalization and
// unpacks it with curtin's command onto an XFS made with targetArgs.
func exportAndExtract(t *testing.T, input string, targetArgs ...string) (Result, string) {
	output := filepath.Join(t.TempDir(), "root.tar.gz")
	start := time.Now()
	res, err := Run(context.Background(), Options{
		Input: input, Output: output, CompressionLevel: 1,
		Architecture: "amd64/generic", // the metadata tree has no programs
		Tar:          tarball.Options{Generalize: tarball.Generalize{}},
	})
	require.NoError(t, err)
	t.Logf("exported in %v", time.Since(start))
	assert.Equal(t, "xfs", res.Root.Filesystem)
	assert.Equal(t, "ubuntu/noble", res.BaseImage)
	return res, extractOntoXFS(t, output, targetArgs...)
}

// extractOntoXFS unpacks a tarball with curtin's command onto a fresh
// XFS made with mkfsArgs, as curtin does onto a RHEL-family target: ext4
// (where the tests' temporary directories are) holds no more xattrs per
// inode than fit one block, far less than the matrix's 2,000 attributes
// and 64 KiB values. The same block size as the source keeps holes where
// they were.
func extractOntoXFS(t *testing.T, tarball string, mkfsArgs ...string) string {
	target, _ := loopMount(t, xfsImage(t, xfsMatrixMiB*mib, mkfsArgs...))
	run(t, "tar", "-C", target, "--xattrs", "--xattrs-include=*", "-Sxpf", tarball, "--numeric-owner")
	return target
}

// TestExportXFSMatrix: testtree's metadata tree and one of each XFS
// on-disk form (directories short form to btree, extent lists and
// btrees, holes, unwritten extents, inline and remote symlinks, xattrs
// short form to node with remote values, POSIX ACLs, capabilities,
// SELinux labels, trusted.*), written through the kernel onto v5
// filesystems of several feature sets, exported from raw and qcow2 disks,
// extracted with curtin's command, equal the mounted filesystem attribute
// by attribute.
func TestExportXFSMatrix(t *testing.T) {
	testtool.RequireRoot(t)
	testtool.Require(t, "mkfs.xfs", "setfacl", "setcap")
	tree := xfsMetadataTree(t)
	for _, v := range []xfsVariant{
		{name: "v5 defaults", wrap: wrapGPT, format: formatRaw, huge: true, bigtime: true},
		{name: "v5 reflink=0", mkfsArgs: []string{"-m", "reflink=0"}, wrap: wrapBare, format: formatQcow2, bigtime: true},
		{name: "v5 bigtime=0", mkfsArgs: []string{"-m", "bigtime=0"}, wrap: wrapGPT, format: formatCompressed},
		{name: "v5 sparse=0 finobt=0 inobtcount=0", mkfsArgs: []string{"-i", "sparse=0", "-m", "finobt=0,inobtcount=0"}, wrap: wrapGPT, format: formatQcow2, bigtime: true},
		{name: "v5 1k blocks 8k dirs nrext64 512-byte inodes", mkfsArgs: []string{"-b", "size=1024", "-n", "size=8192", "-i", "nrext64=1,size=512"}, wrap: wrapBare, format: formatRaw, bigtime: true},
	} {
		t.Run(v.name, func(t *testing.T) {
			fs := xfsImage(t, xfsMatrixMiB*mib, v.mkfsArgs...)
			mnt, unmount := loopMount(t, fs)
			start := time.Now()
			run(t, "cp", "-a", tree+"/.", mnt)
			testtree.XFSForms(t, filepath.Join(mnt, "forms"), v.huge)
			if v.bigtime {
				// Past 2038: only bigtime keeps it.
				late := unix.Timespec{Sec: lateMtime}
				require.NoError(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(mnt, "forms/files/small"), []unix.Timespec{late, late}, 0))
			}
			unmount()
			t.Logf("filled in %v", time.Since(start))
			mnt, unmount = loopMount(t, fs, "ro")
			want := xfsOracle(t, mnt)
			unmount()
			if v.bigtime {
				require.EqualValues(t, lateMtime, want["forms/files/small"].Mtime)
			}

			input := asFormat(t, wrapXFS(t, fs, v.wrap), 0, v.format)
			res, got := exportAndExtract(t, input, v.mkfsArgs...)
			assert.EqualValues(t, 1, res.Stats.SkippedSockets)
			hardlinks := 1 // dirB/linked-too
			if v.huge {
				hardlinks += testtree.HugeDirEntries
			}
			assert.EqualValues(t, hardlinks, res.Stats.Hardlinks)
			start = time.Now()
			gotTree := xfsOracle(t, got) // the kernel's view again, on XFS
			// Sockets are not archived (as GNU tar does); the target
			// directory's own mtime is the extraction's.
			testtree.AssertSame(t, want, gotTree, "dev/sock", ".")
			assert.Equal(t, want["."].Mode, gotTree["."].Mode)
			t.Logf("compared %d paths in %v", len(want), time.Since(start))
		})
	}
}

// v4Xattr is an extended attribute xfs_db sets on a v4 filesystem, which
// this kernel cannot mount: a value of size letters 'v', as xfs_db's
// attr_set -v writes it, or, where value is set, those letters then
// overwritten by value (which xfs_db cannot write).
type v4Xattr struct {
	path, name string
	size       int
	value      []byte
}

// v4Xattrs are attributes of every size class: short form in the inode,
// a leaf block, node blocks, remote values; in the user, trusted and
// security namespaces; on files and a directory.
func v4Xattrs() []v4Xattr {
	xattrs := []v4Xattr{
		{"v4xattrs/shortform", "user.a", 1, nil},
		{"v4xattrs/shortform", "trusted.t", 3, nil},
		{"v4xattrs/shortform", "security.selinux", 27, nil},
		{"v4xattrs/dir", "user.on-a-directory", 50, nil},
		{"v4xattrs/remote", "security.ima", 300, nil},
		{"v4xattrs/remote", "user.five-k", 5000, nil},
		{"v4xattrs/remote", "user.max", 65536, nil},
	}
	for i := range 5 {
		xattrs = append(xattrs, v4Xattr{"v4xattrs/leaf", fmt.Sprintf("user.attribute-%05d", i), 100, nil})
	}
	for i := range 2000 {
		xattrs = append(xattrs, v4Xattr{"v4xattrs/node", fmt.Sprintf("user.attribute-%05d", i), 10, nil})
	}
	return withFirstXattrs(xattrs)
}

// withFirstXattrs gives each file a 1-byte user.first before its other
// xattrs: xfs_db 6.1's attr_set crashes on most first attributes of an
// inode (a 100-byte value, a remote one).
func withFirstXattrs(xattrs []v4Xattr) []v4Xattr {
	var out []v4Xattr
	for _, x := range xattrs {
		if len(out) == 0 || out[len(out)-1].path != x.path {
			out = append(out, v4Xattr{x.path, "user.first", 1, nil})
		}
		out = append(out, x)
	}
	return out
}

// v4KernelXattrs are the POSIX ACLs and the capability the kernel wrote
// on the v5 source (XFS keeps ACLs as trusted.SGI_ACL_FILE and
// SGI_ACL_DEFAULT, in its own big-endian form), to be copied byte for
// byte onto the v4 filesystems.
func v4KernelXattrs(t *testing.T, src string) []v4Xattr {
	var out []v4Xattr
	for _, x := range []struct{ path, name string }{
		{"v4acl/acl", "trusted.SGI_ACL_FILE"},
		{"v4acl/acldir", "trusted.SGI_ACL_FILE"},
		{"v4acl/acldir", "trusted.SGI_ACL_DEFAULT"},
		{"v4acl/caps", "security.capability"},
	} {
		value, ok := testtree.Xattrs(t, filepath.Join(src, x.path))[x.name]
		require.True(t, ok, "%s has no %s", x.path, x.name)
		out = append(out, v4Xattr{x.path, x.name, len(value), []byte(value)})
	}
	return withFirstXattrs(out)
}

// patchV4Values overwrites xfs_db's letters with the values xfs_db cannot
// write, where they are: in the inode (short form) or in the attribute
// fork's first block (a leaf: these files have few). v4 metadata has no
// CRCs to update.
func patchV4Values(t *testing.T, img string, xattrs []v4Xattr) {
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	span := regexp.MustCompile(`byte offset (\d+), length (\d+)`)
	for _, x := range xattrs {
		if x.value == nil {
			continue
		}
		_, name, _ := strings.Cut(x.name, ".") // on disk, the namespace is a flag
		needle := append([]byte(name), bytes.Repeat([]byte("v"), len(x.value))...)
		// Where a short form grew into a leaf block, the inode may still
		// hold a stale copy: look only where the attributes are.
		where := []string{"-c", "ablock 0"}
		if strings.Contains(run(t, "xfs_db", "-r", "-f", "-c", "path /"+x.path, "-c", "print core.aformat", img), "(local)") {
			where = nil
		}
		args := append(append([]string{"-r", "-f", "-c", "path /" + x.path}, where...), "-c", "stack", img)
		m := span.FindStringSubmatch(run(t, "xfs_db", args...))
		require.NotNil(t, m, "xfs_db stack of %s", x.path)
		off, _ := strconv.ParseInt(m[1], 10, 64)
		n, _ := strconv.Atoi(m[2])
		buf := make([]byte, n)
		_, err := f.ReadAt(buf, off)
		require.NoError(t, err)
		i := bytes.Index(buf, needle)
		require.GreaterOrEqual(t, i, 0, "%s: %s not found where its attributes are", x.path, x.name)
		require.Equal(t, -1, bytes.Index(buf[i+1:], needle), "%s: %s twice", x.path, x.name)
		_, err = f.WriteAt(x.value, off+int64(i+len(name)))
		require.NoError(t, err)
	}
}

// xfsDBNamespace is xfs_db attr_set's flag for an attribute's namespace.
var xfsDBNamespace = map[string]string{"user": "-u", "trusted": "-r", "security": "-s"}

// setV4Xattrs sets the xattrs on the filesystem image with xfs_db, one
// run per file; attr2 keeps the v4 filesystem's attr2 feature (mkfs's
// default) rather than letting xfs_db switch it to attr1.
func setV4Xattrs(t *testing.T, img string, xattrs []v4Xattr, attr2 bool) {
	keep := ""
	if attr2 {
		keep = "-n "
	}
	byPath := map[string][]string{}
	var paths []string
	for _, x := range xattrs {
		if byPath[x.path] == nil {
			paths = append(paths, x.path)
		}
		ns, name, _ := strings.Cut(x.name, ".")
		byPath[x.path] = append(byPath[x.path], "-c", fmt.Sprintf("attr_set %s %s-v %d %s", xfsDBNamespace[ns], keep, x.size, name))
	}
	for _, p := range paths {
		cmd := exec.Command("xfs_db", append(append([]string{"-x", "-f", "-c", "path /" + p}, byPath[p]...), img)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "xfs_db attr_set on %s: %s", p, out)
		require.NotContains(t, string(out), "failed", "xfs_db attr_set on %s", p)
	}
}

// checkV4Forms checks with xfs_db that the xattrs reached the forms they
// are for (in the inode, in one leaf block (v4 magic 0xfbee), under a node
// block (0xfebe)), and that a directory is in btree form.
func checkV4Forms(t *testing.T, img string) {
	out := run(t, "xfs_db", "-r", "-f", "-c", "path /dirs/btree", "-c", "print core.format", img)
	assert.Contains(t, out, "core.format = 3 (btree)", "dirs/btree: %s", out)
	for path, want := range map[string]string{
		"v4xattrs/shortform": "core.aformat = 1 (local)",
		"v4xattrs/leaf":      "hdr.info.magic = 0xfbee",
		"v4xattrs/remote":    "hdr.info.magic = 0xfbee",
		"v4xattrs/node":      "hdr.info.magic = 0xfebe",
	} {
		out := run(t, "xfs_db", "-r", "-f", "-c", "path /"+path, "-c", "print core.aformat", "-c", "ablock 0", "-c", "print hdr.info.magic", img)
		assert.Contains(t, out, want, "%s: %s", path, out)
	}
}

// v4Source is the tree the v4 filesystems are made from, on a mounted v5
// XFS (the kernel's view of it is the oracle): the metadata tree less
// what mkfs.xfs -p cannot write (xattrs and ACLs, sockets, the sticky
// bit, holes; its hard link is made by linkV4 afterwards), plus directories of every form, files for the
// xattrs xfs_db sets afterwards, which are also set here, and files with
// POSIX ACLs and a capability (v4KernelXattrs).
func v4Source(t *testing.T, xattrs []v4Xattr) string {
	tree := testtree.MetadataTree(t, false)
	require.NoError(t, os.Remove(filepath.Join(tree, "dev/bigminor")))
	src, _ := loopMount(t, xfsImage(t, xfsMatrixMiB*mib))
	run(t, "cp", "-a", tree+"/.", src)
	require.NoError(t, os.Remove(filepath.Join(src, "dev/sock")))
	require.NoError(t, unix.Mknod(filepath.Join(src, "dev/bigminor"), unix.S_IFCHR|0o600, int(unix.Mkdev(259, testtree.XFSMaxMinor))))
	require.NoError(t, os.Chmod(filepath.Join(src, "modes/sticky"), 0o777))
	require.NoError(t, filepath.WalkDir(src, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for name := range testtree.Xattrs(t, p) {
			// An ACL's two names are one attribute: the second is gone.
			if err := unix.Lremovexattr(p, name); err != nil && !errors.Is(err, unix.ENODATA) {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	}))
	// mkfs.xfs -p allocates each file's data between the directory's
	// blocks, so a directory of 3,000 non-empty files has dozens of
	// extents: the btree form.
	for _, d := range []struct {
		name, data string
		n          int
	}{{"dirs/block", "", 30}, {"dirs/leaf", "", 300}, {"dirs/btree", "x", 3000}} {
		require.NoError(t, os.MkdirAll(filepath.Join(src, d.name), 0o755))
		for i := range d.n {
			writeFile(t, filepath.Join(src, d.name, fmt.Sprintf("%020d", i)), d.data, 0o644)
		}
	}
	// mkfs.xfs -p writes holes as zeros: reshapeV4Extent makes them
	// again, and an unwritten extent, afterwards.
	require.NoError(t, os.MkdirAll(filepath.Join(src, "v4holes"), 0o755))
	f, err := os.Create(filepath.Join(src, "v4holes/sparse"))
	require.NoError(t, err)
	_, err = f.WriteAt(testtree.RandomBytes(rand.New(rand.NewPCG(5, 6)), 2*v4Block), v4HoleBlocks*v4Block)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(2*v4HoleBlocks*v4Block))
	require.NoError(t, f.Close())
	f, err = os.Create(filepath.Join(src, "v4holes/unwritten"))
	require.NoError(t, err)
	require.NoError(t, testtree.Fallocate(f, false, 16*v4Block))
	require.NoError(t, f.Close())
	writeFile(t, filepath.Join(src, "v4acl/acl"), "acl", 0o644)
	run(t, "setfacl", "-m", "u:1234:r,g:4321:rw", filepath.Join(src, "v4acl/acl"))
	require.NoError(t, os.Mkdir(filepath.Join(src, "v4acl/acldir"), 0o755))
	run(t, "setfacl", "-d", "-m", "u:1234:rwx,g:5678:r", filepath.Join(src, "v4acl/acldir"))
	run(t, "setfacl", "-m", "u:99:rx", filepath.Join(src, "v4acl/acldir"))
	writeFile(t, filepath.Join(src, "v4acl/caps"), "binary", 0o755)
	run(t, "setcap", "cap_net_raw+ep", filepath.Join(src, "v4acl/caps"))
	for _, name := range []string{"acl", "acldir", "caps"} {
		require.NoError(t, unix.Setxattr(filepath.Join(src, "v4acl", name), "user.first", []byte("v"), 0))
	}
	for _, x := range xattrs {
		p := filepath.Join(src, x.path)
		if _, err := os.Stat(p); err != nil {
			if x.path == "v4xattrs/dir" {
				require.NoError(t, os.MkdirAll(p, 0o755))
			} else {
				writeFile(t, p, "", 0o644)
			}
		}
		require.NoError(t, unix.Setxattr(p, x.name, []byte(strings.Repeat("v", x.size)), 0))
	}
	return src
}

// protofile writes a mkfs.xfs prototype file that makes a copy of src
// (less its xattrs and times) and returns its path.
func protofile(t *testing.T, src string) string {
	var b strings.Builder
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(src, &st))
	fmt.Fprintf(&b, "/dev/null\n0 0\n%s %d %d\n", protoMode(t, testtree.StatMode(&st)), st.Uid, st.Gid)
	protoDir(t, &b, src)
	b.WriteString("$\n")
	proto := filepath.Join(t.TempDir(), "proto")
	require.NoError(t, os.WriteFile(proto, []byte(b.String()), 0o644))
	return proto
}

func protoDir(t *testing.T, b *strings.Builder, dir string) {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		require.False(t, strings.ContainsAny(e.Name(), " \t\n:$"), "%s: a name the protofile cannot hold", p)
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(p, &st))
		fmt.Fprintf(b, "%s %s %d %d", e.Name(), protoMode(t, testtree.StatMode(&st)), st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b.WriteString(" " + p + "\n")
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			b.WriteString(" " + target + "\n")
		case unix.S_IFCHR, unix.S_IFBLK:
			fmt.Fprintf(b, " %d %d\n", unix.Major(testtree.StatRdev(&st)), unix.Minor(testtree.StatRdev(&st)))
		case unix.S_IFDIR:
			b.WriteString("\n")
			protoDir(t, b, p)
			b.WriteString("$\n")
		default:
			b.WriteString("\n")
		}
	}
}

// protoMode is a protofile's mode token: type, setuid, setgid, octal
// permissions (it has no sticky bit).
func protoMode(t *testing.T, mode uint32) string {
	require.Zero(t, mode&unix.S_ISVTX, "the protofile cannot hold the sticky bit")
	types := map[uint32]string{unix.S_IFREG: "-", unix.S_IFDIR: "d", unix.S_IFLNK: "l", unix.S_IFCHR: "c", unix.S_IFBLK: "b", unix.S_IFIFO: "p"}
	kind, ok := types[mode&unix.S_IFMT]
	require.True(t, ok, "file type %#o", mode&unix.S_IFMT)
	setuid, setgid := "-", "-"
	if mode&unix.S_ISUID != 0 {
		setuid = "u"
	}
	if mode&unix.S_ISGID != 0 {
		setgid = "g"
	}
	return fmt.Sprintf("%s%s%s%03o", kind, setuid, setgid, mode&0o777)
}

// The v4 filesystems' block size (mkfs.xfs's default), and where the data
// of v4holes/sparse starts, in blocks.
const (
	v4Block      = 4096
	v4HoleBlocks = 256
)

// reshapeV4Extent rewrites the one extent of a file that mkfs.xfs -p wrote
// whole (holes as zeros) to map only its blocks [first, first+n), and
// marks it unwritten if asked: the holes and unwritten extents mkfs.xfs
// -p cannot make. The blocks left out stay allocated to no file.
func reshapeV4Extent(t *testing.T, img, path string, first, n int64, unwritten bool) {
	out := run(t, "xfs_db", "-r", "-f", "-c", "path /"+path, "-c", "print core.nextents u", img)
	m := regexp.MustCompile(`core.nextents = 1\n(?s:.*)0:\[0,(\d+),(\d+),0\]`).FindStringSubmatch(out)
	require.NotNil(t, m, "%s is not one written extent: %s", path, out)
	start, _ := strconv.ParseInt(m[1], 10, 64)
	count, _ := strconv.ParseInt(m[2], 10, 64)
	require.LessOrEqual(t, first+n, count, "%s: %s", path, out)
	flag := 0
	if unwritten {
		flag = 1
	}
	run(t, "xfs_db", "-x", "-f", "-c", "path /"+path,
		"-c", fmt.Sprintf("write u.bmx[0].startoff %d", first), "-c", fmt.Sprintf("write u.bmx[0].startblock %d", start+first),
		"-c", fmt.Sprintf("write u.bmx[0].blockcount %d", n), "-c", fmt.Sprintf("write u.bmx[0].extentflag %d", flag), img)
}

// linkV4 makes name, the entry of a short-form directory, a hard link to
// target, which mkfs.xfs -p cannot: xfs_db points the entry at target's
// inode and raises its link count. The inode the entry named is left
// unreferenced, which a reader by inode number never sees.
func linkV4(t *testing.T, img, name, target string) {
	inode := regexp.MustCompile(`inode (\d+),`).FindStringSubmatch(run(t, "xfs_db", "-r", "-f", "-c", "path /"+target, "-c", "stack", img))
	require.NotNil(t, inode, "xfs_db: no inode for %s", target)
	nlinkOut := run(t, "xfs_db", "-r", "-f", "-c", "path /"+target, "-c", "print core.nlinkv2", img)
	nlink := regexp.MustCompile(`core.nlinkv2 = (\d+)`).FindStringSubmatch(nlinkOut)
	require.NotNil(t, nlink, "xfs_db: %s", nlinkOut)
	n, _ := strconv.Atoi(nlink[1])
	dir, base := filepath.Split(name)
	listing := run(t, "xfs_db", "-r", "-f", "-c", "path /"+dir, "-c", "print", img)
	entry := regexp.MustCompile(`(u3?\.sfdir[23]\.list\[\d+\])\.name = "` + regexp.QuoteMeta(base) + `"`).FindStringSubmatch(listing)
	require.NotNil(t, entry, "xfs_db: no short-form entry %s in %s", base, listing)
	run(t, "xfs_db", "-x", "-f", "-c", "path /"+dir, "-c", "write "+entry[1]+".inumber.i4 "+inode[1],
		"-c", "path /"+target, "-c", fmt.Sprintf("write core.nlinkv2 %d", n+1), img)
}

// withoutMtimes is tree with every mtime zero: mkfs.xfs -p stamps each
// file with the time it ran.
func withoutMtimes(tree testtree.Tree) testtree.Tree {
	out := testtree.Tree{}
	for p, e := range tree {
		e.Mtime = 0
		out[p] = e
	}
	return out
}

// TestExportXFSv4: v4 (crc=0) filesystems, which this kernel cannot
// mount, made by mkfs.xfs -p from a tree on a mounted v5 XFS and given
// xattrs of every size class by xfs_db (libxfs's own code, as the kernel
// writes them), with the POSIX ACLs (access and default) and the
// capability the kernel wrote on the v5 tree copied in byte for byte,
// exported, extracted onto XFS with curtin's command, equal that tree in
// everything mkfs.xfs -p and xfs_db can write: names, types, modes,
// owners, sizes, data, device numbers, link targets, hard links, holes
// and unwritten extents (made by xfs_db), xattrs (every attribute but the mtime, which mkfs sets to
// its own clock).
func TestExportXFSv4(t *testing.T) {
	testtool.RequireRoot(t)
	testtool.Require(t, "mkfs.xfs", "xfs_db", "setfacl", "setcap")
	xattrs := v4Xattrs()
	src := v4Source(t, xattrs)
	xattrs = append(xattrs, v4KernelXattrs(t, src)...)
	want := withoutMtimes(xfsOracle(t, src))
	require.Equal(t, fmt.Sprintf("%d-%d", v4HoleBlocks*v4Block, (v4HoleBlocks+2)*v4Block), want["v4holes/sparse"].Data)
	require.Empty(t, want["v4holes/unwritten"].Data, "an unwritten extent is a hole to SEEK_DATA")
	proto := protofile(t, src)
	for _, v := range []struct {
		name, ftype, wrap, format string
		attr2                     bool
	}{
		{"v4 ftype=1 attr2", "ftype=1", wrapGPT, formatRaw, true},
		{"v4 ftype=0 attr1", "ftype=0", wrapBare, formatQcow2, false},
	} {
		t.Run(v.name, func(t *testing.T) {
			fs := xfsImage(t, 512*mib, "-m", "crc=0,finobt=0,reflink=0,bigtime=0,inobtcount=0", "-i", "sparse=0", "-n", v.ftype, "-p", proto)
			setV4Xattrs(t, fs, xattrs, v.attr2)
			patchV4Values(t, fs, xattrs)
			linkV4(t, fs, "dirB/linked-too", "dirA/linked")
			reshapeV4Extent(t, fs, "v4holes/sparse", v4HoleBlocks, 2, false)
			reshapeV4Extent(t, fs, "v4holes/unwritten", 0, 16, true)
			checkV4Forms(t, fs)
			res, got := exportAndExtract(t, asFormat(t, wrapXFS(t, fs, v.wrap), 0, v.format))
			assert.EqualValues(t, 1, res.Stats.Hardlinks)
			// The target directory's own mtime is the extraction's.
			testtree.AssertSame(t, want, withoutMtimes(xfsOracle(t, got)), ".")
		})
	}
}
