package cloudinit

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"
)

type cloudConfig struct {
	Users []struct {
		Name              string   `yaml:"name"`
		Sudo              string   `yaml:"sudo"`
		LockPasswd        bool     `yaml:"lock_passwd"`
		SSHAuthorizedKeys []string `yaml:"ssh_authorized_keys"`
		Passwd            *string  `yaml:"passwd"`
	} `yaml:"users"`
	SSHPwauth      *bool    `yaml:"ssh_pwauth"`
	SSHGenKeyTypes []string `yaml:"ssh_genkeytypes"`
	SSH            *struct {
		EmitKeysToConsole *bool `yaml:"emit_keys_to_console"`
	} `yaml:"ssh"`
	GrubDpkg *struct {
		Enabled *bool `yaml:"enabled"`
	} `yaml:"grub_dpkg"`
}

func newKey(t *testing.T) string {
	t.Helper()
	_, authorized, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return authorized
}

func parseCloudConfig(t *testing.T, doc []byte) cloudConfig {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte("#cloud-config\n")) {
		t.Fatalf("document does not start with #cloud-config:\n%s", doc)
	}
	var c cloudConfig
	if err := yaml.Unmarshal(doc, &c); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, doc)
	}
	return c
}

func checkBuildUser(t *testing.T, c cloudConfig, user, key string) {
	t.Helper()
	if len(c.Users) != 1 {
		t.Fatalf("users = %+v, want just the build user", c.Users)
	}
	u := c.Users[0]
	if u.Name != user || u.Sudo != "ALL=(ALL) NOPASSWD:ALL" || !u.LockPasswd || u.Passwd != nil {
		t.Errorf("build user %+v: want %s, sudo NOPASSWD, locked password, none set", u, user)
	}
	if len(u.SSHAuthorizedKeys) != 1 || u.SSHAuthorizedKeys[0] != key {
		t.Errorf("authorized keys %q, want [%q]", u.SSHAuthorizedKeys, key)
	}
	if c.SSHPwauth != nil {
		t.Error("ssh_pwauth is set: it would edit the image's sshd_config and restart sshd mid-build")
	}
}

// checkBuildVMDefaults asserts the speed-ups of buildVMDefaults are all set.
func checkBuildVMDefaults(t *testing.T, c cloudConfig) {
	t.Helper()
	if len(c.SSHGenKeyTypes) != 1 || c.SSHGenKeyTypes[0] != "ed25519" {
		t.Errorf("ssh_genkeytypes = %q, want [ed25519]", c.SSHGenKeyTypes)
	}
	if c.SSH == nil || c.SSH.EmitKeysToConsole == nil || *c.SSH.EmitKeysToConsole {
		t.Error("ssh.emit_keys_to_console is not false")
	}
	if c.GrubDpkg == nil || c.GrubDpkg.Enabled == nil || *c.GrubDpkg.Enabled {
		t.Error("grub_dpkg.enabled is not false")
	}
}

