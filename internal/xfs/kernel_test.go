package xfs

import (
	"bytes"
	"testing"
)

// TestOpenFresh opens a fresh mkfs.xfs image and checks its identity.
func TestOpenFresh(t *testing.T) {
	img := mkfs(t, 300<<20)
	fs := openImage(t, img)
	if fs.Label() != testLabel || formatUUID(fs.sb.uuid[:]) != testUUID {
		t.Errorf("label %q uuid %s", fs.Label(), formatUUID(fs.sb.uuid[:]))
	}
	entries, err := fs.ReadDir(fs.RootInode())
	if err != nil || len(entries) != 0 {
		t.Errorf("root: %v, %v", entries, err)
	}
	_ = bytes.MinRead
}
