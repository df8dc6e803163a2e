// Package tarball packs a filesystem tree into a MAAS root filesystem
// tarball: a tar stream in the format GNU tar writes, which curtin unpacks
// on the deployed machine with
//
//	tar -C TARGET --xattrs --xattrs-include=* -Sxpf FILE --numeric-owner
//
// Every member is named "./path", carries numeric owners, all mode bits
// and the extended attributes (file capabilities, SELinux labels, POSIX
// ACLs) as PAX SCHILY.xattr records; hard links stay links, sparse files
// use GNU tar's PAX sparse format 1.0 so that holes come back as holes.
// The tree is generalized while it streams (machine ID, cloud-init state,
// SSH host keys), and the stream is compressed by WriteTGZ.
//
// The tree comes from a disk image that a VM wrote, so it is untrusted:
// names are checked so that no member can land outside the target, and
// directory cycles and excessive depth are errors.
package tarball

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Options control what WriteTar puts into the archive.
type Options struct {
	// Generalize selects the generalization rules; see DefaultGeneralize.
	Generalize Generalize
	// Exclude lists globs of image paths to leave out, like
	// "/var/cache/apt/*.bin"; "**" matches any number of path segments.
	// A matching directory is left out with everything below it.
	Exclude []string
	// Include adds host files to the archive.
	Include []Include
	// ClampMtime, when set, replaces modification times newer than it,
	// for reproducible archives.
	ClampMtime *time.Time
	// Log receives a summary of what was skipped; nil discards it.
	Log func(format string, args ...any)
}

// Include is a host file added to the archive at Dest, replacing an image
// file of that name. Missing parent directories are added (mode 0755,
// owned by root).
type Include struct {
	// Source is the host file's path; it must be a regular file.
	Source string
	// Dest is the absolute path in the image, like "/curtin/curtin-hooks".
	Dest string
	// Mode holds the permission bits (with setuid, setgid and sticky);
	// 0 keeps the source file's.
	Mode uint32
	// UID and GID are the numeric owner in the image.
	UID, GID uint32
}

// Stats counts what WriteTar wrote and left out.
type Stats struct {
	Entries        int64 // members written, including links
	Dirs           int64
	RegularFiles   int64
	SparseFiles    int64 // regular files stored in sparse format
	Symlinks       int64
	Hardlinks      int64 // members stored as links to an earlier member
	Devices        int64 // character and block devices
	FIFOs          int64
	DataBytes      int64 // file data written, without holes
	SkippedSockets int64
	Excluded       int64 // entries matched by Options.Exclude (a directory counts once)
	Generalized    int64 // entries left out or emptied by Options.Generalize
	Included       int64 // host files added by Options.Include
}

// maxDepth bounds directory nesting. Paths are limited to 4096 bytes
// (PATH_MAX) on Linux, and each level takes at least two of them.
const maxDepth = 2048

// copyBufferSize is the size of the reads of file data: large, and
// aligned in the file, so that image readers read whole blocks.
const copyBufferSize = 1 << 20

// recordSize is GNU tar's default record size (20 blocks); the archive
// is padded to a multiple of it, as GNU tar does.
const recordSize = 20 * blockSize

// WriteTar writes the tree src as a tar stream to w. It stops at the
// first error, which names the inode or path at fault.
func WriteTar(ctx context.Context, w io.Writer, src fstree.FS, opts Options) (Stats, error) {
	rules, err := newRules(opts)
	if err != nil {
		return Stats{}, err
	}
	out := &countingWriter{w: w}
	bw := bufio.NewWriterSize(out, 256<<10)
	t := &tarWriter{
		ctx:      ctx,
		w:        bw,
		src:      src,
		opts:     opts,
		rules:    rules,
		buf:      make([]byte, copyBufferSize),
		links:    map[uint64]*linkedInode{},
		dirPaths: map[uint64]string{},
	}
	if err := t.writeTree(); err != nil {
		return t.stats, err
	}
	if err := writeTrailer(bw, out.n+int64(bw.Buffered())); err != nil {
		return t.stats, err
	}
	t.logSummary()
	return t.stats, nil
}

