package maasrootfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// validSettings is a working configuration; each case changes it.
func validSettings(t *testing.T) map[string]interface{} {
	image := filepath.Join(t.TempDir(), "cloud.img")
	require.NoError(t, os.WriteFile(image, []byte("image"), 0o644))
	return map[string]interface{}{
		"image_url":         image,
		"image_checksum":    "sha256:" + strings.Repeat("ab", 32),
		"packer_build_name": "noble",
	}
}

func TestPrepareDefaults(t *testing.T) {
	var c Config
	warnings, err := c.Prepare(validSettings(t))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, 2, c.CPUs)
	assert.Equal(t, 2048, c.Memory)
	assert.Equal(t, "amd64", c.Architecture)
	assert.Equal(t, "auto", c.Accelerator)
	assert.Equal(t, "uefi", c.Firmware)
	assert.Equal(t, "tgz", c.OutputFormat)
	assert.Equal(t, 6, c.CompressionLevel)
	assert.Equal(t, 3*time.Minute, c.ShutdownTimeout)
	assert.Equal(t, "output-noble", c.OutputDirectory)
	assert.Equal(t, "noble.tar.gz", c.OutputFilename)
	assert.Equal(t, "packer-maas", c.Comm.SSHUsername)
	assert.Equal(t, "ssh", c.Comm.Type)
	assert.Len(t, c.ImageURLs, 1)
	assert.Zero(t, c.diskSize)
}

func TestPrepareDerivedValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    map[string]interface{}
		verify func(t *testing.T, c *Config)
	}{
		{"ddgz file name", map[string]interface{}{"output_format": "ddgz"},
			func(t *testing.T, c *Config) { assert.Equal(t, "noble.dd.gz", c.OutputFilename) }},
		{"qcow2 file name", map[string]interface{}{"output_format": "qcow2"},
			func(t *testing.T, c *Config) { assert.Equal(t, "noble.qcow2", c.OutputFilename) }},
		{"disk size in G", map[string]interface{}{"disk_size": "8G"},
			func(t *testing.T, c *Config) { assert.Equal(t, int64(8<<30), c.diskSize) }},
		{"disk size bare MiB", map[string]interface{}{"disk_size": "20480"},
			func(t *testing.T, c *Config) { assert.Equal(t, int64(20480<<20), c.diskSize) }},
		{"disk size GiB", map[string]interface{}{"disk_size": "3GiB"},
			func(t *testing.T, c *Config) { assert.Equal(t, int64(3<<30), c.diskSize) }},
		{"bios", map[string]interface{}{"firmware": "bios"},
			func(t *testing.T, c *Config) { assert.Equal(t, "bios", c.Firmware) }},
		{"skip_generalize on a disk output", map[string]interface{}{"output_format": "ddgz", "skip_generalize": []string{"apt-clean"}},
			func(t *testing.T, c *Config) { assert.True(t, c.Skips(ruleAptClean)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			settings := validSettings(t)
			for k, v := range tc.set {
				settings[k] = v
			}
			_, err := c.Prepare(settings)
			require.NoError(t, err)
			tc.verify(t, &c)
		})
	}
}

func TestPrepareChecksumNoneWarns(t *testing.T) {
	var c Config
	settings := validSettings(t)
	settings["image_checksum"] = "none"
	warnings, err := c.Prepare(settings)
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "without checking")
}

