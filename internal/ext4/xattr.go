package ext4

import (
	"fmt"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

const (
	xattrMagic           = 0xEA020000
	xattrBlockHeaderSize = 32
	xattrEntryHeaderSize = 16
	// maxXattrValue is the largest value getxattr(2) can return
	// (XATTR_SIZE_MAX), so nothing larger can reach a tar archive.
	maxXattrValue = 65536
)

// Name indexes of xattr entries.
const (
	xattrIndexUser          = 1
	xattrIndexACLAccess     = 2
	xattrIndexACLDefault    = 3
	xattrIndexTrusted       = 4
	xattrIndexSecurity      = 6
	xattrIndexSystem        = 7
	xattrIndexSystemRichACL = 8
)

// xattrPrefixes maps name indexes to the prefix of the full name. Other
// indexes (Lustre, encryption context, Hurd) are not visible through
// getxattr and are skipped.
var xattrPrefixes = map[uint8]string{
	xattrIndexUser:          "user.",
	xattrIndexACLAccess:     fstree.XattrACLAccess,
	xattrIndexACLDefault:    fstree.XattrACLDefault,
	xattrIndexTrusted:       "trusted.",
	xattrIndexSecurity:      "security.",
	xattrIndexSystem:        "system.",
	xattrIndexSystemRichACL: "system.richacl",
}

// inlineDataName is the system.* xattr holding inline data past i_block.
const inlineDataName = "data"

// xattrEntry is an xattr as stored: its value either in place or, with
// ea_inode, in inode valueInode.
type xattrEntry struct {
	index      uint8
	name       []byte
	value      []byte
	valueInode uint32
	valueSize  uint32
}

// parseXattrEntries decodes the entry list in entries, whose value offsets
// are relative to the start of values.
func parseXattrEntries(entries, values []byte) ([]xattrEntry, error) {
	var out []xattrEntry
	for pos := 0; ; {
		if len(entries)-pos < 4 {
			return nil, fmt.Errorf("xattr entries run past their area at byte %d", pos)
		}
		if le32(entries[pos:]) == 0 {
			return out, nil
		}
		if len(entries)-pos < xattrEntryHeaderSize {
			return nil, fmt.Errorf("xattr entry at byte %d is truncated", pos)
		}
		e := entries[pos:]
		nameLen := int(e[0])
		entryLen := (xattrEntryHeaderSize + nameLen + 3) &^ 3
		if entryLen > len(e) {
			return nil, fmt.Errorf("xattr entry at byte %d: name of %d bytes runs past its area", pos, nameLen)
		}
		x := xattrEntry{
			index:      e[1],
			name:       e[xattrEntryHeaderSize : xattrEntryHeaderSize+nameLen],
			valueInode: le32(e[4:]),
			valueSize:  le32(e[8:]),
		}
		if x.valueInode == 0 {
			offset := uint64(le16(e[2:]))
			if offset+uint64(x.valueSize) > uint64(len(values)) {
				return nil, fmt.Errorf("xattr %q: value of %d bytes at offset %d runs past its %d-byte area",
					x.name, x.valueSize, offset, len(values))
			}
			x.value = values[offset : offset+uint64(x.valueSize)]
		}
		out = append(out, x)
		pos += entryLen
	}
}

// inodeXattrs returns the xattrs stored in the inode after i_extra_isize.
func (fs *FS) inodeXattrs(in *inode) ([]xattrEntry, error) {
	start := goodOldInodeSize + in.extraIsize
	if fs.sb.inodeSize <= goodOldInodeSize || start+4 > fs.sb.inodeSize || le32(in.raw[start:]) != xattrMagic {
		return nil, nil
	}
	area := in.raw[start+4:]
	return parseXattrEntries(area, area)
}

// blockXattrs returns the xattrs in the inode's external xattr block.
func (fs *FS) blockXattrs(in *inode) ([]xattrEntry, error) {
	if in.fileACL == 0 {
		return nil, nil
	}
	b, err := fs.metadataBlock(in.fileACL)
	if err != nil {
		return nil, fmt.Errorf("xattr block: %w", err)
	}
	if m := le32(b); m != xattrMagic {
		return nil, fmt.Errorf("xattr block %d: magic is %#x, want %#x", in.fileACL, m, xattrMagic)
	}
	if n := le32(b[8:]); n != 1 {
		return nil, fmt.Errorf("xattr block %d: claims %d blocks, want 1", in.fileACL, n)
	}
	entries, err := parseXattrEntries(b[xattrBlockHeaderSize:], b)
	if err != nil {
		return nil, fmt.Errorf("xattr block %d: %w", in.fileACL, err)
	}
	return entries, nil
}

// Xattrs returns the extended attributes of inode ino with their full
// names and getxattr-format values, in-inode ones first as the kernel lists
// them. The inline-data marker system.data is left out.
func (fs *FS) Xattrs(ino uint64) ([]fstree.Xattr, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return nil, err
	}
	inInode, err := fs.inodeXattrs(in)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	inBlock, err := fs.blockXattrs(in)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	var out []fstree.Xattr
	for _, e := range append(inInode, inBlock...) {
		x, ok, err := fs.userVisible(e)
		if err != nil {
			return nil, inodeError(ino, fmt.Errorf("xattr %s%s: %w", xattrPrefixes[e.index], e.name, err))
		}
		if ok {
			out = append(out, x)
		}
	}
	return out, nil
}

