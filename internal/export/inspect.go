package export

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/c34478be/packer-plugin-maas/internal/fstree"
)

// pathFS is what inspecting an image needs of a filesystem.
type pathFS interface {
	fstree.FS
	Lookup(path string) (uint64, error)
}

// maxSymlinkHops bounds symlink resolution, as the kernel's ELOOP does.
const maxSymlinkHops = 40

// resolve finds p's inode, following symlinks (absolute ones relative to
// the image's root, never the host's).
func resolve(fs pathFS, p string) (uint64, error) {
	for hops := 0; hops < maxSymlinkHops; hops++ {
		target, ino, err := firstSymlink(fs, p)
		if err != nil {
			return 0, err
		}
		if target == "" {
			return ino, nil
		}
		p = target
	}
	return 0, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// firstSymlink walks p component by component. At the first symlink it
// returns p with that link replaced by its target; otherwise p's inode.
func firstSymlink(fs pathFS, p string) (rewritten string, ino uint64, err error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	prefix := "/"
	for i, part := range parts {
		cur := path.Join(prefix, part)
		ino, err = fs.Lookup(cur)
		if err != nil {
			return "", 0, err
		}
		st, err := fs.Stat(ino)
		if err != nil {
			return "", 0, err
		}
		if st.Mode&fstree.ModeType == fstree.ModeSymlink {
			target, err := fs.ReadLink(ino)
			if err != nil {
				return "", 0, err
			}
			if !path.IsAbs(target) {
				target = path.Join(prefix, target)
			}
			return path.Join(append([]string{target}, parts[i+1:]...)...), 0, nil
		}
		prefix = cur
	}
	return "", ino, nil
}

// maxSmallFile bounds the text files read to inspect an image.
const maxSmallFile = 64 << 10

func readSmallFile(fs pathFS, p string) ([]byte, error) {
	ino, err := resolve(fs, p)
	if err != nil {
		return nil, err
	}
	f, err := fs.OpenFile(ino)
	if err != nil {
		return nil, err
	}
	n := min(f.Size(), maxSmallFile)
	buf := make([]byte, n)
	if got, err := f.ReadAt(buf, 0); got < len(buf) {
		return nil, err
	}
	return buf, nil
}

// elfMachines maps ELF e_machine values to MAAS architectures.
var elfMachines = map[uint16]string{
	0x03: "i386/generic",
	0x3e: "amd64/generic",
	0xb7: "arm64/generic",
	0x28: "armhf/generic",
	0x15: "ppc64el/generic",
	0x16: "s390x/generic",
	0xf3: "riscv64/generic",
}

// detectArchitecture reads the architecture of the image's own programs.
func detectArchitecture(fs pathFS) string {
	for _, p := range []string{"/usr/bin/env", "/bin/sh", "/usr/bin/true", "/sbin/init"} {
		if arch, err := elfArchitecture(fs, p); err == nil {
			return arch
		}
	}
	return ""
}

func elfArchitecture(fs pathFS, p string) (string, error) {
	ino, err := resolve(fs, p)
	if err != nil {
		return "", err
	}
	f, err := fs.OpenFile(ino)
	if err != nil {
		return "", err
	}
	var hdr [20]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return "", err
	}
	if !bytes.Equal(hdr[:4], []byte("\x7fELF")) {
		return "", errors.New("not an ELF file")
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if hdr[5] == 2 {
		order = binary.BigEndian
	}
	arch, ok := elfMachines[order.Uint16(hdr[18:20])]
	if !ok {
		return "", fmt.Errorf("unknown ELF machine %#x", order.Uint16(hdr[18:20]))
	}
	if arch == "ppc64el/generic" && hdr[5] == 2 {
		return "", errors.New("big-endian ppc64 is not a MAAS architecture")
	}
	return arch, nil
}

// detectOS returns a MAAS base_image hint and a display name from
// /etc/os-release. Only families MAAS accepts as a base image get a hint.
func detectOS(fs pathFS) (baseImage, pretty string) {
	data, err := readSmallFile(fs, "/etc/os-release")
	if err != nil {
		return "", ""
	}
	rel := parseOSRelease(data)
	return baseImageHint(rel), rel["PRETTY_NAME"]
}

func parseOSRelease(data []byte) map[string]string {
	rel := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		rel[key] = strings.Trim(value, `"'`)
	}
	return rel
}

func baseImageHint(rel map[string]string) string {
	major, _, _ := strings.Cut(rel["VERSION_ID"], ".")
	switch rel["ID"] {
	case "ubuntu":
		if codename := rel["VERSION_CODENAME"]; codename != "" {
			return "ubuntu/" + codename
		}
	case "rhel", "centos", "ol":
		if major != "" {
			return rel["ID"] + "/" + major
		}
	default:
		// Rocky, AlmaLinux and other rebuilds: MAAS deploys them as the
		// RHEL release they follow (packer-maas uploads them with rhel/N).
		if slices.Contains(strings.Fields(rel["ID_LIKE"]), "rhel") && major != "" {
			return "rhel/" + major
		}
	}
	return ""
}
