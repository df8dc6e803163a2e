package generalize

import (
	"net/url"
	"path"
	"regexp"
	"strings"
)

// distroNames are the distributions MAAS installs no kernel into, as their
// cloud images' file names spell them (Rocky-9-GenericCloud...,
// OL9U4_x86_64-kvm..., SLES15-SP6-Minimal-VM...), one word each.
var distroNames = []struct {
	word *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`^rhel[0-9]*$`), "RHEL"},
	{regexp.MustCompile(`^centos[0-9]*$`), "CentOS"},
	{regexp.MustCompile(`^rocky(linux)?[0-9]*$`), "Rocky Linux"},
	{regexp.MustCompile(`^alma(linux)?[0-9]*$`), "AlmaLinux"},
	{regexp.MustCompile(`^(ol[0-9]+(u[0-9]+)?|oraclelinux[0-9]*)$`), "Oracle Linux"},
	{regexp.MustCompile(`^fedora[0-9]*$`), "Fedora"},
	{regexp.MustCompile(`^opensuse[0-9]*$`), "openSUSE"},
	{regexp.MustCompile(`^(sles|sle)[0-9]*$`), "SUSE Linux Enterprise"},
}

var nameWords = regexp.MustCompile(`[a-z0-9]+`)

// KernelKeepingDistro names the distribution an image's file name says it
// is when that is one whose images must keep their own kernel (the RHEL
// family, Fedora, SUSE), and "" otherwise. image is a URL or a path; only
// the file name counts, so that directories like /srv/rhel-tools/ do not.
func KernelKeepingDistro(image string) string {
	name := image
	if u, err := url.Parse(image); err == nil && u.Path != "" {
		name = u.Path
	}
	for _, word := range nameWords.FindAllString(strings.ToLower(path.Base(name)), -1) {
		for _, d := range distroNames {
			if d.word.MatchString(word) {
				return d.name
			}
		}
	}
	return ""
}
