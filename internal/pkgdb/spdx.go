package pkgdb

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// Image describes the image file an SBOM is about.
type Image struct {
	// Path is the image file; its base name names the described package.
	Path string
	// SHA256 is its hex sha256.
	SHA256 string
}

// SBOMOptions are the document's own facts.
type SBOMOptions struct {
	// Tool names the creator, "packer-plugin-maas-1.2.3".
	Tool string
	// Created is the document's creation time (UTC, to the second).
	Created time.Time
	// Distro is the os-release ID ("debian", "ubuntu", "rhel"), the
	// namespace of the package URLs; "" uses "debian" for dpkg packages
	// and the lowercased vendor for rpm ones.
	Distro string
}

const noAssertion = "NOASSERTION"

// namespaceBase prefixes the documentNamespace, which SPDX wants unique
// per document: the image's sha256 makes it so and keeps it reproducible.
const namespaceBase = "https://github.com/c34478be/packer-plugin-maas/spdx/"

// BuildSBOM makes the SPDX 2.3 document of an image: the image file as
// the described package, with its sha256, containing every package of the
// inventory with its version, architecture, package URL and supplier
// where the database names one.
func BuildSBOM(inv *Inventory, img Image, opts SBOMOptions) *spdx.Document {
	name := filepath.Base(img.Path)
	imageID := common.ElementID("Image")
	imagePkg := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   imageID,
		PackageFileName:         name,
		PackageDownloadLocation: noAssertion,
		FilesAnalyzed:           false,
		PackageChecksums:        []common.Checksum{{Algorithm: common.SHA256, Value: img.SHA256}},
		PrimaryPackagePurpose:   "OPERATING_SYSTEM",
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
	}
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: namespaceBase + url.PathEscape(name) + "-" + img.SHA256,
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: opts.Tool}},
			Created:  opts.Created.UTC().Format(time.RFC3339),
		},
		Packages: []*spdx.Package{imagePkg},
		Relationships: []*spdx.Relationship{{
			RefA:         common.MakeDocElementID("", "DOCUMENT"),
			RefB:         common.MakeDocElementID("", string(imageID)),
			Relationship: common.TypeRelationshipDescribe,
		}},
	}
	for i, p := range inv.Packages {
		id := common.ElementID(fmt.Sprintf("Package-%s-%s-%d", inv.Format, spdxIDPart(p.Name), i))
		doc.Packages = append(doc.Packages, spdxPackage(inv.Format, p, id, opts.Distro))
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", string(imageID)),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}
	return doc
}

// WriteSBOM writes the document as SPDX JSON.
func WriteSBOM(w io.Writer, doc *spdx.Document) error {
	return spdxjson.Write(doc, w, spdxjson.Indent(" "))
}

func spdxPackage(format string, p Package, id common.ElementID, distro string) *spdx.Package {
	sp := &spdx.Package{
		PackageName:             p.Name,
		PackageSPDXIdentifier:   id,
		PackageVersion:          p.Version,
		PackageDownloadLocation: noAssertion,
		FilesAnalyzed:           false,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "LIBRARY",
	}
	switch {
	case p.Vendor != "":
		sp.PackageSupplier = &common.Supplier{SupplierType: "Organization", Supplier: p.Vendor}
	case p.Maintainer != "":
		sp.PackageSupplier = &common.Supplier{SupplierType: "Person", Supplier: p.Maintainer}
	}
	if p.Source != "" {
		sp.PackageSourceInfo = "built from " + strings.TrimSpace(p.Source+" "+p.SourceVersion)
	}
	if purl := packageURL(format, p, distro); purl != "" {
		sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
			Category: common.CategoryPackageManager,
			RefType:  common.TypePackageManagerPURL,
			Locator:  purl,
		}}
	}
	return sp
}

// packageURL is the purl of a package (github.com/package-url/purl-spec):
// pkg:deb/debian/NAME@VERSION?arch=ARCH, pkg:rpm/VENDOR/NAME@VERSION-RELEASE
// ?arch=ARCH&epoch=N, pkg:apk/alpine/NAME@VERSION?arch=ARCH.
func packageURL(format string, p Package, distro string) string {
	var typ, namespace, version string
	q := url.Values{}
	switch format {
	case FormatDpkg:
		typ, namespace, version = "deb", "debian", p.Version
	case FormatRPM:
		typ, namespace, version = "rpm", strings.ToLower(strings.Fields(p.Vendor + " unknown")[0]), p.UpstreamVersion+"-"+p.Release
		if p.Epoch != nil {
			q.Set("epoch", strconv.Itoa(*p.Epoch))
		}
	case FormatApk:
		typ, namespace, version = "apk", "alpine", p.Version
	default:
		return ""
	}
	if distro != "" {
		namespace = distro
	}
	if p.Arch != "" {
		q.Set("arch", p.Arch)
	}
	purl := "pkg:" + typ + "/" + url.PathEscape(strings.ToLower(namespace)) + "/" + url.PathEscape(p.Name) + "@" + url.PathEscape(version)
	if len(q) > 0 {
		purl += "?" + q.Encode()
	}
	return purl
}

// spdxIDPart keeps what an SPDX identifier may hold: letters, digits,
// '.' and '-'.
func spdxIDPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (isAlnum(byte(r)) || r == '.' || r == '-') {
			return r
		}
		return '-'
	}, s)
}
