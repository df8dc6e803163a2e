// Package testtool runs the host tools that tests build fixtures with and
// check results against (mkfs, GNU tar, qemu-img, zcat...), and decides
// which tier a test belongs to.
//
// Plain `go test ./...` runs the unit tier: nothing beyond the Go
// toolchain, no root. Tests that need host tools or root are acceptance
// tests, run only when PACKER_ACC is set (the Packer SDK's convention,
// acctest.TestEnvVar); without it they skip, saying so. With it, as `make
// test` and CI run, a missing tool or a missing root fails the test, never
// skips it, and the failure names the Debian package to install. Only
// tests import this package; it is a package of its own so that the
// packages testing against real tools share one list of them and one gate.
package testtool

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/acctest"
)

// AcceptanceEnv is the environment variable that turns on the tests that
// need more than the Go toolchain: any non-empty value, as in the SDK.
const AcceptanceEnv = acctest.TestEnvVar

// Acceptance reports whether the acceptance tier runs.
func Acceptance() bool { return os.Getenv(AcceptanceEnv) != "" }

// RequireAcceptance skips the test, saying what it needs and how to run
// it, unless the acceptance tier runs.
func RequireAcceptance(t testing.TB, needs string) {
	t.Helper()
	if !Acceptance() {
		t.Skipf("needs %s: set %s=1 to run it, as make test and make e2e do", needs, AcceptanceEnv)
	}
}

// RequireRoot is for tests that chown, mknod or loop-mount: it skips them
// in the unit tier and fails them when the acceptance tier runs without
// root.
func RequireRoot(t testing.TB) {
	t.Helper()
	RequireAcceptance(t, "root")
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root (it sets file owners, makes device nodes or mounts); run it as root, as CI does, or unset %s", AcceptanceEnv)
	}
}

// debianPackages names the Debian package of each tool the tests run.
var debianPackages = map[string]string{
	"awk":                 "mawk",
	"bash":                "bash",
	"blkid":               "util-linux",
	"cat":                 "coreutils",
	"cp":                  "coreutils",
	"cut":                 "coreutils",
	"dash":                "dash",
	"dd":                  "coreutils",
	"db5.3_load":          "db5.3-util",
	"debugfs":             "e2fsprogs",
	"dpkg-deb":            "dpkg",
	"dpkg-query":          "dpkg",
	"e2fsck":              "e2fsprogs",
	"fdisk":               "fdisk",
	"fsck.fat":            "dosfstools",
	"fuse2fs":             "fuse2fs",
	"genisoimage":         "genisoimage",
	"grep":                "grep",
	"gzip":                "gzip",
	"losetup":             "mount",
	"lvcreate":            "lvm2",
	"lvextend":            "lvm2",
	"lvs":                 "lvm2",
	"mcopy":               "mtools",
	"mdir":                "mtools",
	"mke2fs":              "e2fsprogs",
	"mkfs.btrfs":          "btrfs-progs",
	"mkfs.ext2":           "e2fsprogs",
	"mkfs.ext3":           "e2fsprogs",
	"mkfs.ext4":           "e2fsprogs",
	"mkfs.vfat":           "dosfstools",
	"mkfs.xfs":            "xfsprogs",
	"mkswap":              "util-linux",
	"mmd":                 "mtools",
	"mount":               "mount",
	"mtype":               "mtools",
	"nbdfuse":             "libnbd-bin",
	"nbdkit":              "nbdkit",
	"objcopy":             "binutils",
	"pigz":                "pigz",
	"pvcreate":            "lvm2",
	"pvs":                 "lvm2",
	"qemu-img":            "qemu-utils",
	"qemu-io":             "qemu-utils",
	"qemu-nbd":            "qemu-utils",
	"qemu-system-aarch64": "qemu-system-arm",
	"qemu-system-x86_64":  "qemu-system-x86",
	"resize2fs":           "e2fsprogs",
	"rm":                  "coreutils",
	"rmdir":               "coreutils",
	"rpm":                 "rpm",
	"rpmbuild":            "rpm",
	"sed":                 "sed",
	"setcap":              "libcap2-bin",
	"setfacl":             "acl",
	"setfattr":            "attr",
	"setpriv":             "util-linux",
	"sfdisk":              "fdisk",
	"sgdisk":              "gdisk",
	"sh":                  "dash",
	"sqlite3":             "sqlite3",
	"sha256sum":           "coreutils",
	"shellcheck":          "shellcheck",
	"sync":                "coreutils",
	"tail":                "coreutils",
	"tar":                 "tar",
	"truncate":            "coreutils",
	"umount":              "mount",
	"vgcreate":            "lvm2",
	"vgextend":            "lvm2",
	"vgs":                 "lvm2",
	"xfs_db":              "xfsprogs",
	"xfs_io":              "xfsprogs",
	"zcat":                "gzip",
}

// Require skips the test in the unit tier and, in the acceptance tier,
// fails it when one of the tools is not on PATH.
func Require(t testing.TB, names ...string) {
	t.Helper()
	RequireAcceptance(t, strings.Join(names, ", "))
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			pkg := debianPackages[name]
			if pkg == "" {
				pkg = "(unknown: add it to internal/test/testtool)"
			}
			t.Fatalf("%s is missing: apt-get install %s", name, pkg)
		}
	}
}

// Output runs a tool and returns its standard output; its standard error
// is shown only when it fails, which fails the test.
func Output(t testing.TB, name string, args ...string) string {
	t.Helper()
	Require(t, name)
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// CombinedOutput runs a tool and returns its standard output and error
// together; a failure fails the test.
func CombinedOutput(t testing.TB, name string, args ...string) string {
	t.Helper()
	Require(t, name)
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
