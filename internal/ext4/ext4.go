// Package ext4 reads ext2, ext3 and ext4 filesystems from an io.ReaderAt,
// read-only and without mounting anything, so that the root filesystem of a
// disk image can be exported without root, FUSE, nbd or loop devices.
//
// It is our own because no well-kept Go library reads ext4 together with its
// extended attributes: go-diskfs v1.7.0's ext4 package has no xattr support
// and is write-oriented, and capabilities, POSIX ACLs and SELinux labels must
// survive the export.
//
// The image is untrusted (it comes out of a VM): every structure is checked
// against the limits of the format and the size of the image before it is
// used, so a corrupted or hostile image yields an error, never a panic, an
// endless loop or an allocation out of proportion to the image. Checksums
// (metadata_csum, gdt_csum) are not verified: they guard against media
// errors, not against a hostile image, and the checks above do that.
//
// An *FS is safe for concurrent use.
package ext4

import (
	"errors"
	"fmt"
	"io"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/lru"
)

var _ fstree.FS = (*FS)(nil)

// rootInode is the inode number of the root directory on every ext2/3/4.
const rootInode = 2

// metadataCacheBytes bounds the cache of metadata blocks (inode tables,
// xattr blocks): enough for the locality of a tree walk, small in RSS.
const metadataCacheBytes = 4 << 20

// FS is an ext2, ext3 or ext4 filesystem opened read-only.
type FS struct {
	r          io.ReaderAt
	sb         superblock
	blockSize  uint64
	blockShift uint
	cache      *lru.Cache[uint64, []byte] // metadata blocks by number
}

// Probe reports whether r starts like an ext2/3/4 filesystem (its superblock
// magic). It reads two bytes and is meant for sniffing partitions; Open does
// the real checks.
func Probe(r io.ReaderAt) bool {
	var magic [2]byte
	if _, err := r.ReadAt(magic[:], superblockOffset+sbMagic); err != nil {
		return false
	}
	return le16(magic[:]) == superblockMagic
}

// Open reads the superblock and the root directory's group descriptor of
// the filesystem held in the first size bytes of r; other descriptors are
// read when their inodes are.
func Open(r io.ReaderAt, size int64) (*FS, error) {
	raw := make([]byte, superblockSize)
	if err := readFull(r, raw, superblockOffset); err != nil {
		return nil, fmt.Errorf("ext4: reading the superblock at byte %d: %w", superblockOffset, err)
	}
	sb, err := parseSuperblock(raw)
	if err != nil {
		return nil, err
	}
	fs := &FS{
		r:          r,
		sb:         sb,
		blockSize:  1024 << sb.logBlockSize,
		blockShift: uint(10 + sb.logBlockSize),
		cache:      lru.New[uint64](metadataCacheBytes, lru.Bytes),
	}
	if err := fs.checkGeometry(size); err != nil {
		return nil, err
	}
	// The root directory's group, so that a filesystem whose descriptors
	// are garbage fails here.
	if _, err := fs.inodeTable((rootInode - 1) / uint64(sb.inodesPerGroup)); err != nil {
		return nil, fmt.Errorf("ext4: %w", err)
	}
	return fs, nil
}

// Label returns the volume label (as set by mkfs -L or e2label).
func (fs *FS) Label() string {
	return cString(fs.sb.volumeName[:])
}

// UUID returns the filesystem UUID.
func (fs *FS) UUID() [16]byte {
	return fs.sb.uuid
}

// RootInode returns the inode number of the root directory.
func (fs *FS) RootInode() uint64 {
	return rootInode
}

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

// readBlocks reads whole blocks starting at block blk into p, which must
// be a multiple of the block size long.
func (fs *FS) readBlocks(p []byte, blk uint64) error {
	if err := readFull(fs.r, p, int64(blk<<fs.blockShift)); err != nil {
		return fmt.Errorf("reading block %d: %w", blk, err)
	}
	return nil
}

// metadataBlock returns block blk through the cache. The returned slice is
// shared and must not be modified.
func (fs *FS) metadataBlock(blk uint64) ([]byte, error) {
	if blk >= fs.sb.blocksCount {
		return nil, fmt.Errorf("block %d is beyond the end of the filesystem (%d blocks)", blk, fs.sb.blocksCount)
	}
	return fs.cache.Load(blk, func() ([]byte, error) {
		b := make([]byte, fs.blockSize)
		if err := fs.readBlocks(b, blk); err != nil {
			return nil, err
		}
		return b, nil
	})
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
