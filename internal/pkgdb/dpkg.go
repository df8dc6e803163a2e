package pkgdb

import (
	"bytes"
	"fmt"
	"strings"
)

// dpkgStatusPath is dpkg's database of installed packages.
const dpkgStatusPath = "/var/lib/dpkg/status"

// MaxDatabaseSize caps every package database file read from an image. A
// Debian desktop with 5000 packages has a 10 MiB status file; an rpmdb of
// as many is about 100 MiB in sqlite, so the cap is that of the largest.
const MaxDatabaseSize = 256 << 20

// maxDpkgStatusSize caps dpkg's status file.
const maxDpkgStatusSize = 64 << 20

// ParseDpkgStatus reads the installed packages of a dpkg status file: the
// stanzas whose Status is "install ok installed" (or "hold ok installed":
// a held package is installed too). Every other state (config-files,
// half-installed, not-installed) is left out, as dpkg-query's listing of
// installed packages does. A package is named as dpkg-query's
// ${binary:Package} names it: with ":arch" when it is Multi-Arch: same or
// of a foreign architecture, the native one being dpkg's own.
func ParseDpkgStatus(data []byte) ([]Package, error) {
	stanzas, err := splitStanzas(data)
	if err != nil {
		return nil, err
	}
	native := nativeDpkgArch(stanzas)
	var pkgs []Package
	for _, s := range stanzas {
		if !dpkgInstalled(s.field("Status")) {
			continue
		}
		p, err := dpkgPackage(s, native)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

func dpkgInstalled(status string) bool {
	f := strings.Fields(status)
	return len(f) == 3 && (f[0] == "install" || f[0] == "hold") && f[1] == "ok" && f[2] == "installed"
}

func dpkgPackage(s stanza, native string) (Package, error) {
	p := Package{
		Name:       s.field("Package"),
		Version:    s.field("Version"),
		Arch:       s.field("Architecture"),
		Maintainer: s.field("Maintainer"),
	}
	if p.Name == "" {
		return Package{}, fmt.Errorf("line %d: an installed package without a Package field", s.line)
	}
	if p.Version == "" {
		return Package{}, fmt.Errorf("line %d: package %s has no Version", s.line, p.Name)
	}
	p.ID = p.Name
	if p.Arch != "" && p.Arch != "all" && p.Arch != "none" &&
		(s.field("Multi-Arch") == "same" || p.Arch != native) {
		p.ID = p.Name + ":" + p.Arch
	}
	p.Source, p.SourceVersion = p.Name, p.Version
	if src := s.field("Source"); src != "" {
		name, ver, found := strings.Cut(src, " ")
		p.Source = name
		if found {
			ver = strings.TrimSpace(ver)
			if !strings.HasPrefix(ver, "(") || !strings.HasSuffix(ver, ")") {
				return Package{}, fmt.Errorf("line %d: package %s: Source %q is not \"name (version)\"", s.line, p.Name, src)
			}
			p.SourceVersion = strings.TrimSpace(ver[1 : len(ver)-1])
		}
	}
	return p, nil
}

// nativeDpkgArch is the architecture of the dpkg package itself, which is
// dpkg's native architecture; failing that, the most common one.
func nativeDpkgArch(stanzas []stanza) string {
	counts := map[string]int{}
	best := ""
	for _, s := range stanzas {
		arch := s.field("Architecture")
		if s.field("Package") == "dpkg" && dpkgInstalled(s.field("Status")) {
			return arch
		}
		if arch == "all" || arch == "" {
			continue
		}
		counts[arch]++
		if counts[arch] > counts[best] || (counts[arch] == counts[best] && arch < best) {
			best = arch
		}
	}
	return best
}

// stanza is one paragraph of a deb822 file: its simple fields, with
// continuation lines dropped (no field read here spans lines).
type stanza struct {
	line   int // first line, 1-based, for errors
	fields map[string]string
}

func (s stanza) field(name string) string { return s.fields[name] }

// splitStanzas parses deb822 paragraphs. Field names are matched as dpkg
// matches them, case-insensitively, stored in their canonical case for the
// fields read here.
func splitStanzas(data []byte) ([]stanza, error) {
	var stanzas []stanza
	var cur *stanza
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			cur = nil
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				return nil, fmt.Errorf("line %d: continuation line outside a stanza", lineNo)
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 {
			return nil, fmt.Errorf("line %d: %q is not a \"Field: value\" line", lineNo, truncate(line))
		}
		if cur == nil {
			stanzas = append(stanzas, stanza{line: lineNo, fields: map[string]string{}})
			cur = &stanzas[len(stanzas)-1]
		}
		key := canonicalField(string(name))
		if _, dup := cur.fields[key]; dup {
			return nil, fmt.Errorf("line %d: duplicate field %s", lineNo, name)
		}
		cur.fields[key] = string(bytes.TrimSpace(value))
	}
	return stanzas, nil
}

var knownFields = []string{"Package", "Status", "Version", "Architecture", "Source", "Maintainer", "Multi-Arch"}

func canonicalField(name string) string {
	for _, k := range knownFields {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return name
}

func truncate(b []byte) string {
	const max = 60
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
