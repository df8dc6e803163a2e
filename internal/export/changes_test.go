package export

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// testImagePackages is the test image's inventory, read from the tree an
// inspection assembles (as maas-rootfs reads its base image).
func testImagePackages(t *testing.T) *pkgdb.Inventory {
	t.Helper()
	in, err := Inspect(context.Background(), Options{Input: testimage.Path(t)})
	require.NoError(t, err)
	defer in.Close()
	inv, err := pkgdb.Read(in.Tree)
	require.NoError(t, err)
	require.Greater(t, len(inv.Packages), 100, "the test image holds a Debian system")
	return inv
}

// editedBase is inv as a base image that lacked inv's first package, had
// an older version of its second and a package inv lacks; it returns the
// change list an export of the image must write against it.
func editedBase(inv *pkgdb.Inventory) (*pkgdb.Inventory, string) {
	base := &pkgdb.Inventory{Format: inv.Format, Path: inv.Path}
	base.Packages = append(base.Packages, inv.Packages[1:]...)
	added, upgraded := inv.Packages[0], inv.Packages[1]
	base.Packages[0].Version = "0~older"
	base.Packages = append(base.Packages, pkgdb.Package{Name: "zz-gone", ID: "zz-gone", Version: "1.0-1", Arch: "all"})
	want := fmt.Sprintf("added\t%s\t%s\nupgraded\t%s\t0~older\t%s\nremoved\tzz-gone\t1.0-1\n",
		added.ID, added.Version, upgraded.ID, upgraded.Version)
	return base, want
}

// TestChangeListOfTheTestImage: with a base inventory a tgz export reads
// the image's packages even when no manifest or SBOM is asked for, writes
// <image>.changes (listed last among the files beside the image) with one
// line per added, upgraded and removed package, and returns the changes;
// an export to the same path without a base removes that stale file.
func TestChangeListOfTheTestImage(t *testing.T) {
	base, want := editedBase(testImagePackages(t))
	output := filepath.Join(t.TempDir(), "debian.tar.gz")
	res, err := exportTestImage(t, output, Sidecars{Checksum: true, Base: base})
	require.NoError(t, err)
	changes := output + pkgdb.ChangesSuffix
	assert.Equal(t, []string{output + pkgdb.ChecksumSuffix, changes}, res.SidecarFiles)
	assert.Equal(t, changes, res.ChangesFile)
	got, err := os.ReadFile(changes)
	require.NoError(t, err)
	assert.Equal(t, want, string(got))
	assert.Equal(t, "1 added, 1 removed, 1 upgraded: "+strings.Join([]string{res.Changes[0].ID, res.Changes[1].ID, "zz-gone"}, ", "),
		res.Changes.Summary())

	res, err = exportTestImage(t, output, Sidecars{Checksum: true})
	require.NoError(t, err)
	assert.Empty(t, res.ChangesFile)
	assert.NoFileExists(t, changes, "the change list of an earlier export describes another image")
}

// TestChangeListOfADDGZ: a whole-disk export writes the change list
// against the packages of the root it finds, which ReadDiskPackages reads
// of a base image as the inspection's tree has them; without a root it
// writes none, says so, and ReadDiskPackages says why.
func TestChangeListOfADDGZ(t *testing.T) {
	inv := testImagePackages(t)
	disk, err := ReadDiskPackages(context.Background(), Options{Input: testimage.Path(t)})
	require.NoError(t, err)
	assert.Equal(t, inv, disk, "a ddgz build's base packages are those of the inspected tree")

	base, want := editedBase(inv)
	dir := t.TempDir()
	output := filepath.Join(dir, "debian.dd.gz")
	res, err := Run(context.Background(), Options{Input: testimage.Path(t), Output: output, Filetype: FiletypeDDGZ,
		Sidecars: Sidecars{Manifest: true, Base: base}})
	require.NoError(t, err)
	assert.Equal(t, []string{output + pkgdb.ManifestSuffix, output + pkgdb.ChangesSuffix}, res.SidecarFiles)
	got, err := os.ReadFile(output + pkgdb.ChangesSuffix)
	require.NoError(t, err)
	assert.Equal(t, want, string(got))

	blank := filepath.Join(dir, "blank.raw")
	require.NoError(t, os.WriteFile(blank, make([]byte, 4*mib), 0o644))
	_, err = ReadDiskPackages(context.Background(), Options{Input: blank})
	require.Error(t, err)
	var said []string
	output = filepath.Join(dir, "blank.dd.gz")
	res, err = Run(context.Background(), Options{Input: blank, Output: output, Filetype: FiletypeDDGZ, Architecture: "amd64/generic",
		Sidecars: Sidecars{Checksum: true, Base: base}, Log: func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }})
	require.NoError(t, err)
	assert.Equal(t, []string{output + pkgdb.ChecksumSuffix}, res.SidecarFiles)
	assert.Empty(t, res.ChangesFile)
	assert.Contains(t, strings.Join(said, "\n"), "no manifest, SBOM or change list for this disk image")
}
