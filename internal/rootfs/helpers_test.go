package rootfs

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
)

// debianPackages names the package of each host tool the tests run.
var debianPackages = map[string]string{
	"tar":       "tar",
	"gzip":      "gzip",
	"setfattr":  "attr",
	"setfacl":   "acl",
	"setcap":    "libcap2-bin",
	"sha256sum": "coreutils",
}

// run runs a host tool and returns its standard output; a missing tool
// fails the test with the Debian package to install.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is missing: apt-get install %s", name, debianPackages[name])
	}
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), stderr.String())
	return string(out)
}

// packDir packs the host directory src into dst with WriteTar and
// WriteTGZ, as the exporter does with an image.
func packDir(t testing.TB, src, dst string, opts Options) (Output, Stats) {
	t.Helper()
	fsys, err := dirfs.Open(src)
	require.NoError(t, err)
	var stats Stats
	out, err := WriteTGZ(context.Background(), dst, DefaultCompressionLevel, func(w io.Writer) error {
		var err error
		stats, err = WriteTar(context.Background(), w, fsys, opts)
		return err
	})
	require.NoError(t, err)
	return out, stats
}

// extractCurtin unpacks a rootfs tarball with curtin's exact command.
func extractCurtin(t testing.TB, tgz string) string {
	t.Helper()
	target := t.TempDir()
	run(t, "tar", "-C", target, "--xattrs", "--xattrs-include=*", "-Sxpf", tgz, "--numeric-owner")
	return target
}
