package xfs

import (
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtree"
)

// compareTree compares the reader's whole tree with the kernel's view of
// the same filesystem, mounted read-only, and returns how many paths it
// compared. The kernel lists to root the trusted.SGI_ACL_* names beside
// the POSIX ACLs they hold: a tarball must carry the ACLs once, as
// system.posix_acl_*, so the reader leaves them out.
func compareTree(t *testing.T, fs *FS, root string) int {
	return testtree.CompareFS(t, fs, root, testtree.CompareOptions{
		SameInodes:  true,
		DirSizes:    true,
		IgnoreXattr: func(name string) bool { return strings.HasPrefix(name, "trusted.SGI_ACL_") },
	})
}
