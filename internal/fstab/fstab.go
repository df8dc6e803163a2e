// Package fstab parses /etc/fstab as found in a disk image, so that an
// export can assemble the tree the running system sees: the root
// filesystem plus what fstab mounts on it. The file comes from an
// untrusted image: the parser bounds what it reads and never fails on
// content, it only skips what it cannot make sense of (Entry.Problem).
package fstab

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// MaxSize bounds the fstab read from an image; real ones are a few KiB.
const MaxSize = 1 << 20

// maxEntries bounds the lines kept, so a hostile file costs little.
const maxEntries = 4096

// Entry is one line of fstab that names a mount.
type Entry struct {
	Line    int    // 1-based line number in the file
	Text    string // the line as written, for messages
	Spec    string // fs_spec, unescaped: UUID=..., /dev/vda2, host:/path
	File    string // fs_file, unescaped and cleaned: /boot
	Type    string // fs_vfstype: ext4, vfat, swap, nfs, ...
	Options []string
}

// String names the entry for messages: `line 3 ("UUID=... /boot ext4 defaults 0 2")`.
func (e Entry) String() string {
	return fmt.Sprintf("/etc/fstab line %d (%q)", e.Line, e.Text)
}

// HasOption reports whether the options include name (`noauto`) or
// name=value.
func (e Entry) HasOption(name string) bool {
	_, ok := e.Option(name)
	return ok
}

// Option returns the value of name=value (or "" for a bare name) and
// whether it is present.
func (e Entry) Option(name string) (string, bool) {
	for _, o := range e.Options {
		k, v, _ := strings.Cut(o, "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// Parse reads the entries of an fstab. Blank lines and comments are
// skipped; so are lines with fewer than two fields, which mount(8) would
// reject (they come back in the second result, for a warning).
func Parse(data []byte) (entries []Entry, skipped []string) {
	if len(data) > MaxSize {
		data = data[:MaxSize]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxSize)
	for n := 1; sc.Scan() && len(entries) < maxEntries; n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			skipped = append(skipped, fmt.Sprintf("/etc/fstab line %d (%q) has no mount point; ignored", n, text))
			continue
		}
		e := Entry{Line: n, Text: text, Spec: Unescape(fields[0]), File: Unescape(fields[1]), Type: "auto"}
		if e.File != "none" && e.File != "swap" && strings.HasPrefix(e.File, "/") {
			e.File = path.Clean(e.File)
		}
		if len(fields) > 2 {
			e.Type = Unescape(fields[2])
		}
		if len(fields) > 3 {
			e.Options = strings.Split(Unescape(fields[3]), ",")
		}
		entries = append(entries, e)
	}
	return entries, skipped
}

// Unescape decodes the octal escapes fstab uses for blanks and
// backslashes in a field (`\040` is a space), as libmount does: a
// backslash and three octal digits make one byte; anything else stays.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			if v <= 0xff {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Source kinds: how fs_spec names a block device.
const (
	ByUUID      = "UUID"      // filesystem UUID
	ByLabel     = "LABEL"     // filesystem label
	ByPartUUID  = "PARTUUID"  // GPT partition GUID, or MBR <signature>-<NN>
	ByPartLabel = "PARTLABEL" // GPT partition name
	ByDevice    = "device"    // a /dev path that names no tag: /dev/vda2
)

// Source is the device fs_spec names.
type Source struct {
	Kind  string // one of the By* kinds; "" when fs_spec names no block device
	Value string // the tag's value, or the device path for ByDevice
}

// byDirs maps the udev symlink directories to the tag they stand for.
var byDirs = map[string]string{
	"/dev/disk/by-uuid/":      ByUUID,
	"/dev/disk/by-label/":     ByLabel,
	"/dev/disk/by-partuuid/":  ByPartUUID,
	"/dev/disk/by-partlabel/": ByPartLabel,
}

// Source classifies fs_spec: a TAG=value (quotes allowed, as libmount
// allows), a /dev/disk/by-* link (udev's \xNN escapes decoded), another
// /dev path, or "" for what is no block device (tmpfs, proc, host:/path,
// a directory of a bind mount).
func (e Entry) Source() Source {
	spec := e.Spec
	for _, tag := range []string{ByUUID, ByLabel, ByPartUUID, ByPartLabel} {
		if v, ok := strings.CutPrefix(spec, tag+"="); ok {
			return Source{Kind: tag, Value: unquote(v)}
		}
	}
	for dir, tag := range byDirs {
		if v, ok := strings.CutPrefix(spec, dir); ok && v != "" {
			return Source{Kind: tag, Value: unescapeUdev(v)}
		}
	}
	if strings.HasPrefix(spec, "/dev/") {
		return Source{Kind: ByDevice, Value: path.Clean(spec)}
	}
	return Source{}
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// unescapeUdev decodes the \xNN escapes udev writes into link names
// (`/dev/disk/by-label/my\x20disk`).
func unescapeUdev(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// networkTypes are filesystems served over the network; fuse.* and
// _netdev are told apart by prefix and option.
var networkTypes = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ncpfs": true,
	"sshfs": true, "glusterfs": true, "ceph": true, "9p": true, "virtiofs": true,
	"afs": true, "davfs": true, "lustre": true, "gfs2": true, "ocfs2": true,
}

// virtualTypes hold no data of their own on a disk.
var virtualTypes = map[string]bool{
	"tmpfs": true, "ramfs": true, "proc": true, "sysfs": true, "devpts": true,
	"devtmpfs": true, "cgroup": true, "cgroup2": true, "securityfs": true,
	"debugfs": true, "tracefs": true, "hugetlbfs": true, "mqueue": true,
	"efivarfs": true, "configfs": true, "pstore": true, "bpf": true,
	"fusectl": true, "binfmt_misc": true, "autofs": true, "overlay": true,
	"none": true,
}

// NotLocal says why the entry mounts no local block device filesystem
// that belongs in an exported tree (swap, a network or virtual
// filesystem, a bind mount, a noauto entry); "" when it does.
func (e Entry) NotLocal() string {
	typ := strings.ToLower(e.Type)
	switch {
	case typ == "swap" || e.File == "swap" || e.File == "none":
		return "swap"
	case e.HasOption("bind") || e.HasOption("rbind") || e.HasOption("move"):
		return "a bind mount"
	case networkTypes[typ] || strings.HasPrefix(typ, "fuse") || e.HasOption("_netdev"):
		return "a network filesystem"
	case virtualTypes[typ]:
		return "a virtual filesystem"
	case !strings.HasPrefix(e.File, "/"):
		return "not mounted on an absolute path"
	case e.HasOption("noauto"):
		return "noauto: not mounted at boot"
	case e.Source().Kind == "":
		return "no block device"
	}
	return ""
}
