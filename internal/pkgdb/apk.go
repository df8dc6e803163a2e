package pkgdb

import (
	"bytes"
	"fmt"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

const (
	apkInstalledPath = "/lib/apk/db/installed"
	maxApkDBSize     = 64 << 20
)

func readApk(fsys fstree.FS) (*Inventory, error) {
	data, err := readDatabase(fsys, apkInstalledPath, maxApkDBSize)
	if data == nil || err != nil {
		return nil, err
	}
	pkgs, err := ParseApkInstalled(data)
	if err != nil {
		return nil, fmt.Errorf("apk database %s: %w", apkInstalledPath, err)
	}
	return &Inventory{Format: FormatApk, Path: apkInstalledPath, Packages: pkgs}, nil
}

// ParseApkInstalled reads apk's installed database: blank-line separated
// records of "X:value" lines, where P is the name, V the version, A the
// architecture, o the origin (source) package and m the maintainer.
func ParseApkInstalled(data []byte) ([]Package, error) {
	var pkgs []Package
	var cur *Package
	finish := func(line int) error {
		if cur == nil {
			return nil
		}
		if cur.Name == "" || cur.Version == "" {
			return fmt.Errorf("record ending at line %d has no P: name or V: version", line)
		}
		cur.ID = cur.Name
		if cur.Source == "" {
			cur.Source = cur.Name
		}
		cur.SourceVersion = cur.Version
		pkgs = append(pkgs, *cur)
		cur = nil
		return nil
	}
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err := finish(lineNo); err != nil {
				return nil, err
			}
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			return nil, fmt.Errorf("line %d: %q is not an \"X:value\" line", lineNo, truncate(line))
		}
		if cur == nil {
			cur = &Package{}
		}
		value := string(line[2:])
		switch line[0] {
		case 'P':
			cur.Name = value
		case 'V':
			cur.Version = value
		case 'A':
			cur.Arch = value
		case 'o':
			cur.Source = value
		case 'm':
			cur.Maintainer = value
		}
	}
	if err := finish(lineNo); err != nil {
		return nil, err
	}
	return pkgs, nil
}