func TestBuildUserDataAlone(t *testing.T) {
	key := newKey(t)
	data, err := BuildUserData("packer", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := parseCloudConfig(t, data)
	checkBuildUser(t, c, "packer", key)
	checkBuildVMDefaults(t, c)
}

func TestBuildUserDataWithExtraIsMultipart(t *testing.T) {
	key := newKey(t)
	extra := "apt:\n  proxy: http://proxy.example:3128\nusers:\n  - name: ops\n"
	data, err := BuildUserData("packer", key, []byte(extra))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a MIME message: %v\n%s", err, data)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/mixed" {
		t.Fatalf("Content-Type %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	reader := multipart.NewReader(msg.Body, params["boundary"])
	var parts [][]byte
	var mergeTypes []string
	for {
		p, err := reader.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/cloud-config") {
			t.Errorf("part type %q", ct)
		}
		body, _ := io.ReadAll(p)
		parts = append(parts, body)
		mergeTypes = append(mergeTypes, p.Header.Get("Merge-Type"))
	}
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	own := parseCloudConfig(t, parts[0])
	checkBuildUser(t, own, "packer", key)
	checkBuildVMDefaults(t, own)
	if mergeTypes[0] != "" || mergeTypes[1] != ExtraMergeType {
		t.Errorf("merge types %q, want none then %q", mergeTypes, ExtraMergeType)
	}
	if got := string(parts[1]); got != "#cloud-config\n"+extra {
		t.Errorf("extra part = %q", got)
	}
}

// Extra user-data that sets one of the build VM defaults must win, though
// it merges with no_replace: so the build user's part leaves that key out.
func TestBuildUserDataExtraReplacesBuildVMDefaults(t *testing.T) {
	extra := "ssh_genkeytypes: [rsa, ed25519]\ngrub_dpkg:\n  enabled: true\n"
	data, err := BuildUserData("packer", newKey(t), []byte(extra))
	if err != nil {
		t.Fatal(err)
	}
	own, _, _ := strings.Cut(string(data), "user-data.cfg")
	if strings.Contains(own, "ssh_genkeytypes") || strings.Contains(own, "grub_dpkg") {
		t.Errorf("the build user's part still sets a key the extra user-data sets:\n%s", own)
	}
	if !strings.Contains(own, "emit_keys_to_console: false") {
		t.Errorf("the build user's part lost a default the extra user-data does not set:\n%s", own)
	}
}

func TestBuildUserDataKeepsTheExtraHeader(t *testing.T) {
	data, err := BuildUserData("packer", newKey(t), []byte("#cloud-config\npackages: [curl]"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "#cloud-config"); n != 2 {
		t.Errorf("%d #cloud-config headers, want one per part:\n%s", n, data)
	}
	if !strings.Contains(string(data), "packages: [curl]\n\n--") {
		t.Errorf("extra part not newline-terminated:\n%s", data)
	}
}

func TestBuildUserDataRefusesBadInput(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name, user, key, extra, errHas string
	}{
		{"upper-case user", "Packer", key, "", "build user name"},
		{"user with space", "a b", key, "", "build user name"},
		{"empty user", "", key, "", "build user name"},
		{"garbage key", "packer", "not a key", "", "authorized key"},
		{"two keys", "packer", key + "\n" + key, "", "authorized key"},
		{"bad YAML", "packer", key, "apt: [unclosed", "not valid cloud-config YAML"},
		{"a list, not a mapping", "packer", key, "- a\n- b\n", "not valid cloud-config YAML"},
		{"only comments", "packer", key, "#cloud-config\n# nothing\n", "no cloud-config keys"},
		{"a script", "packer", key, "#!/bin/sh\necho hi\n", "not a script or MIME"},
		{"MIME", "packer", key, "Content-Type: multipart/mixed\n", "not a script or MIME"},
	}
	for _, tt := range tests {
		if _, err := BuildUserData(tt.user, tt.key, []byte(tt.extra)); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.errHas)
		}
	}
}

func TestBuildMetaData(t *testing.T) {
	id, err := NewInstanceID()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewInstanceID()
	if id == other || !strings.HasPrefix(id, "iid-") {
		t.Errorf("instance ids %q and %q", id, other)
	}
	data, err := BuildMetaData(id, "maas-build")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	if meta["instance-id"] != id || meta["local-hostname"] != "maas-build" || len(meta) != 2 {
		t.Errorf("meta-data %v", meta)
	}
	for _, bad := range []string{"", "-x", "UPPER", "a_b", strings.Repeat("a", 64)} {
		if _, err := BuildMetaData(id, bad); err == nil || !strings.Contains(err.Error(), "hostname") {
			t.Errorf("hostname %q: error %v", bad, err)
		}
	}
	if _, err := BuildMetaData("a\nb: c", "host"); err == nil {
		t.Error("multi-line instance-id accepted")
	}
}

func TestNewKeyPair(t *testing.T) {
	privatePEM, authorized, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(privatePEM)
	if err != nil {
		t.Fatalf("private key does not parse: %v", err)
	}
	public, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorized))
	if err != nil {
		t.Fatal(err)
	}
	if public.Type() != ssh.KeyAlgoED25519 || !bytes.Equal(public.Marshal(), signer.PublicKey().Marshal()) {
		t.Errorf("public key %q does not match the private key", authorized)
	}
	if !bytes.HasPrefix(privatePEM, []byte("-----BEGIN OPENSSH PRIVATE KEY-----")) {
		t.Errorf("private key not in OpenSSH PEM form: %.40s", privatePEM)
	}
	_, again, _ := NewKeyPair()
	if again == authorized {
		t.Error("two key pairs are the same")
	}
}