// writeTrailer ends an archive of written bytes: two zero blocks, then
// zeros up to a whole record.
func writeTrailer(bw *bufio.Writer, written int64) error {
	trailer := 2 * blockSize
	if rem := (written + int64(trailer)) % recordSize; rem != 0 {
		trailer += int(recordSize - rem)
	}
	if _, err := bw.Write(make([]byte, trailer)); err != nil {
		return err
	}
	return bw.Flush()
}

// MaxFileSize is the largest regular file a tarball may carry: the largest
// file ext4 with 4 KiB blocks holds ((2^32-1) blocks, the kernel's
// s_maxbytes), which is what curtin extracts onto. GNU tar cannot extract
// a bigger one there, and a corrupt i_size (2^63-1) would otherwise be
// found only at deploy time.
const MaxFileSize = (1<<32 - 1) * 4096

type tarWriter struct {
	ctx   context.Context
	w     *bufio.Writer
	src   fstree.FS
	opts  Options
	rules *rules
	stats Stats
	buf   []byte
	hdr   []byte
	// links maps inodes with more than one link to their first member
	// and the names that reached them.
	links map[uint64]*linkedInode
	// reachedOnce records the inodes of one link already written.
	reachedOnce inodeSet
	// dirPaths maps each directory inode written to its path, to detect
	// cycles.
	dirPaths map[uint64]string
}

func (t *tarWriter) writeTree() error {
	root := t.src.RootInode()
	st, err := t.src.Stat(root)
	if err != nil {
		return fmt.Errorf("root directory (inode %d): %w", root, err)
	}
	if st.Mode&fstree.ModeType != fstree.ModeDir {
		return fmt.Errorf("root inode %d is not a directory (mode %o)", root, st.Mode)
	}
	if err := t.writeImageDir("/", root, st); err != nil {
		return err
	}
	return t.walk("/", root, true, 0)
}

// child is one name in a directory of the archive: from the image, from
// Options.Include, or a directory an include needs.
type child struct {
	name    string
	ino     uint64
	inImage bool
}

// walk writes the members below the directory p. hasImage is false for
// a directory that only includes need.
func (t *tarWriter) walk(p string, dirIno uint64, hasImage bool, depth int) error {
	if depth >= maxDepth {
		return fmt.Errorf("directory %s (inode %d) is nested deeper than %d levels", p, dirIno, maxDepth)
	}
	children, err := t.children(p, dirIno, hasImage)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if err := t.writeChild(joinPath(p, c.name), c, depth); err != nil {
			return err
		}
	}
	return nil
}

// children lists a directory's image entries merged with the includes
// that go there, sorted by name bytes.
func (t *tarWriter) children(p string, dirIno uint64, hasImage bool) ([]child, error) {
	var children []child
	if hasImage {
		entries, err := t.src.ReadDir(dirIno)
		if err != nil {
			return nil, fmt.Errorf("reading directory %s (inode %d): %w", p, dirIno, err)
		}
		children = make([]child, 0, len(entries))
		for _, e := range entries {
			if err := checkName(e.Name); err != nil {
				return nil, fmt.Errorf("directory %s (inode %d), entry for inode %d: %w", p, dirIno, e.Ino, err)
			}
			children = append(children, child{name: e.Name, ino: e.Ino, inImage: true})
		}
	}
	slices.SortFunc(children, func(a, b child) int { return strings.Compare(a.name, b.name) })
	for i := 1; i < len(children); i++ {
		if children[i].name == children[i-1].name {
			return nil, fmt.Errorf("directory %s (inode %d) lists the name %q twice", p, dirIno, children[i].name)
		}
	}
	for _, name := range t.rules.overlay.children[p] {
		i, found := slices.BinarySearchFunc(children, name, func(c child, n string) int { return strings.Compare(c.name, n) })
		if !found {
			children = slices.Insert(children, i, child{name: name})
		}
	}
	return children, nil
}

