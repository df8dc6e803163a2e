package maas

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Filetype is a MAAS boot resource filetype: how the uploaded file is
// packed. The tXX types are root filesystem tarballs that curtin extracts;
// the ddXX types are whole disks that curtin writes as they are.
type Filetype string

// The MAAS filetypes.
const (
	FiletypeTGZ   Filetype = "tgz"
	FiletypeTBZ   Filetype = "tbz"
	FiletypeTXZ   Filetype = "txz"
	FiletypeDDTGZ Filetype = "ddtgz"
	FiletypeDDTBZ Filetype = "ddtbz"
	FiletypeDDTXZ Filetype = "ddtxz"
	FiletypeDDTar Filetype = "ddtar"
	FiletypeDDBZ2 Filetype = "ddbz2"
	FiletypeDDGZ  Filetype = "ddgz"
	FiletypeDDXZ  Filetype = "ddxz"
	FiletypeDDRaw Filetype = "ddraw"
)

// Filetypes are the values MAAS accepts for a boot resource's filetype.
var Filetypes = []Filetype{
	FiletypeTGZ, FiletypeTBZ, FiletypeTXZ, FiletypeDDTGZ, FiletypeDDTBZ, FiletypeDDTXZ,
	FiletypeDDTar, FiletypeDDBZ2, FiletypeDDGZ, FiletypeDDXZ, FiletypeDDRaw,
}

// ErrFiletype is matched (errors.Is) by the error of a filetype MAAS does
// not know.
var ErrFiletype = errors.New("not a MAAS filetype")

// MaxChunkSize is the largest upload chunk: nginx in front of MAAS caps
// request bodies on /MAAS/api at 10 MiB, so chunks stay well under it.
const MaxChunkSize = 8 << 20

// DefaultChunkSize is what the official MAAS CLI sends.
const DefaultChunkSize = 4 << 20

// knownOSes are the operating systems MAAS has drivers for; `OS/NAME`
// names must use one of them, and the names alone are reserved.
var knownOSes = []string{"ubuntu", "ubuntu-core", "centos", "rhel", "custom", "windows", "suse", "esxi", "ol"}

// linuxBaseOSes are the operating systems a custom image may name as its
// base_image (MAAS uses them to pick the kernel and the deploy path).
var linuxBaseOSes = []string{"ubuntu", "centos", "rhel", "ol"}

// ubuntuCodenames are the Ubuntu series MAAS syncs images for; as names
// of uploaded images they would clash with the synced ones.
var ubuntuCodenames = []string{
	"precise", "trusty", "xenial", "bionic", "cosmic", "disco", "eoan", "focal",
	"groovy", "hirsute", "impish", "jammy", "kinetic", "lunar", "mantic",
	"noble", "oracular", "plucky", "questing",
}

// architectures are the MAAS architecture names (the part before "/").
var architectures = []string{"amd64", "arm64", "armhf", "i386", "ppc64el", "s390x", "riscv64"}

var (
	namePartPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	reservedCentOS      = regexp.MustCompile(`^centos[0-9]+$`)
	subarchPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	seriesPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	ubuntuSeriesPattern = regexp.MustCompile(`^[a-z]+$`)
	sha256Pattern       = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidateName checks an image name the way MAAS does: `NAME` or
// `OS/NAME` with a known OS, and none of the reserved names (OS names,
// Ubuntu series that MAAS syncs, centosNN).
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("image_name is required, e.g. %q", "custom/my-image")
	}
	osName, short, hasOS := strings.Cut(name, "/")
	if !hasOS {
		short, osName = name, ""
	}
	if hasOS && !slices.Contains(knownOSes, osName) {
		return fmt.Errorf("image_name %q: unknown operating system %q; use %q or one of %s",
			name, osName, "custom/"+short, strings.Join(knownOSes, ", "))
	}
	if !namePartPattern.MatchString(short) {
		return fmt.Errorf("image_name %q: %q must start with a letter or digit and hold only letters, digits, '.', '_', '+' and '-'", name, short)
	}
	if slices.Contains(knownOSes, short) || slices.Contains(ubuntuCodenames, short) || reservedCentOS.MatchString(short) {
		return fmt.Errorf("image_name %q: %q is reserved by MAAS (operating system names, synced Ubuntu series and centosNN are); pick another name", name, short)
	}
	return nil
}