// userVisible turns a stored xattr into what getxattr returns; ok is false
// for entries getxattr does not show.
func (fs *FS) userVisible(e xattrEntry) (x fstree.Xattr, ok bool, err error) {
	prefix, known := xattrPrefixes[e.index]
	if !known || (e.index == xattrIndexSystem && string(e.name) == inlineDataName) {
		return x, false, nil
	}
	x.Name = prefix + string(e.name)
	if e.valueInode != 0 {
		if x.Value, err = fs.eaInodeValue(e.valueInode, e.valueSize); err != nil {
			return x, false, err
		}
	} else {
		x.Value = append([]byte(nil), e.value...)
	}
	if e.index == xattrIndexACLAccess || e.index == xattrIndexACLDefault {
		if x.Value, err = aclToXattr(x.Value); err != nil {
			return x, false, err
		}
		if x.Value == nil {
			return x, false, nil // an empty ACL is no ACL
		}
	}
	return x, true, nil
}

// eaInodeValue reads a value stored in its own inode (ea_inode feature).
func (fs *FS) eaInodeValue(ino, size uint32) ([]byte, error) {
	if !fs.sb.hasIncompat(incompatEAInode) {
		return nil, fmt.Errorf("value is in inode %d but the ea_inode feature is off", ino)
	}
	if size > maxXattrValue {
		return nil, fmt.Errorf("value of %d bytes exceeds the xattr limit of %d", size, maxXattrValue)
	}
	in, err := fs.readInode(uint64(ino))
	if err != nil {
		return nil, err
	}
	if in.flags&flagEAInode == 0 || in.fileType() != fstree.ModeRegular {
		return nil, fmt.Errorf("value inode %d is not an xattr inode", ino)
	}
	if in.size != uint64(size) {
		return nil, fmt.Errorf("value inode %d holds %d bytes, the entry says %d", ino, in.size, size)
	}
	f, err := fs.openData(in)
	if err != nil {
		return nil, err
	}
	return f.readAll()
}

// inlineData returns the content of an inline-data inode: i_block, then
// the value of system.data.
func (fs *FS) inlineData(in *inode) ([]byte, error) {
	rest, err := fs.inlineDataXattr(in)
	if err != nil {
		return nil, inodeError(in.num, err)
	}
	if in.size > uint64(inlineBlockSize+len(rest)) {
		return nil, inodeError(in.num, fmt.Errorf("inline data holds %d bytes, the size is %d", inlineBlockSize+len(rest), in.size))
	}
	data := make([]byte, 0, inlineBlockSize+len(rest))
	data = append(append(data, in.block...), rest...)
	return data[:in.size], nil
}

// inlineDataXattr returns the in-inode value of system.data. It never
// follows an EA inode, so reading inline data cannot recurse.
func (fs *FS) inlineDataXattr(in *inode) ([]byte, error) {
	entries, err := fs.inodeXattrs(in)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.index == xattrIndexSystem && string(e.name) == inlineDataName {
			if e.valueInode != 0 {
				return nil, fmt.Errorf("inline data xattr points to inode %d", e.valueInode)
			}
			return e.value, nil
		}
	}
	return nil, fmt.Errorf("inline data flag is set but there is no system.data xattr")
}

// ext4ACLVersion heads ext4's compact ACL form.
const ext4ACLVersion = 1

// aclToXattr converts an ext4 ACL (a version header, then 4-byte entries
// for the owner, owning group, mask and others and 8-byte entries with an
// id for named users and groups) to the getxattr format. It returns nil
// for an ACL without entries.
func aclToXattr(v []byte) ([]byte, error) {
	if len(v) < 4 || le32(v) != ext4ACLVersion {
		return nil, fmt.Errorf("POSIX ACL of %d bytes has no version %d header", len(v), ext4ACLVersion)
	}
	var entries []fstree.ACLEntry
	for pos := 4; pos < len(v); {
		if len(v)-pos < 4 {
			return nil, fmt.Errorf("POSIX ACL entry at byte %d is truncated", pos)
		}
		e := fstree.ACLEntry{Tag: fstree.ACLTag(le16(v[pos:])), Perm: le16(v[pos+2:]), ID: fstree.ACLUndefinedID}
		if err := fstree.CheckACLTag(e.Tag, fmt.Sprintf("at byte %d", pos)); err != nil {
			return nil, err
		}
		if hasID, _ := e.Tag.HasID(); !hasID {
			pos += 4
		} else {
			if len(v)-pos < 8 {
				return nil, fmt.Errorf("POSIX ACL entry at byte %d is truncated", pos)
			}
			e.ID = le32(v[pos+4:])
			pos += 8
		}
		entries = append(entries, e)
	}
	return fstree.EncodeACL(entries), nil
}
