package ext4

import (
	"bytes"
	"fmt"
	iofs "io/fs"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

const (
	dirEntryHeaderSize = 8
	// dirReadChunk is how much of a directory one read fetches: large
	// reads, bounded memory.
	dirReadChunk = 256 << 10
	// inlineDotDotSize is the parent inode number at the start of an
	// inline directory's i_block.
	inlineDotDotSize = 4
)

// ReadDir lists directory ino without "." and "..", in on-disk order.
// Hashed (htree) directories are read linearly: their index blocks look
// like empty entries and are skipped.
func (fs *FS) ReadDir(ino uint64) ([]fstree.DirEntry, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return nil, err
	}
	if !in.isDir() {
		return nil, inodeError(ino, fmt.Errorf("not a directory (mode %#o)", in.mode))
	}
	if in.flags&flagEncrypt != 0 {
		return nil, inodeError(ino, ErrEncrypted)
	}
	if in.hasInlineData() {
		return fs.readInlineDir(in)
	}
	if in.size%fs.blockSize != 0 || in.size>>fs.blockShift > fs.sb.blocksCount {
		return nil, inodeError(ino, fmt.Errorf("directory size %d is not a whole number of blocks within the filesystem", in.size))
	}
	f, err := fs.openData(in)
	if err != nil {
		return nil, err
	}
	var mapped uint64
	for _, r := range f.runs {
		mapped += r.length
	}
	if mapped != in.size>>fs.blockShift {
		return nil, inodeError(ino, fmt.Errorf("directory of %d blocks has only %d mapped (holes in a directory)", in.size>>fs.blockShift, mapped))
	}
	return fs.readDirBlocks(f)
}

// readDirBlocks parses every block of a block-based directory.
func (fs *FS) readDirBlocks(f *file) ([]fstree.DirEntry, error) {
	buf := make([]byte, min(f.size, dirReadChunk))
	var out []fstree.DirEntry
	for off := int64(0); off < f.size; off += int64(len(buf)) {
		chunk := buf[:min(int64(len(buf)), f.size-off)]
		if _, err := f.ReadAt(chunk, off); err != nil {
			return nil, err
		}
		for b := 0; b < len(chunk); b += int(fs.blockSize) {
			var err error
			out, err = fs.parseDirEntries(out, chunk[b:b+int(fs.blockSize)], true)
			if err != nil {
				return nil, inodeError(f.ino, fmt.Errorf("directory block %d: %w", (off+int64(b))>>fs.blockShift, err))
			}
		}
	}
	return out, nil
}

// readInlineDir lists a directory stored in i_block (after the parent's
// inode number) and in the system.data xattr.
func (fs *FS) readInlineDir(in *inode) ([]fstree.DirEntry, error) {
	rest, err := fs.inlineDataXattr(in)
	if err != nil {
		return nil, inodeError(in.num, err)
	}
	out, err := fs.parseDirEntries(nil, in.block[inlineDotDotSize:], false)
	if err != nil {
		return nil, inodeError(in.num, fmt.Errorf("inline directory: %w", err))
	}
	if len(rest) > 0 {
		if out, err = fs.parseDirEntries(out, rest, false); err != nil {
			return nil, inodeError(in.num, fmt.Errorf("inline directory (system.data): %w", err))
		}
	}
	return out, nil
}

