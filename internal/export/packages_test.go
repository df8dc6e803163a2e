package export

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/pkgdb"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

var allSidecars = Sidecars{Manifest: true, SBOM: true, Checksum: true, Tool: "packer-plugin-maas-test"}

// exportTestImage exports the test image as a tgz to output.
func exportTestImage(t *testing.T, output string, sidecars Sidecars) (Result, error) {
	t.Helper()
	return Run(context.Background(), Options{
		Input: testimage.Path(t), Output: output, Filetype: FiletypeTGZ,
		Tar:      tarball.Options{Generalize: tarball.DefaultGeneralize()},
		Sidecars: sidecars,
	})
}

// dpkgDisk is a small GPT disk whose ext4 root has a dpkg database of two
// packages: the tests of the files' life cycle need an inventory, not the
// whole test image, whose exports take minutes under the race detector.
func dpkgDisk(t *testing.T) string {
	t.Helper()
	tree := ubuntuLikeTree(t)
	writeFile(t, filepath.Join(tree, "var/lib/dpkg/status"), strings.Join([]string{
		"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 13ubuntu10\n",
		"Package: tiny\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0-1\n",
	}, "\n"), 0o644)
	return gptDisk(t, partSpec{num: 1, sizeMiB: 40, typ: "8304", name: "root", mkfs: ext4From(tree, "root")})
}

// exportDpkgDisk exports disk (from dpkgDisk) as a tgz to output.
func exportDpkgDisk(disk, output string, sidecars Sidecars) (Result, error) {
	return Run(context.Background(), Options{
		Input: disk, Output: output, Filetype: FiletypeTGZ,
		Tar:      tarball.Options{Generalize: tarball.DefaultGeneralize()},
		Sidecars: sidecars,
	})
}

// TestSidecarsOfTheTestImage: the manifest is what dpkg-query lists of the
// tree curtin's tar extracts from the image, sha256sum -c accepts the
// checksum file, and the SBOM validates against SPDX 2.3's schema and
// names every package of the manifest.
func TestSidecarsOfTheTestImage(t *testing.T) {
	requireTool(t, "tar", "dpkg-query", "sha256sum")
	output := filepath.Join(t.TempDir(), "debian.tar.gz")
	res, err := exportTestImage(t, output, allSidecars)
	require.NoError(t, err)
	manifest, sbom, checksum := output+pkgdb.ManifestSuffix, output+pkgdb.SPDXSuffix, output+pkgdb.ChecksumSuffix
	assert.Equal(t, []string{manifest, sbom, checksum}, res.SidecarFiles)
	require.NotNil(t, res.Packages)
	assert.Equal(t, pkgdb.FormatDpkg, res.Packages.Format)

	target := extractLikeCurtin(t, output)
	// dpkg-query -W's default format (${binary:Package}, which names a
	// Multi-Arch: same package with its architecture), installed ones only.
	listed := run(t, "dpkg-query", "--admindir="+filepath.Join(target, "var/lib/dpkg"), "-W",
		"-f", "${db:Status-Abbrev}\t${binary:Package}\t${Version}\n")
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(listed), "\n") {
		status, pkg, _ := strings.Cut(line, "\t")
		if len(status) > 1 && status[1] == 'i' {
			want = append(want, pkg)
		}
	}
	sort.Strings(want)
	got, err := os.ReadFile(manifest)
	require.NoError(t, err)
	require.Greater(t, len(want), 100, "the test image holds a Debian system")
	assert.Equal(t, strings.Join(want, "\n")+"\n", string(got), "the manifest is dpkg-query's list")

	cmd := exec.Command("sha256sum", "-c", filepath.Base(checksum))
	cmd.Dir = filepath.Dir(output)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sha256sum -c: %s", out)
	assert.Contains(t, string(out), "debian.tar.gz: OK")

	validateSPDX(t, sbom)
	data, err := os.ReadFile(sbom)
	require.NoError(t, err)
	var doc struct {
		Packages []struct {
			Name    string `json:"name"`
			Version string `json:"versionInfo"`
		} `json:"packages"`
	}
	require.NoError(t, json.Unmarshal(data, &doc))
	var named []string
	for _, p := range doc.Packages[1:] { // the first is the image file
		named = append(named, p.Name+"\t"+p.Version)
	}
	var manifestNames []string
	for _, p := range res.Packages.Packages {
		manifestNames = append(manifestNames, p.Name+"\t"+p.Version)
	}
	assert.Equal(t, manifestNames, named, "the SBOM names every package")
	assert.Equal(t, "debian.tar.gz", doc.Packages[0].Name)
}

