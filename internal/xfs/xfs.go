// Package xfs reads XFS filesystems (v5, with CRCs, as current xfsprogs and
// RHEL 8 to 10 make them, and v4 as RHEL 7 made them) from an io.ReaderAt,
// read-only and without mounting anything, so that the root filesystem of a
// RHEL-family disk image can be exported without root, FUSE or loop
// devices. It serves fstree.FS: inodes by number, every directory format
// (short form, block, leaf, node, btree), data forks in local, extent-list
// and extent-btree form with unwritten extents as holes, inline and remote
// symlinks, device nodes, and extended attributes in short form, leaf and
// node blocks with remote values, the root-namespace SGI_ACL_FILE and
// SGI_ACL_DEFAULT attributes turned into system.posix_acl_access and
// system.posix_acl_default as getxattr returns them.
//
// Inodes are found from their numbers, so the AG headers and the
// free-space and inode btrees are never read.
//
// It is our own because no well-kept Go library reads XFS with its
// extended attributes: github.com/masahiro331/go-xfs-filesystem (untagged
// pseudo-versions only, the last of 2026-04) offers an io/fs.FS that
// leaves the attribute fork as a TODO, go-diskfs v1.9.4 has no XFS at
// all, and SELinux labels, capabilities and ACLs must survive the export.
//
// The image is untrusted (it comes out of a VM). Every structure is
// checked against the format's limits and the image's size before use:
// allocations sized from on-disk fields are bounded by the filesystem size
// or a fixed cap first, btree walks are bounded by their depth and by the
// blocks of the filesystem, block chains by a visited set. So a corrupted
// or hostile image yields an error, never a panic, an endless loop or an
// allocation out of proportion to the image. The CRCs of v5 superblocks
// and inodes are checked; other metadata CRCs are not (the checks above
// are what stands against a hostile image).
//
// A filesystem whose log holds changes not yet written back (an unclean
// shutdown) is refused, as the kernel would replay them first.
//
// An *FS is safe for concurrent use.
package xfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

var _ fstree.FS = (*FS)(nil)

// FS is an XFS filesystem opened read-only.
type FS struct {
	r  io.ReaderAt
	sb superblock
}

// Open reads and checks the superblock and the log of the filesystem held
// in the first size bytes of r, and the root inode.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	raw := make([]byte, maxSectorSize)
	n, err := r.ReadAt(raw, 0)
	if n < minSectorSize {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("xfs: reading the superblock: %w", err)
	}
	sb, err := parseSuperblock(raw[:n])
	if err != nil {
		return nil, err
	}
	if err := sb.checkSize(size); err != nil {
		return nil, err
	}
	fs := &FS{r: r, sb: sb}
	if err := fs.checkLog(); err != nil {
		return nil, err
	}
	if _, err := fs.readInode(sb.rootIno); err != nil {
		return nil, fmt.Errorf("xfs: root directory: %w", err)
	}
	return fs, nil
}

// Label returns the volume label (mkfs.xfs -L, xfs_admin -L).
func (fs *FS) Label() string { return fs.sb.label }

// UUID returns the filesystem UUID.
func (fs *FS) UUID() [16]byte { return fs.sb.uuid }

// RootInode returns the inode number of the root directory.
func (fs *FS) RootInode() uint64 { return fs.sb.rootIno }

// readFull reads len(p) bytes at off, turning a short read into an error.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readBlock reads the filesystem block fsb (an AG number and AG block).
func (fs *FS) readBlock(fsb uint64) ([]byte, error) {
	off, err := fs.sb.blockOffset(fsb, 1)
	if err != nil {
		return nil, err
	}
	b := make([]byte, fs.sb.blockSize)
	if err := readFull(fs.r, b, off); err != nil {
		return nil, fmt.Errorf("reading block %#x: %w", fsb, err)
	}
	return b, nil
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func formatUUID(u []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// inodeError names the inode an error is about.
func inodeError(ino uint64, err error) error {
	return fmt.Errorf("xfs: inode %d: %w", ino, err)
}