// ValidateArchitecture checks an architecture setting: `ARCH/SUBARCH`
// as MAAS stores it (amd64/generic), or a bare `ARCH`, which stands for
// ARCH/generic (see maasartifact.Architecture). Every component takes
// both forms.
func ValidateArchitecture(arch string) error {
	if !strings.Contains(arch, "/") {
		return validateArchitectureBase(arch, arch)
	}
	return validateMAASArchitecture(arch)
}

// validateMAASArchitecture checks the `ARCH/SUBARCH` form an upload
// request carries.
func validateMAASArchitecture(arch string) error {
	base, sub, ok := strings.Cut(arch, "/")
	if !ok || !subarchPattern.MatchString(sub) {
		return fmt.Errorf("architecture %q must look like %q (ARCH/SUBARCH) or %q (ARCH, meaning ARCH/generic)", arch, "amd64/generic", "amd64")
	}
	return validateArchitectureBase(arch, base)
}

func validateArchitectureBase(arch, base string) error {
	if !slices.Contains(architectures, base) {
		return fmt.Errorf("architecture %q: unknown architecture %q; want one of %s, optionally with a subarchitecture (amd64/generic)", arch, base, strings.Join(architectures, ", "))
	}
	return nil
}

// ValidateFiletype checks that MAAS knows the filetype; its error wraps
// ErrFiletype.
func ValidateFiletype(filetype Filetype) error {
	if !slices.Contains(Filetypes, filetype) {
		return fmt.Errorf("filetype %q is %w; want one of %s", filetype, ErrFiletype, filetypeList())
	}
	return nil
}

func filetypeList() string {
	names := make([]string, len(Filetypes))
	for i, f := range Filetypes {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// ValidateBaseImage checks `OS/SERIES` with a Linux OS MAAS can deploy
// custom images on; an Ubuntu series must be a codename, not a version.
func ValidateBaseImage(baseImage string) error {
	osName, series, ok := strings.Cut(baseImage, "/")
	if !ok || !seriesPattern.MatchString(series) {
		return fmt.Errorf("base_image %q must look like %q (OS/SERIES)", baseImage, "ubuntu/noble")
	}
	if !slices.Contains(linuxBaseOSes, osName) {
		return fmt.Errorf("base_image %q: operating system %q cannot be a base image; want one of %s",
			baseImage, osName, strings.Join(linuxBaseOSes, ", "))
	}
	if osName == "ubuntu" && !ubuntuSeriesPattern.MatchString(series) {
		return fmt.Errorf("base_image %q: an Ubuntu series must be a codename such as %q, not a version", baseImage, "ubuntu/noble")
	}
	return nil
}

// ValidateAPIKey checks the `CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET` form
// without ever putting the key into the error.
func ValidateAPIKey(key string) error {
	if strings.ContainsAny(key, " \t\r\n") {
		return fmt.Errorf("api_key holds a space or line break; the MAAS API key is CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET on one line " +
			"(as printed by `maas apikey --username USER`)")
	}
	parts := strings.Split(key, ":")
	if len(parts) != 3 || slices.Contains(parts, "") {
		return fmt.Errorf("api_key must be the MAAS API key CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET " +
			"(three non-empty parts, as printed by `maas apikey --username USER`)")
	}
	return nil
}

// ValidateURL checks a MAAS URL such as http://maas.example:5240/MAAS.
func ValidateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("maas_url %q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("maas_url %q must be an http:// or https:// URL with a host, e.g. %q", raw, "http://maas.example:5240/MAAS")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("maas_url %q must not carry a query or fragment", raw)
	}
	if strings.Contains(u.Path, "/api/") || strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api") {
		return fmt.Errorf("maas_url %q must be the MAAS root without the API path, e.g. %q", raw, "http://maas.example:5240/MAAS")
	}
	return nil
}

// ValidateChunkSize checks an upload chunk size in bytes.
func ValidateChunkSize(size int64) error {
	if size < 64<<10 || size > MaxChunkSize {
		return fmt.Errorf("chunk_size %d must be between 65536 (64 KiB) and %d (8 MiB): nginx in front of MAAS refuses bodies over 10 MiB", size, MaxChunkSize)
	}
	return nil
}

// ValidateSHA256 checks a lowercase hex sha256 as MAAS wants it.
func ValidateSHA256(sum string) error {
	if !sha256Pattern.MatchString(sum) {
		return fmt.Errorf("sha256 %q must be 64 lowercase hex digits", sum)
	}
	return nil
}