// validateSPDX checks an SPDX document against SPDX's own 2.3 schema with
// Debian's python3-jsonschema, as internal/pkgdb's tests do.
func validateSPDX(t *testing.T, path string) {
	t.Helper()
	validate := `import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validators.validator_for(schema)(schema).validate(json.load(open(sys.argv[2])))`
	out, err := exec.Command("/usr/bin/python3", "-c", validate, "../pkgdb/testdata/spdx-schema-2.3.json", path).CombinedOutput()
	require.NoError(t, err, "the SBOM fails SPDX 2.3's schema (python3-jsonschema installed?): %s", out)
}

// TestSidecarsOff: with the settings off no file is written next to the
// image, and those an earlier export to the same path left are removed.
func TestSidecarsOff(t *testing.T) {
	disk := dpkgDisk(t)
	output := filepath.Join(t.TempDir(), "img.tar.gz")
	_, err := exportDpkgDisk(disk, output, allSidecars)
	require.NoError(t, err)
	res, err := exportDpkgDisk(disk, output, Sidecars{})
	require.NoError(t, err)
	assert.Empty(t, res.SidecarFiles)
	assert.Nil(t, res.Packages, "no inventory is read for nothing")
	entries, err := os.ReadDir(filepath.Dir(output))
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the image: %v", entries)
	assert.Equal(t, "img.tar.gz", entries[0].Name())
}

// TestFailedSidecarLeavesNothing: when a file next to the image cannot be
// written (here the SBOM's name is a directory), the export fails and
// leaves neither the image nor the files already written.
func TestFailedSidecarLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	output := filepath.Join(dir, "img.tar.gz")
	require.NoError(t, os.MkdirAll(filepath.Join(output+pkgdb.SPDXSuffix, "in-the-way"), 0o755))
	_, err := exportDpkgDisk(dpkgDisk(t), output, allSidecars)
	require.Error(t, err)
	assert.Contains(t, err.Error(), output+pkgdb.SPDXSuffix)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only what was in the way: %v", entries)
	assert.Equal(t, "img.tar.gz"+pkgdb.SPDXSuffix, entries[0].Name())
}

// TestSidecarsOfADDGZ: a whole-disk export reads the packages of the root
// it finds, as a tgz export does; without a root it writes the checksum
// file alone.
func TestSidecarsOfADDGZ(t *testing.T) {
	dir := t.TempDir()
	output := filepath.Join(dir, "debian.dd.gz")
	res, err := Run(context.Background(), Options{Input: dpkgDisk(t), Output: output, Filetype: FiletypeDDGZ, Sidecars: allSidecars})
	require.NoError(t, err)
	assert.Equal(t, []string{output + pkgdb.ManifestSuffix, output + pkgdb.SPDXSuffix, output + pkgdb.ChecksumSuffix}, res.SidecarFiles)
	require.NotNil(t, res.Packages)
	assert.Len(t, res.Packages.Packages, 2)

	blank := filepath.Join(dir, "blank.raw")
	require.NoError(t, os.WriteFile(blank, make([]byte, 4*mib), 0o644))
	var said []string
	output = filepath.Join(dir, "blank.dd.gz")
	res, err = Run(context.Background(), Options{Input: blank, Output: output, Filetype: FiletypeDDGZ, Architecture: "amd64/generic",
		Sidecars: allSidecars, Log: func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }})
	require.NoError(t, err)
	assert.Equal(t, []string{output + pkgdb.ChecksumSuffix}, res.SidecarFiles)
	assert.Nil(t, res.Packages)
	assert.Contains(t, strings.Join(said, "\n"), "no manifest or SBOM for this disk image")
}