// TestPrepareRejects checks that each mistake is reported by its setting's
// name, and how to fix it, before anything runs.
func TestPrepareRejects(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.fd")
	for _, tc := range []struct {
		name  string
		set   map[string]interface{}
		unset string
		want  []string
	}{
		{name: "no image", unset: "image_url", want: []string{"image_url is required"}},
		{name: "no checksum", unset: "image_checksum", want: []string{"image_checksum is required", "\"none\""}},
		{name: "bad checksum", set: map[string]interface{}{"image_checksum": "sha256:abc"}, want: []string{"image_checksum \"sha256:abc\" is not a checksum"}},
		{name: "url and urls", set: map[string]interface{}{"image_urls": []string{"http://mirror/x.img"}}, want: []string{"image_url or image_urls, not both"}},
		{name: "architecture", set: map[string]interface{}{"architecture": "riscv64"}, want: []string{"architecture \"riscv64\"", "\"arm64\""}},
		{name: "architecture MAAS form unsupported", set: map[string]interface{}{"architecture": "riscv64/generic"}, want: []string{"architecture \"riscv64/generic\" is not supported", "arm64/generic"}},
		{name: "architecture unknown", set: map[string]interface{}{"architecture": "x86_64/generic"}, want: []string{"unknown architecture \"x86_64\""}},
		{name: "bios on arm64/generic", set: map[string]interface{}{"firmware": "bios", "architecture": "arm64/generic"}, want: []string{"firmware \"bios\" exists only for amd64"}},
		{name: "accelerator", set: map[string]interface{}{"accelerator": "xen"}, want: []string{"accelerator \"xen\" is unknown"}},
		{name: "firmware", set: map[string]interface{}{"firmware": "coreboot"}, want: []string{"firmware \"coreboot\" is unknown"}},
		{name: "bios on arm64", set: map[string]interface{}{"firmware": "bios", "architecture": "arm64"}, want: []string{"firmware \"bios\" exists only for amd64"}},
		{name: "firmware files with bios", set: map[string]interface{}{"firmware": "bios", "firmware_code": missing}, want: []string{"firmware_code and firmware_vars are UEFI files"}},
		{name: "output format", set: map[string]interface{}{"output_format": "vmdk"}, want: []string{"output_format \"vmdk\" is unknown"}},
		{name: "output filename with directory", set: map[string]interface{}{"output_filename": "a/b.tar.gz"}, want: []string{"output_filename \"a/b.tar.gz\" must be a file name"}},
		{name: "compression level", set: map[string]interface{}{"compression_level": 10}, want: []string{"compression_level 10 is out of range"}},
		{name: "tar settings on ddgz", set: map[string]interface{}{"output_format": "ddgz", "exclude": []string{"/tmp/*"}, "root_partition": "1"},
			want: []string{"root_partition, exclude apply to output_format = \"tgz\" only"}},
		{name: "boot_partition on ddgz", set: map[string]interface{}{"output_format": "ddgz", "boot_partition": "none"},
			want: []string{"boot_partition apply to output_format = \"tgz\" only"}},
		{name: "remove_kernel on ddgz", set: map[string]interface{}{"output_format": "ddgz", "remove_kernel": true},
			want: []string{"remove_kernel with output_format = \"ddgz\" makes a disk that cannot boot"}},
		{name: "remove_kernel on a Rocky image", set: map[string]interface{}{"image_url": "https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud-Base.latest.x86_64.qcow2", "remove_kernel": true},
			want: []string{"remove_kernel cannot be used with image_url https://dl.rockylinux.org/", "a Rocky Linux image by its file name", "only into Debian-family (Ubuntu) images", "remove remove_kernel"}},
		{name: "remove_kernel on a SUSE mirror", set: map[string]interface{}{"image_url": "", "image_urls": []string{"https://mirror.example/noble.img", "/srv/SLES15-SP6-Minimal-VM.x86_64-Cloud-GM.qcow2"}, "remove_kernel": true},
			want: []string{"image_url /srv/SLES15-SP6-Minimal-VM.x86_64-Cloud-GM.qcow2, a SUSE Linux Enterprise image"}},
		{name: "memory", set: map[string]interface{}{"memory": 64}, want: []string{"memory 64 MiB is out of range"}},
		{name: "cpus", set: map[string]interface{}{"cpus": 1000}, want: []string{"cpus 1000 is out of range"}},
		{name: "disk size", set: map[string]interface{}{"disk_size": "big"}, want: []string{"disk_size \"big\" is not a size"}},
		{name: "disk size zero", set: map[string]interface{}{"disk_size": "0G"}, want: []string{"disk_size \"0G\" is out of range"}},
		{name: "user_data YAML", set: map[string]interface{}{"user_data": "packages: [a"}, want: []string{"user_data", "YAML"}},
		{name: "user_data script", set: map[string]interface{}{"user_data": "#!/bin/sh\necho hi"}, want: []string{"user_data", "not a script"}},
		{name: "user_data with proxy", set: map[string]interface{}{"user_data": "write_files: 3", "http_proxy": "http://proxy:3128"}, want: []string{"write_files must be a list"}},
		{name: "proxy", set: map[string]interface{}{"http_proxy": "proxy:3128"}, want: []string{"http_proxy \"proxy:3128\" is not a URL"}},
		{name: "https proxy", set: map[string]interface{}{"https_proxy": "not a url"}, want: []string{"https_proxy \"not a url\" is not a URL"}},
		{name: "no_proxy", set: map[string]interface{}{"no_proxy": "a, b"}, want: []string{"no_proxy \"a, b\" must be a comma-separated list"}},
		{name: "shutdown timeout", set: map[string]interface{}{"shutdown_timeout": "-1s"}, want: []string{"shutdown_timeout -1s is negative"}},
		{name: "password", set: map[string]interface{}{"ssh_password": "secret"}, want: []string{"ssh_password, ssh_private_key_file and ssh_agent_auth are not used"}},
		{name: "root user", set: map[string]interface{}{"ssh_username": "root"}, want: []string{"ssh_username \"root\" must be a new user's name"}},
		{name: "odd user", set: map[string]interface{}{"ssh_username": "a b"}, want: []string{"ssh_username \"a b\""}},
		{name: "communicator", set: map[string]interface{}{"communicator": "winrm"}, want: []string{"communicator \"winrm\" is not supported"}},
		{name: "skip_generalize", set: map[string]interface{}{"skip_generalize": []string{"everything"}}, want: []string{"skip_generalize: unknown rule \"everything\"", "network-config"}},
		{name: "exclude", set: map[string]interface{}{"exclude": []string{"var/log"}}, want: []string{"exclude \"var/log\" must be an absolute image path"}},
		{name: "include", set: map[string]interface{}{"include": []map[string]interface{}{{"source": missing, "destination": "/curtin/curtin-hooks"}}}, want: []string{"include 1: source"}},
		{name: "clamp_mtime", set: map[string]interface{}{"clamp_mtime": "yesterday"}, want: []string{"clamp_mtime \"yesterday\""}},
		{name: "qemu_args", set: map[string]interface{}{"qemu_args": []string{"-device", ""}}, want: []string{"qemu_args holds an empty argument"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			settings := validSettings(t)
			for k, v := range tc.set {
				settings[k] = v
			}
			delete(settings, tc.unset)
			var c Config
			_, err := c.Prepare(settings)
			require.Error(t, err)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// TestPrepareLeavesFirmwareFilesToTheBuild checks that packer validate
// passes on a machine without OVMF (nothing in the search paths, explicit
// files that exist only on the build host), and that the build's first
// step then stops with the error that says what to install or set.
func TestPrepareLeavesFirmwareFilesToTheBuild(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.fd")
	for _, tc := range []struct {
		name string
		set  map[string]interface{}
		want []string
	}{
		{"search finds nothing", nil, []string{"firmware: no UEFI firmware for amd64 guests found", "package ovmf", "set firmware_code and firmware_vars"}},
		{"explicit files missing", map[string]interface{}{"firmware_code": missing, "firmware_vars": missing}, []string{"firmware: firmware_code:", "missing.fd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			settings := validSettings(t)
			for k, v := range tc.set {
				settings[k] = v
			}
			c := Config{firmwareRoot: t.TempDir()}
			_, err := c.Prepare(settings)
			require.NoError(t, err, "validate must not look for firmware files")

			var ui bytes.Buffer
			state := new(multistep.BasicStateBag)
			state.Put("ui", &packersdk.BasicUi{Reader: strings.NewReader(""), Writer: &ui, ErrorWriter: &ui})
			assert.Equal(t, multistep.ActionHalt, firmwareStep(t, &c).Run(context.Background(), state))
			for _, want := range tc.want {
				assert.ErrorContains(t, state.Get("error").(error), want)
			}
		})
	}
}

// firmwareStep is the firmware step for the settings c.
func firmwareStep(t *testing.T, c *Config) *stepFindFirmware {
	var b Builder
	b.config = *c
	steps, err := b.steps(newPhases(time.Now), qemuDriver{})
	require.NoError(t, err)
	return steps[0].(*stepFindFirmware)
}

// TestFindFirmwareStep checks the step hands the firmware found to the
// QEMU step.
func TestFindFirmwareStep(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_VARS_4M.fd"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, f), []byte(f), 0o644))
	}
	c := Config{firmwareRoot: root}
	_, err := c.Prepare(validSettings(t))
	require.NoError(t, err)
	state := new(multistep.BasicStateBag)
	require.Equal(t, multistep.ActionContinue, firmwareStep(t, &c).Run(context.Background(), state))
	assert.Equal(t, qemu.Firmware{Kind: qemu.FirmwareUEFI, Code: filepath.Join(root, "usr/share/OVMF/OVMF_CODE_4M.fd"),
		VarsTemplate: filepath.Join(root, "usr/share/OVMF/OVMF_VARS_4M.fd")}, getFirmware(state))
}

// TestPrepareReportsAllMistakes checks that packer validate lists every
// mistake at once rather than one per run.
func TestPrepareReportsAllMistakes(t *testing.T) {
	settings := validSettings(t)
	settings["cpus"] = -1
	settings["architecture"] = "mips"
	settings["output_format"] = "iso"
	var c Config
	_, err := c.Prepare(settings)
	require.Error(t, err)
	for _, want := range []string{"cpus -1", "architecture \"mips\"", "output_format \"iso\""} {
		assert.Contains(t, err.Error(), want)
	}
}

// TestPrepareRefusesOutputsThatLoseTheInput: output_directory is deleted
// with -force and on failure, so a local image_url inside it, however
// spelled, would be lost; output_filename "." or ".." is a directory.
func TestPrepareRefusesOutputsThatLoseTheInput(t *testing.T) {
	settings := validSettings(t)
	image := settings["image_url"].(string)
	dir := filepath.Dir(image)
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(dir, link))
	for name, set := range map[string]map[string]interface{}{
		"same directory":          {"output_directory": dir},
		"through a symlink":       {"output_directory": link},
		"file URL, parent dir":    {"output_directory": filepath.Dir(dir), "image_url": "file://" + image},
		"output_filename dot":     {"output_directory": t.TempDir(), "output_filename": "."},
		"output_filename dot dot": {"output_directory": t.TempDir(), "output_filename": ".."},
	} {
		t.Run(name, func(t *testing.T) {
			s := validSettings(t)
			s["image_url"] = image
			for k, v := range set {
				s[k] = v
			}
			var c Config
			_, err := c.Prepare(s)
			require.Error(t, err)
			if _, ok := set["output_filename"]; ok {
				assert.Contains(t, err.Error(), "output_filename")
			} else {
				assert.Contains(t, err.Error(), "is inside output_directory")
			}
		})
	}
	var c Config
	settings["output_directory"] = t.TempDir()
	_, err := c.Prepare(settings)
	require.NoError(t, err, "an image outside output_directory is fine")
}

// TestPrepareTakesBothArchitectureForms: the bare form and the MAAS form
// maas-export and maas-upload take both pass validate; QEMU gets the bare
// architecture and the artifact the MAAS form.
func TestPrepareTakesBothArchitectureForms(t *testing.T) {
	for _, tc := range []struct{ setting, machine, recorded string }{
		{"amd64", "amd64", "amd64/generic"},
		{"amd64/generic", "amd64", "amd64/generic"},
		{"arm64/generic", "arm64", "arm64/generic"},
		{"arm64", "arm64", "arm64/generic"},
	} {
		t.Run(tc.setting, func(t *testing.T) {
			settings := validSettings(t)
			settings["architecture"] = tc.setting
			var c Config
			_, err := c.Prepare(settings)
			require.NoError(t, err)
			assert.Equal(t, tc.machine, c.machine())
			assert.Equal(t, tc.recorded, maasartifact.Architecture(newStepExport(&c, nil).arch, ""))
		})
	}
}