// checkName rejects directory entry names that could address anything
// but a new entry in the same directory.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("invalid name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("name %q holds '/' or NUL", name)
	}
	return nil
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// memberName is the tar name of the image path p: "./etc/hostname".
func memberName(p string) string { return "." + p }

func (t *tarWriter) writeChild(p string, c child, depth int) error {
	if inc, ok := t.rules.overlay.files[p]; ok {
		if c.inImage {
			st, err := t.src.Stat(c.ino)
			if err != nil {
				return fmt.Errorf("%s (inode %d): %w", p, c.ino, err)
			}
			if st.Mode&fstree.ModeType == fstree.ModeDir {
				return fmt.Errorf("include destination %s is a directory in the image; include files into it instead", p)
			}
		}
		return t.writeInclude(p, inc)
	}
	_, needDir := t.rules.overlay.dirs[p]
	if !c.inImage {
		return t.writeIncludeDir(p, depth)
	}
	st, err := t.src.Stat(c.ino)
	if err != nil {
		return fmt.Errorf("%s (inode %d): %w", p, c.ino, err)
	}
	if t.rules.excluded(p, &t.stats) {
		if needDir {
			return t.writeIncludeDir(p, depth)
		}
		return nil
	}
	isDir := st.Mode&fstree.ModeType == fstree.ModeDir
	if needDir && !isDir {
		return fmt.Errorf("include needs %s to be a directory, but in the image it has mode %o (a symlink cannot be followed); use the real path", p, st.Mode)
	}
	if isDir {
		if err := t.writeImageDir(p, c.ino, st); err != nil {
			return err
		}
		return t.walk(p, c.ino, true, depth+1)
	}
	return t.writeImageNonDir(p, st)
}

func (t *tarWriter) writeImageDir(p string, ino uint64, st fstree.Stat) error {
	if first, seen := t.dirPaths[ino]; seen {
		return fmt.Errorf("directory inode %d is reached both at %s and at %s: the filesystem has a directory cycle or a hard-linked directory", ino, first, p)
	}
	t.dirPaths[ino] = p
	h, err := t.imageHeader(p, st)
	if err != nil {
		return err
	}
	h.name = strings.TrimSuffix(memberName(p), "/") + "/"
	h.typeflag = typeDir
	t.stats.Dirs++
	return t.writeHeader(h)
}

// imageHeader fills the fields every member of an image inode shares.
func (t *tarWriter) imageHeader(p string, st fstree.Stat) (*header, error) {
	xattrs, err := t.src.Xattrs(st.Ino)
	if err != nil {
		return nil, fmt.Errorf("extended attributes of %s (inode %d): %w", p, st.Ino, err)
	}
	for _, x := range xattrs {
		if x.Name == "" || strings.IndexByte(x.Name, 0) >= 0 {
			return nil, fmt.Errorf("%s (inode %d) has an extended attribute with an invalid name %q", p, st.Ino, x.Name)
		}
	}
	return &header{
		name:   memberName(p),
		mode:   st.Mode & fstree.ModePerm,
		uid:    st.UID,
		gid:    st.GID,
		mtime:  t.mtime(st.Mtime),
		xattrs: xattrs,
	}, nil
}

func (t *tarWriter) mtime(m time.Time) int64 {
	if c := t.opts.ClampMtime; c != nil && m.After(*c) {
		m = *c
	}
	return m.Unix()
}

