// Package cloudinit makes what a build VM needs to let the builder in: a
// throw-away SSH key pair, cloud-init NoCloud user-data and meta-data, and
// the seed image that carries them (a FAT12 labelled CIDATA, written in Go
// so no root, mkfs, xorriso or cloud-localds is needed; see fat.go).
//
// It knows nothing of Packer.
package cloudinit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

// ExtraMergeType is how cloud-init merges the extra cloud-config into the
// build user's: lists append (so extra users and commands add to ours),
// existing keys are not replaced (so the build user and its key stay),
// nested maps merge key by key.
const ExtraMergeType = "list(append)+dict(no_replace,recurse_list)+str()"

var validUserName = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// BuildUserData returns user-data that creates user with sudo without a
// password, a locked password and key-only SSH login for authorizedKey,
// plus the buildVMDefaults that extra does not set itself.
//
// It leaves ssh_pwauth alone: the build user cannot log in with a password
// anyway, and setting it would edit the image's sshd_config and restart
// sshd while the builder connects.
//
// extra, when not empty, is more cloud-config (with or without its
// "#cloud-config" line), e.g. an apt proxy. The result is then a MIME
// multipart with two text/cloud-config parts, which cloud-init merges
// itself as ExtraMergeType says; extra may override that with its own
// merge_how.
func BuildUserData(user, authorizedKey string, extra []byte) ([]byte, error) {
	if !validUserName.MatchString(user) {
		return nil, fmt.Errorf("build user name %q: want a lower-case letter or _ then up to 31 of a-z 0-9 _ -", user)
	}
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("build user's authorized key %q is not one OpenSSH authorized_keys line", authorizedKey)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if len(bytes.TrimSpace(extra)) == 0 {
		return buildUserCloudConfig(user, authorized, nil), nil
	}
	extraDoc, extraKeys, err := extraCloudConfig(extra)
	if err != nil {
		return nil, err
	}
	return mimeMultipart(buildUserCloudConfig(user, authorized, extraKeys), extraDoc)
}

// buildVMDefaults are cloud-config settings that make the build VM boot
// faster and keep its state out of the image. Extra user-data that sets one
// of these top-level keys replaces it.
var buildVMDefaults = []struct{ key, yaml string }{
	// The image's host keys are removed when it is generalized, and RSA
	// key generation costs about 9 s of boot under TCG.
	{"ssh_genkeytypes", "ssh_genkeytypes: [ed25519]\n"},
	// Fingerprints printed to a console log nobody reads: 1.5 s under TCG.
	{"ssh", "ssh:\n  emit_keys_to_console: false\n"},
	// It would record the build VM's disk in debconf as GRUB's install
	// device; curtin sets the deployed machine's at install time.
	{"grub_dpkg", "grub_dpkg:\n  enabled: false\n"},
}

// quote makes s a YAML double-quoted scalar: JSON's string escapes are a
// subset of YAML's.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// buildUserCloudConfig is the build user's cloud-config with the
// buildVMDefaults whose keys are not in overridden.
func buildUserCloudConfig(user, authorizedKey string, overridden map[string]any) []byte {
	var b strings.Builder
	b.WriteString("#cloud-config\n")
	b.WriteString("users:\n")
	fmt.Fprintf(&b, "  - name: %s\n", quote(user))
	b.WriteString("    gecos: \"packer-plugin-maas build user\"\n")
	b.WriteString("    shell: /bin/bash\n")
	b.WriteString("    lock_passwd: true\n")
	b.WriteString("    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n")
	b.WriteString("    ssh_authorized_keys:\n")
	fmt.Fprintf(&b, "      - %s\n", quote(authorizedKey))
	for _, d := range buildVMDefaults {
		if _, set := overridden[d.key]; !set {
			b.WriteString(d.yaml)
		}
	}
	return []byte(b.String())
}

// extraCloudConfig checks that extra is a cloud-config mapping and returns
// it with its "#cloud-config" line, and the mapping.
func extraCloudConfig(extra []byte) ([]byte, map[string]any, error) {
	text := strings.TrimLeft(string(extra), " \t\r\n")
	if first, _, _ := strings.Cut(text, "\n"); strings.HasPrefix(first, "#!") || strings.HasPrefix(strings.ToLower(first), "content-type:") {
		return nil, nil, fmt.Errorf("extra user-data must be cloud-config (YAML), not a script or MIME message (it starts with %q)", first)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, nil, fmt.Errorf("extra user-data is not valid cloud-config YAML: %w", err)
	}
	if doc == nil {
		return nil, nil, fmt.Errorf("extra user-data holds no cloud-config keys")
	}
	if !strings.HasPrefix(text, "#cloud-config") {
		text = "#cloud-config\n" + text
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return []byte(text), doc, nil
}

// mimeMultipart wraps two cloud-config documents in the MIME form cloud-init
// reads (as its own make-mime tool writes it).
func mimeMultipart(own, extra []byte) ([]byte, error) {
	var random [16]byte
	if _, err := rand.Read(random[:]); err != nil {
		return nil, err
	}
	boundary := "===============" + hex.EncodeToString(random[:]) + "=="
	var b bytes.Buffer
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\nMIME-Version: 1.0\n\n", boundary)
	part := func(filename, mergeType string, body []byte) {
		fmt.Fprintf(&b, "--%s\n", boundary)
		b.WriteString("Content-Type: text/cloud-config; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n")
		fmt.Fprintf(&b, "Content-Disposition: attachment; filename=\"%s\"\n", filename)
		if mergeType != "" {
			fmt.Fprintf(&b, "Merge-Type: %s\n", mergeType)
		}
		b.WriteString("\n")
		b.Write(body)
		b.WriteString("\n") // the line break before a boundary belongs to the boundary
	}
	part("build-user.cfg", "", own)
	part("user-data.cfg", ExtraMergeType, extra)
	fmt.Fprintf(&b, "--%s--\n", boundary)
	return b.Bytes(), nil
}

var validHostname = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// BuildMetaData returns NoCloud meta-data. A new instanceID makes cloud-init
// treat the boot as a new instance (NewInstanceID makes one).
func BuildMetaData(instanceID, hostname string) ([]byte, error) {
	if instanceID == "" || strings.ContainsAny(instanceID, "\n\r") {
		return nil, fmt.Errorf("instance-id %q: want a non-empty single line", instanceID)
	}
	if !validHostname.MatchString(hostname) {
		return nil, fmt.Errorf("hostname %q: want 1-63 of a-z 0-9 - (not at either end)", hostname)
	}
	return fmt.Appendf(nil, "instance-id: %s\nlocal-hostname: %s\n", quote(instanceID), hostname), nil
}

// NewInstanceID returns a fresh, random instance-id.
func NewInstanceID() (string, error) {
	var random [8]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", err
	}
	return "iid-packer-maas-" + hex.EncodeToString(random[:]), nil
}