// parseDirEntries appends the entries of one directory block (or inline
// area) to out. Entries with inode 0 (free space, htree index nodes,
// checksum tails) and "." and ".." are skipped.
func (fs *FS) parseDirEntries(out []fstree.DirEntry, b []byte, wholeBlock bool) ([]fstree.DirEntry, error) {
	for pos := 0; pos < len(b); {
		if len(b)-pos < dirEntryHeaderSize {
			return nil, fmt.Errorf("entry at byte %d is truncated", pos)
		}
		ino := uint64(le32(b[pos:]))
		recLen := fs.recLen(le16(b[pos+4:]), wholeBlock)
		nameLen := int(b[pos+6])
		if recLen < dirEntryHeaderSize || recLen%4 != 0 || recLen > len(b)-pos || dirEntryHeaderSize+nameLen > recLen {
			return nil, fmt.Errorf("entry at byte %d has invalid record length %d (name length %d)", pos, recLen, nameLen)
		}
		name := b[pos+dirEntryHeaderSize : pos+dirEntryHeaderSize+nameLen]
		pos += recLen
		if ino == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		if nameLen == 0 || bytes.IndexByte(name, '/') >= 0 || bytes.IndexByte(name, 0) >= 0 {
			return nil, fmt.Errorf("entry for inode %d has an invalid name %q", ino, name)
		}
		if ino > uint64(fs.sb.inodesCount) {
			return nil, fmt.Errorf("entry %q points to inode %d, beyond the inode count %d", name, ino, fs.sb.inodesCount)
		}
		out = append(out, fstree.DirEntry{Name: string(name), Ino: ino})
	}
	return out, nil
}

// recLen decodes a record length; 64 KiB blocks need a 17th bit, taken
// from the low bits that are always zero otherwise.
func (fs *FS) recLen(v uint16, wholeBlock bool) int {
	if !wholeBlock || fs.blockSize < 65536 {
		return int(v)
	}
	if v == 65535 || v == 0 {
		return 65536
	}
	return int(v&65532) | int(v&3)<<16
}

// Lookup returns the inode of an absolute or root-relative path such as
// "/etc/os-release", following no symlinks. A missing name yields an error
// matching io/fs.ErrNotExist.
func (fs *FS) Lookup(path string) (uint64, error) {
	ino := uint64(rootInode)
	for _, name := range strings.Split(path, "/") {
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			return 0, fmt.Errorf("ext4: lookup %q: \"..\" is not supported", path)
		}
		entries, err := fs.ReadDir(ino)
		if err != nil {
			return 0, fmt.Errorf("ext4: lookup %q: %w", path, err)
		}
		next := uint64(0)
		for _, e := range entries {
			if e.Name == name {
				next = e.Ino
				break
			}
		}
		if next == 0 {
			return 0, fmt.Errorf("ext4: lookup %q: %q: %w", path, name, iofs.ErrNotExist)
		}
		ino = next
	}
	return ino, nil
}

// ReadLink returns the target of symlink ino: in i_block for fast
// symlinks, otherwise in the link's data (a block or inline data).
func (fs *FS) ReadLink(ino uint64) (string, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return "", err
	}
	if in.fileType() != fstree.ModeSymlink {
		return "", inodeError(ino, fmt.Errorf("not a symlink (mode %#o)", in.mode))
	}
	if in.flags&flagEncrypt != 0 {
		return "", inodeError(ino, ErrEncrypted)
	}
	if in.size == 0 || in.size >= fs.blockSize {
		return "", inodeError(ino, fmt.Errorf("symlink length %d is invalid (1 to %d)", in.size, fs.blockSize-1))
	}
	var target []byte
	if fs.isFastSymlink(in) {
		if in.size >= inlineBlockSize {
			return "", inodeError(ino, fmt.Errorf("fast symlink length %d does not fit in the inode", in.size))
		}
		target = in.block[:in.size]
	} else {
		f, err := fs.openData(in)
		if err != nil {
			return "", err
		}
		if target, err = f.readAll(); err != nil {
			return "", err
		}
	}
	if bytes.IndexByte(target, 0) >= 0 {
		return "", inodeError(ino, fmt.Errorf("symlink target %q contains a NUL byte", target))
	}
	return string(target), nil
}

// isFastSymlink applies the kernel's rule: a symlink whose target is in
// i_block owns no blocks except its xattr block.
func (fs *FS) isFastSymlink(in *inode) bool {
	if in.hasInlineData() {
		return false
	}
	var xattrBlocks uint64
	if in.fileACL != 0 {
		xattrBlocks = 1 << (fs.sb.logClusterSize + 10 - 9)
	}
	return in.blocks512 == xattrBlocks
}
