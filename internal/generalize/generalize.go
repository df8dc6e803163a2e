// Package generalize writes the root shell script that generalizes a
// build guest: it removes what belongs to the build (its user, proxies,
// network configuration, cloud-init state, host keys, machine-id, package
// caches) and powers the guest off.
//
// The script is real shell, in scripts/ (shellcheck-clean, run under dash
// and bash by the tests): a part every family shares and one per family
// (Debian, RHEL, SUSE), chosen in the guest from /etc/os-release and the
// package manager present. Go only writes the settings at the top, as
// quoted shell assignments. It knows nothing of Packer.
package generalize

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Marker is the line the script prints once the image is generalized,
// just before it powers the guest off: the SSH session may end without an
// exit status after that, which is then no failure.
const Marker = "packer-maas: generalized"

// Rules the script applies in the guest only, besides the tar rules of
// internal/exportcfg (which it applies in the guest too, by their names).
const (
	// RulePackageCache empties the package manager's cache.
	RulePackageCache = "package-cache"
)

// PowerOff is the command that ends the script in the guest.
const PowerOff = "shutdown -P now"

// Settings are what the script does.
type Settings struct {
	// User is the build user to remove, with its home, mail and sudoers
	// lines.
	User string
	// Skip names the rules not to apply (skip_generalize's names).
	Skip []string
	// ProxyLines are the lines the build added to /etc/environment, and
	// ProxyFile the apt proxy file it wrote; both go.
	ProxyLines []string
	ProxyFile  string
	// RemoveKernel purges the kernel packages (Debian family only: on
	// others the script stops before it removes anything).
	RemoveKernel bool
	// Root is the image's root directory: "" in the guest, a fake root in
	// tests. Commands (userdel, cloud-init, systemctl, ...) still act on
	// the system they run on.
	Root string
	// PowerOffCommand ends the script; PowerOff when empty.
	PowerOffCommand string
}

//go:embed scripts/common.sh scripts/debian.sh scripts/rhel.sh scripts/suse.sh scripts/main.sh scripts/check.sh
var scripts embed.FS

// libraryParts are the files that define the scripts' functions, in the order
// they are sent; main.sh or check.sh follows, and calls them.
var libraryParts = []string{"common.sh", "debian.sh", "rhel.sh", "suse.sh"}

var (
	validUser = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	validRule = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// Script is the root shell script for s.
func Script(s Settings) ([]byte, error) {
	return compose(s, "main.sh")
}

// CheckScript is a shell script that fails, with a message saying why, on
// an image the script for s would refuse (remove_kernel on a family it
// cannot remove the kernel of), before the provisioners waste their time.
// It changes nothing and needs no root; it prints the image's family.
func CheckScript(s Settings) ([]byte, error) {
	return compose(s, "check.sh")
}

// compose is the header for s, the library and then the script named
// last (none: the library alone, for tests that call one function).
func compose(s Settings, last string) ([]byte, error) {
	var b strings.Builder
	if err := writeHeader(&b, s); err != nil {
		return nil, err
	}
	for _, name := range libraryParts {
		writePart(&b, name)
	}
	if last != "" {
		writePart(&b, last)
	}
	return []byte(b.String()), nil
}

func library(s Settings) (string, error) {
	lib, err := compose(s, "")
	return string(lib), err
}

func writePart(b *strings.Builder, name string) {
	data, err := scripts.ReadFile("scripts/" + name)
	if err != nil {
		panic(err) // embedded above
	}
	b.WriteString("\n# --- " + name + "\n")
	b.Write(data)
}

// writeHeader writes the settings as shell assignments; every value is
// single-quoted, so none can run as code.
func writeHeader(b *strings.Builder, s Settings) error {
	if !validUser.MatchString(s.User) {
		return fmt.Errorf("build user %q is not a user name", s.User)
	}
	for _, rule := range s.Skip {
		if !validRule.MatchString(rule) {
			return fmt.Errorf("rule %q is not a rule name", rule)
		}
	}
	if s.Root != "" && (!path.IsAbs(s.Root) || path.Clean(s.Root) == "/") {
		return fmt.Errorf("root %q must be an absolute directory other than /, or empty for the guest's own", s.Root)
	}
	if len(s.ProxyLines) > 0 && !path.IsAbs(s.ProxyFile) {
		return errors.New("the proxy file must be an absolute path")
	}
	for _, line := range s.ProxyLines {
		if line == "" || strings.Contains(line, "\n") {
			return fmt.Errorf("proxy line %q must be one non-empty line", line)
		}
	}
	powerOff := s.PowerOffCommand
	if powerOff == "" {
		powerOff = PowerOff
	}
	removeKernel := "no"
	if s.RemoveKernel {
		removeKernel = "yes"
	}
	b.WriteString("# shellcheck disable=SC2034 # the check script uses a few of the settings\nset -eu\n")
	for _, v := range []struct{ name, value string }{
		{"build_user", s.User},
		{"skip_rules", strings.Join(s.Skip, " ")},
		{"proxy_lines", strings.Join(s.ProxyLines, "\n")},
		{"proxy_file", s.ProxyFile},
		{"remove_kernel", removeKernel},
		{"root", strings.TrimSuffix(s.Root, "/")},
		{"power_off", powerOff},
	} {
		fmt.Fprintf(b, "%s=%s\n", v.name, quote(v.value))
	}
	return nil
}

// quote is s as one single-quoted shell word.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
