package curtinhook

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Guest is what the probe script learns about the machine being built.
type Guest struct {
	UID    int      // of the SSH user: 0 needs no sudo
	OSID   string   // ID from os-release, like "ubuntu"
	IDLike []string // ID_LIKE from os-release, like ["debian"]
}

// DebianFamily tells whether curtin treats the image as Debian-family: the
// family whose built-in hooks install the kernel.
func (g Guest) DebianFamily() bool {
	if g.OSID == "debian" || g.OSID == "ubuntu" {
		return true
	}
	for _, like := range g.IDLike {
		if like == "debian" || like == "ubuntu" {
			return true
		}
	}
	return false
}

// ProbeScript returns a sh script that prints the SSH user's uid and the
// os-release ID and ID_LIKE of the image at root ("" in a guest), one
// `key=value` a line. It needs no root.
func ProbeScript(root string) string {
	return "ROOT=" + ShellQuote(root) + "\n" + probeBody
}

//go:embed probe.sh
var probeBody string

// maxProbeOutput bounds what ParseProbe reads: os-release lines are short.
const maxProbeOutput = 64 << 10

// ParseProbe reads ProbeScript's output.
func ParseProbe(out string) (Guest, error) {
	if len(out) > maxProbeOutput {
		return Guest{}, fmt.Errorf("guest probe printed %d bytes, more than the %d it may", len(out), maxProbeOutput)
	}
	g := Guest{UID: -1}
	for _, line := range strings.Split(out, "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch key {
		case "uid":
			uid, err := strconv.Atoi(value)
			if err != nil || uid < 0 {
				return Guest{}, fmt.Errorf("guest probe: `id -u` printed %q, not a uid", value)
			}
			g.UID = uid
		case "id":
			g.OSID = value
		case "id_like":
			g.IDLike = strings.Fields(value)
		}
	}
	if g.UID < 0 {
		return Guest{}, fmt.Errorf("guest probe printed no uid; its output was %q", out)
	}
	return g, nil
}

// packageName is what both dpkg and rpm accept as a package name, and
// nothing a shell would interpret.
var packageName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+._-]*$`)

// ValidatePackageName checks a `custom_kernel` setting.
func ValidatePackageName(name string) error {
	if len(name) > 200 || !packageName.MatchString(name) {
		return fmt.Errorf("custom_kernel %q is not a package name like \"linux-image-lowlatency\" or \"kernel-rt\"", name)
	}
	return nil
}

// ValidateFileName checks a name for a file in /curtin: one plain name,
// not the hook itself (set it with source), not CUSTOM_KERNEL when
// custom_kernel writes that.
func ValidateFileName(name string, customKernel bool) error {
	switch {
	case name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255:
		return fmt.Errorf("files: %q is not a plain file name for /curtin/, like \"curtin-hooks.cfg\"", name)
	case name == HookName:
		return fmt.Errorf("files: %q is the hook itself: set it with source", name)
	case name == CustomKernelName && customKernel:
		return fmt.Errorf("files: %q is written from custom_kernel: set one or the other", name)
	}
	return nil
}
