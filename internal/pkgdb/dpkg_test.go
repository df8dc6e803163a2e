package pkgdb

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/c34478be/packer-plugin-maas/internal/diskimage"
	"github.com/c34478be/packer-plugin-maas/internal/ext4"
	"github.com/c34478be/packer-plugin-maas/internal/fstree"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
	"github.com/c34478be/packer-plugin-maas/internal/volume"
)

// testImageRoot opens the test cloud image's root filesystem in process,
// as the export reads it.
func testImageRoot(t testing.TB) fstree.FS {
	t.Helper()
	img, err := diskimage.Open(testimage.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	table, err := volume.List(img, img.Size())
	if err != nil {
		t.Fatal(err)
	}
	roles, err := volume.FindRoot(table, "", "", func(volume.Volume) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	r, size, err := roles.Root.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := ext4.Open(r, size)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// dpkgQuery lists the installed packages of the status file with dpkg's
// own tool, in the manifest's format.
func dpkgQuery(t *testing.T, status []byte) string {
	t.Helper()
	testtool.Require(t, "dpkg-query")
	admin := t.TempDir()
	if err := os.WriteFile(filepath.Join(admin, "status"), status, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"info", "updates"} {
		if err := os.Mkdir(filepath.Join(admin, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("dpkg-query", "--admindir="+admin, "-W",
		"-f", "${db:Status-Status}\t${binary:Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n").Output()
	if err != nil {
		t.Fatalf("dpkg-query: %v", err)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if status, rest, _ := strings.Cut(line, "\t"); status == "installed" {
			lines = append(lines, rest)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func describeDpkg(pkgs []Package) string {
	var lines []string
	for _, p := range pkgs {
		lines = append(lines, strings.Join([]string{p.ID, p.Version, p.Arch, p.Source, p.SourceVersion}, "\t"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestDpkgTestImageMatchesDpkgQuery(t *testing.T) {
	fsys := testImageRoot(t)
	inv, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Format != FormatDpkg || inv.Path != dpkgStatusPath {
		t.Fatalf("read %q at %q, want dpkg at %s", inv.Format, inv.Path, dpkgStatusPath)
	}
	if len(inv.Packages) < 50 {
		t.Fatalf("only %d packages in the test image", len(inv.Packages))
	}
	status, err := readDatabase(fsys, dpkgStatusPath, maxDpkgStatusSize)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describeDpkg(inv.Packages), dpkgQuery(t, status); got != want {
		t.Errorf("packages differ from dpkg-query's:\n%s", lineDiff(got, want))
	}
}

// A crafted status file with every shape dpkg-query treats specially:
// states other than installed, held packages, Multi-Arch: same and foreign
// packages, Source with and without a version, continuation lines, field
// names in another case.
const craftedStatus = `Package: dpkg
Status: install ok installed
Architecture: amd64
Version: 1.21.22
Description: package manager
 with a continuation line
 .

Package: libc6
Status: install ok installed
Multi-Arch: same
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Multi-Arch: same
Architecture: i386
Source: glibc
Version: 2.36-9+deb12u4

Package: zlib1g
Status: hold ok installed
Architecture: i386
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1+b1

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 2.0

package: tzdata
status: install ok installed
architecture: all
version: 2024a-0+deb12u1
`

func TestDpkgCraftedMatchesDpkgQuery(t *testing.T) {
	pkgs, err := ParseDpkgStatus([]byte(craftedStatus))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describeDpkg(pkgs), dpkgQuery(t, []byte(craftedStatus)); got != want {
		t.Errorf("packages differ from dpkg-query's:\n%s", lineDiff(got, want))
	}
}

func TestDpkgMalformed(t *testing.T) {
	for name, status := range map[string]string{
		"no colon":             "Package: a\nStatus: install ok installed\nVersion 1\n",
		"leading continuation": " x\nPackage: a\n",
		"no version":           "Package: a\nStatus: install ok installed\n",
		"no name":              "Status: install ok installed\nVersion: 1\n",
		"duplicate field":      "Package: a\nPackage: b\nStatus: install ok installed\nVersion: 1\n",
		"bad source":           "Package: a\nStatus: install ok installed\nVersion: 1\nSource: b 1\n",
	} {
		if _, err := ParseDpkgStatus([]byte(status)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func lineDiff(got, want string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	var out []string
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
