package xfs

import (
	"fmt"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// Attribute fork blocks: a dabtree of node blocks over leaf blocks chained
// left to right, and remote value blocks.
const (
	daNodeMagicV4   = 0xfebe
	daNodeMagicV5   = 0x3ebe
	attrLeafMagicV4 = 0xfbee
	attrLeafMagicV5 = 0x3bee
	attrRemoteMagic = 0x5841524d // "XARM"
	daInfoV4        = 12
	daInfoV5        = 56
	attrLeafHdrV4   = 32
	attrLeafHdrV5   = 80
	daNodeHdrV4     = 16
	daNodeHdrV5     = 64
	attrRemoteHdr   = 56
	maxDaDepth      = 5 // XFS_DA_NODE_MAXDEPTH
	// maxXattrValue is the largest value getxattr(2) can return
	// (XATTR_SIZE_MAX), and the largest XFS stores.
	maxXattrValue = 65536
)

// Attribute entry flags: the namespace, and entries to leave out.
const (
	attrLocal      = 0x01
	attrRoot       = 0x02 // trusted.*
	attrSecure     = 0x04 // security.*
	attrParent     = 0x08 // parent pointers: not visible through getxattr
	attrIncomplete = 0x80 // a set interrupted halfway
)

// The root-namespace attributes where XFS keeps POSIX ACLs.
const (
	sgiACLFile    = "SGI_ACL_FILE"
	sgiACLDefault = "SGI_ACL_DEFAULT"
)

// rawXattr is an attribute as stored: its namespace flags, name, and value
// either in place or in remote blocks.
type rawXattr struct {
	flags     uint8
	name      []byte
	value     []byte
	remoteBlk uint32
	remoteLen uint32
	remote    bool
}

// Xattrs returns the extended attributes of inode ino with their full
// names and getxattr-format values, in on-disk order.
func (fs *FS) Xattrs(ino uint64) ([]fstree.Xattr, error) {
	in, err := fs.readInode(ino)
	if err != nil {
		return nil, err
	}
	out, err := fs.xattrs(in)
	if err != nil {
		return nil, inodeError(ino, err)
	}
	return out, nil
}

func (fs *FS) xattrs(in *inode) ([]fstree.Xattr, error) {
	fork := in.attrFork()
	if fork == nil {
		return nil, nil
	}
	var raws []rawXattr
	var exts []extent
	var err error
	switch in.aformat {
	case formatLocal:
		raws, err = shortformXattrs(fork)
	case formatExtents, formatBtree:
		if exts, err = fs.forkExtents(fork, in.aformat, in.anextents); err != nil {
			return nil, fmt.Errorf("attribute fork: %w", err)
		}
		if len(exts) == 0 {
			return nil, nil // a fork emptied of its last attribute
		}
		raws, err = fs.leafXattrs(exts)
	default:
		return nil, fmt.Errorf("attribute fork format %d is invalid", in.aformat)
	}
	if err != nil {
		return nil, err
	}
	var out []fstree.Xattr
	for _, r := range raws {
		x, ok, err := fs.userVisible(r, exts)
		if err != nil {
			return nil, fmt.Errorf("xattr %q: %w", r.name, err)
		}
		if ok {
			out = append(out, x)
		}
	}
	return out, nil
}

// shortformXattrs decodes attributes kept in the inode's attribute fork.
func shortformXattrs(fork []byte) ([]rawXattr, error) {
	if len(fork) < 4 {
		return nil, fmt.Errorf("short-form attributes: fork of %d bytes", len(fork))
	}
	total, count := int(be16(fork)), int(fork[2])
	if total < 4 || total > len(fork) {
		return nil, fmt.Errorf("short-form attributes of %d bytes (4 to %d)", total, len(fork))
	}
	b := fork[:total]
	out := make([]rawXattr, 0, count)
	for i, pos := 0, 4; i < count; i++ {
		if pos+3 > len(b) {
			return nil, fmt.Errorf("short-form attribute %d runs past the fork", i)
		}
		nameLen, valueLen, flags := int(b[pos]), int(b[pos+1]), b[pos+2]
		end := pos + 3 + nameLen + valueLen
		if end > len(b) {
			return nil, fmt.Errorf("short-form attribute %d (%d+%d bytes) runs past the fork", i, nameLen, valueLen)
		}
		out = append(out, rawXattr{flags: flags, name: b[pos+3 : pos+3+nameLen], value: b[pos+3+nameLen : end]})
		pos = end
	}
	return out, nil
}

// readAttrBlock reads attribute fork block blk.
func (fs *FS) readAttrBlock(exts []extent, blk uint64) ([]byte, error) {
	i := lookupExtent(exts, blk)
	if i == len(exts) || exts[i].off > blk {
		return nil, fmt.Errorf("attribute block %d is not mapped", blk)
	}
	b := make([]byte, fs.sb.blockSize)
	if err := fs.readExtents(exts, b, blk<<fs.sb.blockLog); err != nil {
		return nil, fmt.Errorf("attribute block %d: %w", blk, err)
	}
	return b, nil
}

// leafXattrs walks from block 0 down the leftmost path of node blocks to
// the first leaf, then along the chain of leaves.
func (fs *FS) leafXattrs(exts []extent) ([]rawXattr, error) {
	nodeMagic, leafMagic, nodeHdr, countOff := uint16(daNodeMagicV4), uint16(attrLeafMagicV4), daNodeHdrV4, daInfoV4
	if fs.sb.v5 {
		nodeMagic, leafMagic, nodeHdr, countOff = daNodeMagicV5, attrLeafMagicV5, daNodeHdrV5, daInfoV5
	}
	blk := uint64(0)
	b, err := fs.readAttrBlock(exts, blk)
	if err != nil {
		return nil, err
	}
	for depth := 0; be16(b[8:]) == nodeMagic; depth++ {
		if depth == maxDaDepth {
			return nil, fmt.Errorf("attribute btree deeper than %d levels", maxDaDepth)
		}
		if count := be16(b[countOff:]); count == 0 || int(count) > (len(b)-nodeHdr)/8 {
			return nil, fmt.Errorf("attribute node block %d has %d entries", blk, count)
		}
		blk = uint64(be32(b[nodeHdr+4:]))
		if b, err = fs.readAttrBlock(exts, blk); err != nil {
			return nil, err
		}
	}
	var out []rawXattr
	seen := map[uint64]bool{}
	for {
		if m := be16(b[8:]); m != leafMagic {
			return nil, fmt.Errorf("attribute block %d: magic is %#04x, want %#04x", blk, m, leafMagic)
		}
		seen[blk] = true
		if out, err = fs.leafBlockXattrs(b, out); err != nil {
			return nil, fmt.Errorf("attribute leaf %d: %w", blk, err)
		}
		next := uint64(be32(b))
		if next == 0 {
			return out, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("attribute leaf %d links back to leaf %d", blk, next)
		}
		blk = next
		if b, err = fs.readAttrBlock(exts, blk); err != nil {
			return nil, err
		}
	}
}

// leafBlockXattrs appends the attributes of one leaf block.
func (fs *FS) leafBlockXattrs(b []byte, out []rawXattr) ([]rawXattr, error) {
	countOff, hdr := daInfoV4, attrLeafHdrV4
	if fs.sb.v5 {
		countOff, hdr = daInfoV5, attrLeafHdrV5
	}
	count := int(be16(b[countOff:]))
	if count > (len(b)-hdr)/8 {
		return nil, fmt.Errorf("%d entries do not fit in the block", count)
	}
	for i := range count {
		e := b[hdr+i*8:]
		idx, flags := int(be16(e[4:])), e[6]
		if idx < hdr+count*8 || idx >= len(b) {
			return nil, fmt.Errorf("entry %d: name at byte %d is outside the name area", i, idx)
		}
		v := b[idx:]
		x := rawXattr{flags: flags}
		if flags&attrLocal != 0 {
			if len(v) < 3 {
				return nil, fmt.Errorf("entry %d runs past the block", i)
			}
			valueLen, nameLen := int(be16(v)), int(v[2])
			if 3+nameLen+valueLen > len(v) {
				return nil, fmt.Errorf("entry %d (%d+%d bytes) runs past the block", i, nameLen, valueLen)
			}
			x.name, x.value = v[3:3+nameLen], v[3+nameLen:3+nameLen+valueLen]
		} else {
			if len(v) < 9 || 9+int(v[8]) > len(v) {
				return nil, fmt.Errorf("remote entry %d runs past the block", i)
			}
			x.remote, x.remoteBlk, x.remoteLen, x.name = true, be32(v), be32(v[4:]), v[9:9+int(v[8])]
		}
		out = append(out, x)
	}
	return out, nil
}

// userVisible turns a stored attribute into what getxattr returns; ok is
// false for those getxattr does not show.
func (fs *FS) userVisible(r rawXattr, exts []extent) (x fstree.Xattr, ok bool, err error) {
	if r.flags&(attrIncomplete|attrParent) != 0 {
		return x, false, nil
	}
	acl := false
	switch {
	case r.flags&attrRoot != 0 && (string(r.name) == sgiACLFile || string(r.name) == sgiACLDefault):
		acl = true
		x.Name = fstree.XattrACLAccess
		if string(r.name) == sgiACLDefault {
			x.Name = fstree.XattrACLDefault
		}
	case r.flags&attrRoot != 0:
		x.Name = "trusted." + string(r.name)
	case r.flags&attrSecure != 0:
		x.Name = "security." + string(r.name)
	default:
		x.Name = "user." + string(r.name)
	}
	if r.remote {
		if x.Value, err = fs.remoteValue(exts, r.remoteBlk, r.remoteLen); err != nil {
			return x, false, err
		}
	} else {
		x.Value = append([]byte(nil), r.value...)
	}
	if acl {
		if x.Value, err = aclToXattr(x.Value); err != nil {
			return x, false, err
		}
		if x.Value == nil {
			return x, false, nil
		}
	}
	return x, true, nil
}

// remoteValue reads a value kept in attribute fork blocks from blk on; on
// v5 each block has a header saying which bytes it holds.
func (fs *FS) remoteValue(exts []extent, blk, size uint32) ([]byte, error) {
	if size > maxXattrValue {
		return nil, fmt.Errorf("remote value of %d bytes exceeds the xattr limit of %d", size, maxXattrValue)
	}
	out := make([]byte, 0, size)
	for b := uint64(blk); len(out) < int(size); b++ {
		data, err := fs.readAttrBlock(exts, b)
		if err != nil {
			return nil, err
		}
		if fs.sb.v5 {
			n := uint64(be32(data[8:]))
			if be32(data) != attrRemoteMagic || be32(data[4:]) != uint32(len(out)) || n > uint64(len(data)-attrRemoteHdr) {
				return nil, fmt.Errorf("remote value block %d has no header for byte %d", b, len(out))
			}
			data = data[attrRemoteHdr : attrRemoteHdr+n]
		}
		out = append(out, data[:min(len(data), int(size)-len(out))]...)
		if len(data) == 0 {
			return nil, fmt.Errorf("remote value block %d is empty", b)
		}
	}
	return out, nil
}

// xfsACLEntrySize is an XFS ACL entry: tag and id (32 bits each, big
// endian), permissions (16 bits) and 2 bytes of padding.
const xfsACLEntrySize = 12

// aclToXattr converts an XFS ACL (a big-endian entry count, then its
// entries) to the getxattr format. It returns nil for an ACL without
// entries.
func aclToXattr(v []byte) ([]byte, error) {
	if len(v) < 4 {
		return nil, fmt.Errorf("POSIX ACL of %d bytes has no entry count", len(v))
	}
	count := uint64(be32(v))
	if count != uint64(len(v)-4)/xfsACLEntrySize || (len(v)-4)%xfsACLEntrySize != 0 {
		return nil, fmt.Errorf("POSIX ACL of %d bytes does not hold its %d entries", len(v), count)
	}
	entries := make([]fstree.ACLEntry, 0, count)
	for i := range count {
		e := v[4+i*xfsACLEntrySize:]
		tag32, id, perm := be32(e), be32(e[4:]), be16(e[8:])
		tag := fstree.ACLTag(tag32)
		if _, known := tag.HasID(); !known || tag32 > 0xffff {
			return nil, fmt.Errorf("POSIX ACL entry %d has unknown tag %#x", i, tag32)
		}
		if hasID, _ := tag.HasID(); !hasID {
			id = fstree.ACLUndefinedID
		}
		entries = append(entries, fstree.ACLEntry{Tag: tag, Perm: perm, ID: id})
	}
	return fstree.EncodeACL(entries), nil
}
