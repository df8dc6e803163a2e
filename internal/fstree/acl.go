package fstree

import (
	"encoding/binary"
	"fmt"
)

// POSIX ACLs reach the tarball as two extended attributes in the format
// getxattr returns them (the kernel's posix_acl_xattr): a little-endian
// version 2 header, then 8 bytes per entry: tag and permissions (16 bits
// each) and the user or group id (ACLUndefinedID where the tag names
// none). Every filesystem stores them in its own form; readers decode
// theirs into ACLEntry values and encode them with EncodeACL.
const (
	XattrACLAccess  = "system.posix_acl_access"
	XattrACLDefault = "system.posix_acl_default"
)

// ACLTag is an ACL entry's kind.
type ACLTag uint16

// ACL entry kinds, as <linux/posix_acl.h> numbers them.
const (
	ACLUserObj  ACLTag = 0x01
	ACLUser     ACLTag = 0x02
	ACLGroupObj ACLTag = 0x04
	ACLGroup    ACLTag = 0x08
	ACLMask     ACLTag = 0x10
	ACLOther    ACLTag = 0x20
)

// ACLUndefinedID is the id of an entry whose tag names no user or group.
const ACLUndefinedID = 0xFFFFFFFF

const aclXattrVersion = 2

// HasID reports whether an entry of kind t names a user or group by id;
// ok is false for a kind the kernel does not know.
func (t ACLTag) HasID() (hasID, ok bool) {
	switch t {
	case ACLUser, ACLGroup:
		return true, true
	case ACLUserObj, ACLGroupObj, ACLMask, ACLOther:
		return false, true
	}
	return false, false
}

// ACLEntry is one entry of a POSIX ACL.
type ACLEntry struct {
	Tag  ACLTag
	Perm uint16
	ID   uint32 // ACLUndefinedID unless Tag is ACLUser or ACLGroup
}

// CheckACLTag is the error for an entry of an unknown kind, or nil.
func CheckACLTag(t ACLTag, where string) error {
	if _, ok := t.HasID(); !ok {
		return fmt.Errorf("POSIX ACL entry %s has unknown tag %#x", where, uint16(t))
	}
	return nil
}

// EncodeACL writes entries in the getxattr format; nil for no entries.
func EncodeACL(entries []ACLEntry) []byte {
	if len(entries) == 0 {
		return nil
	}
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+8*len(entries)), aclXattrVersion)
	for _, e := range entries {
		out = binary.LittleEndian.AppendUint16(out, uint16(e.Tag))
		out = binary.LittleEndian.AppendUint16(out, e.Perm)
		out = binary.LittleEndian.AppendUint32(out, e.ID)
	}
	return out
}