func (t *tarWriter) writeImageNonDir(p string, st fstree.Stat) error {
	kind := st.Mode & fstree.ModeType
	if kind == fstree.ModeSocket {
		t.stats.SkippedSockets++
		return nil
	}
	generalized := t.rules.fileAction(p, st.Mode)
	if generalized == drop {
		t.stats.Generalized++
		return nil
	}
	h, err := t.imageHeader(p, st)
	if err != nil {
		return err
	}
	if generalized == empty {
		t.stats.Generalized++
		t.stats.RegularFiles++
		h.typeflag = typeReg
		return t.writeHeader(h)
	}
	if first, err := t.reach(p, st); err != nil || first != "" {
		if err != nil {
			return err
		}
		h.typeflag, h.linkname, h.xattrs = typeLink, first, nil
		t.stats.Hardlinks++
		return t.writeHeader(h)
	}
	switch kind {
	case fstree.ModeRegular:
		err = t.writeImageFile(p, st, h)
	case fstree.ModeSymlink:
		err = t.writeSymlink(p, st, h)
	case fstree.ModeChar, fstree.ModeBlock:
		h.typeflag = typeChar
		if kind == fstree.ModeBlock {
			h.typeflag = typeBlock
		}
		h.devMajor, h.devMinor = st.DevMajor, st.DevMinor
		t.stats.Devices++
		err = t.writeHeader(h)
	case fstree.ModeFIFO:
		h.typeflag = typeFIFO
		t.stats.FIFOs++
		err = t.writeHeader(h)
	default:
		return fmt.Errorf("%s (inode %d) has an unknown file type (mode %o)", p, st.Ino, st.Mode)
	}
	if err == nil && st.Nlink > 1 {
		t.links[st.Ino] = &linkedInode{first: h.name, firstPath: p, names: 1}
	}
	return err
}

// linkedInode is an inode of several links written to the archive.
type linkedInode struct {
	first     string // its member name
	firstPath string
	names     uint32 // names that reached it so far
}

// reach records that path p reaches the non-directory inode of st, and
// returns the member an earlier name wrote it as ("" for the first name).
//
// An inode reached by more names than its links count is an error, not a
// hard link and not another copy. Copies are what GNU tar would archive
// from the kernel's view of such a filesystem (it links only inodes whose
// st_nlink > 1) and what made a 32 MiB filesystem a tarball of 87 MB. A
// hard link is what e2fsck makes of it ("Inode N ref count is 1, should
// be 2", fixed by raising links_count), but that is a repair of an
// inconsistent filesystem, and which repair is right is fsck's to say,
// not an exporter's: so the export stops and says to run it.
func (t *tarWriter) reach(p string, st fstree.Stat) (string, error) {
	if st.Nlink <= 1 {
		if !t.reachedOnce.add(st.Ino) {
			return "", t.overLinked(p, st, "another name")
		}
		return "", nil
	}
	l, ok := t.links[st.Ino]
	if !ok {
		return "", nil
	}
	if l.names >= st.Nlink {
		return "", t.overLinked(p, st, l.firstPath)
	}
	l.names++
	return l.first, nil
}

func (t *tarWriter) overLinked(p string, st fstree.Stat, other string) error {
	return fmt.Errorf("%s (inode %d) is reached by more names than its link count %d (also by %s): the filesystem is inconsistent; run e2fsck -f on the image, which repairs the count",
		p, st.Ino, st.Nlink, other)
}

// inodeSet is a set of inode numbers as a sparse bitmap: inodes are
// numbered densely, so a million files take a few hundred KiB.
type inodeSet map[uint64]uint64

// add adds ino and reports whether it was new.
func (s *inodeSet) add(ino uint64) bool {
	if *s == nil {
		*s = inodeSet{}
	}
	word, bit := ino/64, uint64(1)<<(ino%64)
	if (*s)[word]&bit != 0 {
		return false
	}
	(*s)[word] |= bit
	return true
}

func (t *tarWriter) writeSymlink(p string, st fstree.Stat, h *header) error {
	target, err := t.src.ReadLink(st.Ino)
	if err != nil {
		return fmt.Errorf("symlink %s (inode %d): %w", p, st.Ino, err)
	}
	if target == "" || strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("symlink %s (inode %d) has an invalid target %q", p, st.Ino, target)
	}
	h.typeflag, h.linkname = typeSymlink, target
	t.stats.Symlinks++
	return t.writeHeader(h)
}

