package pkgdb

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// testImageOutputs writes the three files for the test image's packages
// next to a small stand-in image file.
func testImageOutputs(t *testing.T) (*Inventory, Image, []string) {
	t.Helper()
	fsys := testImageRoot(t)
	inv, err := Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	distro, err := OSReleaseID(fsys)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img := Image{Path: filepath.Join(dir, "debian 12.tar.gz")}
	if err := os.WriteFile(img.Path, []byte("image bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if img.SHA256, err = HashFile(img.Path); err != nil {
		t.Fatal(err)
	}
	files, _, err := WriteOutputs(img, inv, Outputs{Manifest: true, SBOM: true, Checksum: true},
		SBOMOptions{Tool: "packer-plugin-maas-test", Created: time.Unix(1700000000, 0), Distro: distro})
	if err != nil {
		t.Fatal(err)
	}
	return inv, img, files
}

func TestManifestMatchesDpkgQuery(t *testing.T) {
	fsys := testImageRoot(t)
	_, img, files := testImageOutputs(t)
	if len(files) != 3 {
		t.Fatalf("wrote %v", files)
	}
	got, err := os.ReadFile(img.Path + ManifestSuffix)
	if err != nil {
		t.Fatal(err)
	}
	status, err := readDatabase(fsys, dpkgStatusPath, maxDpkgStatusSize)
	if err != nil {
		t.Fatal(err)
	}
	// dpkg-query -W's default format is the manifest's; only installed
	// packages are kept, as Ubuntu's manifests keep them.
	var want []string
	for _, line := range strings.Split(dpkgQuery(t, status), "\n") {
		f := strings.Split(line, "\t")
		want = append(want, f[0]+"\t"+f[1])
	}
	if string(got) != strings.Join(want, "\n")+"\n" {
		t.Errorf("manifest differs from dpkg-query -W:\n%s", lineDiff(strings.TrimSpace(string(got)), strings.Join(want, "\n")))
	}
}

func TestChecksumFileSha256sumAccepts(t *testing.T) {
	_, img, _ := testImageOutputs(t)
	testtool.Require(t, "sha256sum")
	cmd := exec.Command("sha256sum", "-c", filepath.Base(img.Path)+ChecksumSuffix)
	cmd.Dir = filepath.Dir(img.Path)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	// A changed image must fail the check: the file names the image.
	if err := os.WriteFile(img.Path, []byte("other bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command("sha256sum", "-c", filepath.Base(img.Path)+ChecksumSuffix)
	cmd.Dir = filepath.Dir(img.Path)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("sha256sum -c accepted a changed image:\n%s", out)
	}
}

// TestSBOMValidatesAgainstSchema validates with Debian's python3-jsonschema
// against SPDX's own 2.3 schema (testdata/spdx-schema-2.3.json, from
// spdx/spdx-spec branch support/2.3, commit ed8c9b52), and checks that
// every package is named with its version and purl.
func TestSBOMValidatesAgainstSchema(t *testing.T) {
	inv, img, _ := testImageOutputs(t)
	sbom := img.Path + SPDXSuffix
	validate := `import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validators.validator_for(schema)(schema).validate(json.load(open(sys.argv[2])))`
	out, err := exec.Command("/usr/bin/python3", "-c", validate, "testdata/spdx-schema-2.3.json", sbom).CombinedOutput()
	if err != nil {
		t.Fatalf("the SBOM fails SPDX 2.3's schema (python3-jsonschema installed?): %v\n%s", err, out)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			SPDXID    string `json:"SPDXID"`
			Name      string `json:"name"`
			Version   string `json:"versionInfo"`
			Supplier  string `json:"supplier"`
			Checksums []struct {
				Algorithm, ChecksumValue string
			} `json:"checksums"`
			ExternalRefs []struct {
				ReferenceType, ReferenceLocator string
			} `json:"externalRefs"`
		} `json:"packages"`
		Relationships []struct {
			SPDXElementID, RelatedSpdxElement, RelationshipType string
		} `json:"relationships"`
	}
	data, err := os.ReadFile(sbom)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) != len(inv.Packages)+1 {
		t.Fatalf("%s with %d packages, want SPDX-2.3 with %d", doc.SPDXVersion, len(doc.Packages), len(inv.Packages)+1)
	}
	image := doc.Packages[0]
	if image.Name != filepath.Base(img.Path) || len(image.Checksums) != 1 || image.Checksums[0].ChecksumValue != img.SHA256 {
		t.Errorf("described package %+v, want %s with sha256 %s", image, filepath.Base(img.Path), img.SHA256)
	}
	if r := doc.Relationships[0]; r.SPDXElementID != "SPDXRef-DOCUMENT" || r.RelationshipType != "DESCRIBES" || r.RelatedSpdxElement != image.SPDXID {
		t.Errorf("first relationship %+v does not describe the image", r)
	}
	for i, p := range inv.Packages {
		sp := doc.Packages[i+1]
		purl := "pkg:deb/debian/" + p.Name + "@"
		if sp.Name != p.Name || sp.Version != p.Version || len(sp.ExternalRefs) != 1 ||
			!strings.HasPrefix(sp.ExternalRefs[0].ReferenceLocator, purl) ||
			!strings.Contains(sp.ExternalRefs[0].ReferenceLocator, "arch="+p.Arch) {
			t.Errorf("package %s %s: SPDX has %+v", p.Name, p.Version, sp)
		}
		if p.Maintainer != "" && sp.Supplier != "Person: "+p.Maintainer {
			t.Errorf("package %s: supplier %q, want the maintainer %q", p.Name, sp.Supplier, p.Maintainer)
		}
	}
}

