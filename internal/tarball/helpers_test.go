package tarball

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/fstree/dirfs"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// run runs a host tool and returns its standard output.
var run = testtool.Output

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