func (t *tarWriter) writeImageFile(p string, st fstree.Stat, h *header) error {
	if st.Size > MaxFileSize {
		return fmt.Errorf("%s (inode %d) claims a size of %d bytes, more than the largest file a deployed ext4 can hold (%d): the filesystem is corrupt; run e2fsck -f on the image",
			p, st.Ino, st.Size, int64(MaxFileSize))
	}
	f, err := t.src.OpenFile(st.Ino)
	if err != nil {
		return fmt.Errorf("opening %s (inode %d): %w", p, st.Ino, err)
	}
	if c, ok := f.(io.Closer); ok {
		defer c.Close()
	}
	if f.Size() != st.Size {
		return fmt.Errorf("%s (inode %d): file data has %d bytes, inode says %d", p, st.Ino, f.Size(), st.Size)
	}
	if err := t.writeFile(h, f); err != nil {
		return fmt.Errorf("%s (inode %d): %w", p, st.Ino, err)
	}
	return nil
}

// writeFile writes a regular file member with its data, sparse when
// that saves at least a block.
func (t *tarWriter) writeFile(h *header, f fstree.File) error {
	plan, err := planData(f.Size(), f.DataRanges())
	if err != nil {
		return err
	}
	h.typeflag = typeReg
	var sparseMapText []byte
	if plan.sparse != nil {
		sparseMapText = plan.sparse.encode()
		h.sparse = plan.sparse
		h.size = int64(len(sparseMapText))
		for _, r := range plan.ranges {
			h.size += r.Length
		}
		t.stats.SparseFiles++
	} else {
		h.size = f.Size()
	}
	t.stats.RegularFiles++
	if err := t.writeHeader(h); err != nil {
		return err
	}
	if _, err := t.w.Write(sparseMapText); err != nil {
		return err
	}
	for _, r := range plan.ranges {
		if err := t.copyRange(f, r); err != nil {
			return err
		}
	}
	_, err = t.w.Write(appendPadding(t.hdr[:0], h.size))
	return err
}

// copyRange copies a byte range of f with reads aligned to the buffer
// size.
func (t *tarWriter) copyRange(f io.ReaderAt, r fstree.Range) error {
	for pos, end := r.Offset, r.Offset+r.Length; pos < end; {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		chunkEnd := min(end, (pos/copyBufferSize+1)*copyBufferSize)
		chunk := t.buf[:chunkEnd-pos]
		n, err := f.ReadAt(chunk, pos)
		if n < len(chunk) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading %d bytes at offset %d: %w", len(chunk), pos, err)
		}
		if _, err := t.w.Write(chunk); err != nil {
			return err
		}
		t.stats.DataBytes += int64(len(chunk))
		pos = chunkEnd
	}
	return nil
}

func (t *tarWriter) writeHeader(h *header) error {
	var err error
	t.hdr, err = appendHeader(t.hdr[:0], h)
	if err != nil {
		return err
	}
	t.stats.Entries++
	_, err = t.w.Write(t.hdr)
	return err
}

func (t *tarWriter) logSummary() {
	if t.opts.Log == nil {
		return
	}
	s := t.stats
	t.opts.Log("packed %d entries (%d files, %d sparse, %d directories, %d symlinks, %d hard links, %d devices, %d FIFOs), %d bytes of file data",
		s.Entries, s.RegularFiles, s.SparseFiles, s.Dirs, s.Symlinks, s.Hardlinks, s.Devices, s.FIFOs, s.DataBytes)
	if s.SkippedSockets > 0 {
		t.opts.Log("skipped %d sockets (tar cannot hold them; programs recreate them at run time)", s.SkippedSockets)
	}
	if s.Excluded > 0 || s.Generalized > 0 || s.Included > 0 {
		t.opts.Log("excluded %d entries, generalized %d, included %d host files", s.Excluded, s.Generalized, s.Included)
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