// TestCancelledSidecarsLeaveNothing: a build cancelled once the image is
// complete but before the files beside it are written loses the image
// too, as any cancelled export does.
func TestCancelledSidecarsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	image := filepath.Join(dir, "img.tar.gz")
	writeFile(t, image, "image", 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Result{Output: tarball.Output{Path: image, SHA256: sha256File(t, image)}}
	facts := &packageFacts{inv: &pkgdb.Inventory{Format: pkgdb.FormatDpkg, Packages: []pkgdb.Package{{Name: "a", ID: "a", Version: "1"}}}}
	err := res.finishSidecars(ctx, facts, Options{Sidecars: allSidecars, Log: func(string, ...any) {}})
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestManifestOfAnRPMImage: an image whose packages rpm installed (into
// a sqlite rpmdb, as RHEL 9 and Fedora keep it) gets the manifest rpm -qa
// lists of the tree curtin's tar extracts.
func TestManifestOfAnRPMImage(t *testing.T) {
	requireTool(t, "rpmbuild", "rpm", "mkfs.ext4", "sgdisk", "tar")
	tree := ubuntuLikeTree(t)
	top := t.TempDir()
	var rpms []string
	for _, p := range []struct{ name, epoch, arch string }{{"tiny-one", "", "noarch"}, {"tiny-two", "3", "x86_64"}} {
		spec := "Name: " + p.name + "\nVersion: 1.0\nRelease: 2.el9\nSummary: tiny\nLicense: MIT\nBuildArch: " + p.arch + "\n"
		if p.epoch != "" {
			spec += "Epoch: " + p.epoch + "\n"
		}
		specPath := filepath.Join(top, p.name+".spec")
		writeFile(t, specPath, spec+"%description\ntiny\n%files\n", 0o644)
		run(t, "rpmbuild", "-bb", "--define", "_topdir "+top, "--target", p.arch, specPath)
		rpms = append(rpms, filepath.Join(top, "RPMS", p.arch, p.name+"-1.0-2.el9."+p.arch+".rpm"))
	}
	db := []string{"--define", "_db_backend sqlite", "--dbpath", filepath.Join(tree, "var/lib/rpm")}
	run(t, "rpm", append(db, "--initdb")...)
	run(t, "rpm", append(append(db, "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos"), rpms...)...)
	disk := gptDisk(t, partSpec{num: 1, sizeMiB: 40, typ: "8300", name: "root", mkfs: ext4From(tree, "root")})

	output := filepath.Join(t.TempDir(), "rocky.tar.gz")
	res, err := Run(context.Background(), Options{Input: disk, Output: output, Filetype: FiletypeTGZ, Sidecars: allSidecars})
	require.NoError(t, err)
	require.NotNil(t, res.Packages)
	assert.Equal(t, pkgdb.FormatRPM, res.Packages.Format)

	target := extractLikeCurtin(t, output)
	listed := run(t, "rpm", "--define", "_db_backend sqlite", "--dbpath", filepath.Join(target, "var/lib/rpm"),
		"-qa", "--qf", `%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\n`)
	want := strings.Split(strings.TrimSpace(listed), "\n")
	sort.Strings(want)
	got, err := os.ReadFile(output + pkgdb.ManifestSuffix)
	require.NoError(t, err)
	require.Len(t, want, 2)
	assert.Equal(t, strings.Join(want, "\n")+"\n", string(got), "the manifest is rpm -qa's list")
	validateSPDX(t, output+pkgdb.SPDXSuffix)
}