func TestPackageURLs(t *testing.T) {
	epoch := 2
	for _, c := range []struct {
		format string
		p      Package
		distro string
		want   string
	}{
		{FormatDpkg, Package{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64"}, "", "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64"},
		{FormatDpkg, Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Arch: "amd64"}, "ubuntu", "pkg:deb/ubuntu/zlib1g@1:1.2.13.dfsg-1?arch=amd64"},
		{FormatRPM, Package{Name: "bash", UpstreamVersion: "5.1.8", Release: "9.el9", Arch: "x86_64", Epoch: &epoch, Vendor: "Red Hat, Inc."}, "rhel", "pkg:rpm/rhel/bash@5.1.8-9.el9?arch=x86_64&epoch=2"},
		{FormatRPM, Package{Name: "tiny", UpstreamVersion: "1", Release: "1", Arch: "noarch", Vendor: "Fedora Project"}, "", "pkg:rpm/fedora/tiny@1-1?arch=noarch"},
	} {
		if got := packageURL(c.format, c.p, c.distro); got != c.want {
			t.Errorf("%s: %s, want %s", c.p.Name, got, c.want)
		}
	}
}

func TestChanges(t *testing.T) {
	base := &Inventory{Format: FormatDpkg, Packages: []Package{
		{ID: "curl", Version: "7.88.1-10"},
		{ID: "nano", Version: "7.2-1"},
		{ID: "openssl", Version: "3.0.11-1~deb12u2"},
		{ID: "tzdata", Version: "2024a-0+deb12u1"},
		{ID: "zlib1g:amd64", Version: "1:1.2.13.dfsg-1"},
	}}
	image := &Inventory{Format: FormatDpkg, Packages: []Package{
		{ID: "curl", Version: "7.88.1-10"},
		{ID: "htop", Version: "3.2.2-2"},
		{ID: "openssl", Version: "3.0.11-1"},
		{ID: "tzdata", Version: "2023c-5"},
		{ID: "zlib1g:amd64", Version: "1:1.2.13.dfsg-1+b1"},
	}}
	changes := Diff(base, image)
	var out strings.Builder
	if err := changes.Write(&out); err != nil {
		t.Fatal(err)
	}
	want := "added\thtop\t3.2.2-2\n" +
		"removed\tnano\t7.2-1\n" +
		"upgraded\topenssl\t3.0.11-1~deb12u2\t3.0.11-1\n" +
		"downgraded\ttzdata\t2024a-0+deb12u1\t2023c-5\n" +
		"upgraded\tzlib1g:amd64\t1:1.2.13.dfsg-1\t1:1.2.13.dfsg-1+b1\n"
	if out.String() != want {
		t.Errorf("changes:\n%s\nwant:\n%s", out.String(), want)
	}
	if got, want := changes.Summary(), "1 added, 1 removed, 2 upgraded, 1 downgraded: htop, nano, openssl, tzdata, zlib1g:amd64"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got := Diff(base, base).Summary(); got != "no package changes" {
		t.Errorf("no change summed up as %q", got)
	}
}

// TestChangesRPMKernels: several installed versions of one name compare as
// a set, and rpm's ordering decides upgrade or downgrade.
func TestChangesRPMKernels(t *testing.T) {
	base := &Inventory{Format: FormatRPM, Packages: []Package{
		{ID: "kernel", Version: "5.14.0-70.el9"}, {ID: "kernel", Version: "5.14.0-162.el9"},
		{ID: "vim", Version: "2:8.2.2637-20.el9"},
	}}
	image := &Inventory{Format: FormatRPM, Packages: []Package{
		{ID: "kernel", Version: "5.14.0-162.el9"}, {ID: "kernel", Version: "5.14.0-284.el9"},
		{ID: "vim", Version: "2:8.2.2637-9.el9"},
	}}
	var out strings.Builder
	if err := Diff(base, image).Write(&out); err != nil {
		t.Fatal(err)
	}
	want := "added\tkernel\t5.14.0-284.el9\nremoved\tkernel\t5.14.0-70.el9\ndowngraded\tvim\t2:8.2.2637-20.el9\t2:8.2.2637-9.el9\n"
	if out.String() != want {
		t.Errorf("changes:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestVersionOrderMatchesTools checks both orderings against the tools':
// dpkg --compare-versions and rpm's own rpmvercmp (its Lua rpm.vercmp,
// through rpm --eval). dpkg has no '^'; those pairs are rpm's alone.
func TestVersionOrderMatchesTools(t *testing.T) {
	pairs := [][2]string{
		{"1.0", "1.0"}, {"1.0~rc1", "1.0"}, {"1.0", "1.0a"}, {"1.0.1", "1.0"}, {"1:0.9", "2.0"},
		{"2.36-9+deb12u4", "2.36-9+deb12u10"}, {"1.0-1", "1.0-1~bpo1"}, {"010", "10"}, {"1.a", "1.1"},
		{"1.0^git1", "1.0"}, {"1.0^git1", "1.0.1"}, {"5.14.0-70.el9", "5.14.0-162.el9"}, {"a+b", "a.b"},
	}
	for _, p := range pairs {
		if want := dpkgOrderOf(t, p[0], p[1]); compareDpkgVersions(p[0], p[1]) != want && !strings.Contains(p[0]+p[1], "^") {
			t.Errorf("dpkg: %s vs %s: got %d, dpkg says %d", p[0], p[1], compareDpkgVersions(p[0], p[1]), want)
		}
		want := strings.TrimSpace(testtool.Output(t, "rpm", "--eval", "%{lua: print(rpm.vercmp('"+p[0]+"', '"+p[1]+"'))}"))
		if got := compareRPMEVR(p[0], p[1]); itoa(got) != want {
			t.Errorf("rpm: %s vs %s: got %d, rpm says %s", p[0], p[1], got, want)
		}
	}
}

func itoa(c int) string { return map[int]string{-1: "-1", 0: "0", 1: "1"}[c] }

func dpkgOrderOf(t *testing.T, a, b string) int {
	t.Helper()
	for _, c := range []struct {
		op   string
		want int
	}{{"lt", -1}, {"eq", 0}, {"gt", 1}} {
		if exec.Command("dpkg", "--compare-versions", a, c.op, b).Run() == nil {
			return c.want
		}
	}
	t.Fatalf("dpkg --compare-versions %s %s: no order", a, b)
	return 0
}

// TestWriteOutputsLeavesNothingOnError: a failing write leaves neither
// the file nor a temporary one, and removes the files written before it.
func TestWriteOutputsLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	img := Image{Path: filepath.Join(dir, "img.tar.gz"), SHA256: strings.Repeat("0", 64)}
	inv := &Inventory{Format: FormatDpkg, Packages: []Package{{Name: "a", ID: "a", Version: "1"}}}
	// The change list's path is a directory: its rename fails last.
	if err := os.Mkdir(img.Path+ChangesSuffix, 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err := WriteOutputs(img, inv, Outputs{Manifest: true, SBOM: true, Checksum: true, Base: &Inventory{}}, SBOMOptions{Tool: "t"})
	if err == nil {
		t.Fatal("no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("left %v after a failed write", names)
	}
	werr := errors.New("boom")
	p := filepath.Join(dir, "x")
	if err := WriteFileAtomic(p, func(w io.Writer) error { io.WriteString(w, "half"); return werr }); !errors.Is(err, werr) {
		t.Fatalf("error %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed atomic write left files")
	}
}
