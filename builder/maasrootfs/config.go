//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

package maasrootfs

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/common"
	"github.com/hashicorp/packer-plugin-sdk/communicator"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/c34478be/packer-plugin-maas/internal/cloudinit"
	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/exportcfg"
	"github.com/c34478be/packer-plugin-maas/internal/generalize"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/pathid"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

// Config is the maas-rootfs builder's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	Comm                communicator.Config `mapstructure:",squash"`
	exportcfg.Tarball   `mapstructure:",squash"`
	exportcfg.Outputs   `mapstructure:",squash"`

	// The cloud image to start from, qcow2 or raw: a URL or a local path.
	// It is downloaded once into Packer's cache (`PACKER_CACHE_DIR`) and
	// never modified; the VM writes to an overlay on it.
	ImageURL string `mapstructure:"image_url"`
	// Mirrors of the cloud image, tried in order, instead of `image_url`.
	ImageURLs []string `mapstructure:"image_urls"`
	// The image's checksum, as the qemu builder's `iso_checksum` takes it:
	// `sha256:<hex>` (also md5, sha1, sha512), `file:<URL or path of a
	// SHA256SUMS file>`, or a bare URL of such a file. Required: write
	// `none` to skip the check.
	ImageChecksum string `mapstructure:"image_checksum" required:"true"`
	// Grow the VM's disk to this size, like `8G` or `20480M` (a bare number
	// is MiB). cloud-init grows the root filesystem into it at first boot.
	// Defaults to the cloud image's own size.
	DiskSize string `mapstructure:"disk_size"`
	// Virtual CPUs of the build VM. Defaults to 2.
	CPUs int `mapstructure:"cpus"`
	// Memory of the build VM in MiB. Defaults to 2048.
	Memory int `mapstructure:"memory"`
	// The image's architecture: `amd64` (default) or `arm64`
	// (qemu-system-aarch64, `virt` machine, AAVMF firmware; emulated with
	// TCG on x86 hosts), bare or in the MAAS form `ARCH/SUBARCH` that
	// maas-export and maas-upload take (`amd64/generic`). The artifact
	// records the MAAS form: `amd64` is stored as `amd64/generic`.
	Architecture string `mapstructure:"architecture"`
	// QEMU's accelerator: `auto` (default: KVM when it really works, HVF on
	// macOS, else TCG), `kvm`, `tcg` or `hvf`. The build says which one it
	// uses; TCG emulates the CPU and is about ten times slower.
	Accelerator string `mapstructure:"accelerator"`
	// `uefi` (default) or `bios`.
	Firmware string `mapstructure:"firmware"`
	// The UEFI firmware code image, instead of the one found in the
	// usual OVMF/AAVMF places of Debian, Ubuntu and Fedora. The firmware
	// is looked for when the build starts, on the machine that runs QEMU,
	// not by `packer validate`.
	FirmwareCode string `mapstructure:"firmware_code"`
	// The pristine UEFI variable store matching `firmware_code`; each
	// build writes to its own copy.
	FirmwareVars string `mapstructure:"firmware_vars"`
	// The QEMU emulator to run. Defaults to `qemu-system-x86_64` for amd64
	// and `qemu-system-aarch64` for arm64, found in `PATH`.
	QemuBinary string `mapstructure:"qemu_binary"`
	// Extra QEMU arguments, like `["-device", "virtio-balloon-pci"]`. They
	// are added after the builder's own and never replace them.
	QemuArgs []string `mapstructure:"qemu_args"`
	// More cloud-config for the build VM (e.g. an apt mirror), merged into
	// the seed's: lists append and the build user's settings stay. Setting
	// `ssh_genkeytypes`, `ssh` or `grub_dpkg` replaces the builder's
	// defaults for them (an ed25519 host key only, no fingerprints on the
	// console, GRUB's debconf install device left alone).
	UserData string `mapstructure:"user_data"`
	// HTTP proxy for the guest, written to `/etc/environment` and apt's
	// configuration during the build and removed before the export.
	HTTPProxy string `mapstructure:"http_proxy"`
	// HTTPS proxy for the guest, handled as `http_proxy`.
	HTTPSProxy string `mapstructure:"https_proxy"`
	// Hosts the guest reaches without the proxy, comma-separated.
	NoProxy string `mapstructure:"no_proxy"`
	// Where the image file, the serial console log and the build's
	// temporary files go. Defaults to `output-<build name>`; it must not
	// exist yet unless Packer runs with `-force`, and must not hold a
	// local `image_url`: the build deletes it with `-force` and on failure.
	OutputDirectory string `mapstructure:"output_directory"`
	// The image file's name in `output_directory`. Defaults to
	// `<build name>.tar.gz`, `.dd.gz` or `.qcow2` for the output format.
	OutputFilename string `mapstructure:"output_filename"`
	// What to write: `tgz` (default), the root filesystem as the tarball
	// curtin extracts; `ddgz`, the whole disk gzipped; or `qcow2`, the
	// generalized disk itself, for a later `maas-export` or other tools.
	OutputFormat string `mapstructure:"output_format"`
	// The gzip level, 1 (fastest) to 9 (smallest). Defaults to 6: within a
	// few percent of 9 in size at a fraction of the time.
	CompressionLevel int `mapstructure:"compression_level"`
	// Write `<image>.changes` next to a `tgz` or `ddgz` image: what the
	// build changed in the packages of the cloud image, one tab-separated
	// line per package (`added NAME VERSION`, `removed NAME VERSION`,
	// `upgraded NAME OLD NEW` or `downgraded NAME OLD NEW`), and print
	// their count with the first few names. The cloud image's packages
	// are read before boot, as data, from its database (dpkg, rpm or
	// apk); when they cannot be (a `ddgz` build whose root is not found),
	// the build says so and writes no change list. Defaults to `true`.
	ChangesFile *bool `mapstructure:"changes_file"`
	// The root partition for a `tgz` export, by number (`"1"`) or by GPT
	// partition name or filesystem label, or an LVM logical volume by its
	// `VG/LV` name. By default it is found, as `maas-export` does.
	RootPartition string `mapstructure:"root_partition"`
	// Remove the cloud image's kernel packages at generalize, so that MAAS
	// installs its own on deploy (what packer-maas does for Ubuntu). For
	// dpkg-based images (Debian, Ubuntu) only: MAAS installs a kernel only
	// into those, and a RHEL-family (Rocky, AlmaLinux, CentOS, Oracle
	// Linux, Fedora) or SUSE image boots its own. `packer validate` refuses
	// it for an `image_url` whose file name names such a distribution; on
	// other images the build stops right after cloud-init, before the
	// provisioners, when the guest's `/etc/os-release` (or package
	// manager) says another family or it has no `dpkg-query`. Not with
	// `output_format = "ddgz"`: MAAS installs no kernel into a dd image.
	RemoveKernel bool `mapstructure:"remove_kernel"`
	// How long the guest may take to power off after `shutdown -P now`
	// (and then after an ACPI power-down) before QEMU is stopped hard.
	// Defaults to `3m`.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`

	ctx interpolate.Context
	// firmwareRoot is where the build looks for the usual firmware paths:
	// "/" unless a test lays out its own.
	firmwareRoot string
	// diskSize is DiskSize in bytes; 0 keeps the image's size.
	diskSize int64
}

// Defaults of the settings.
const (
	defaultUser            = "packer-maas"
	defaultCPUs            = 2
	defaultMemoryMiB       = 2048
	defaultShutdownTimeout = 3 * time.Minute
	formatQcow2            = "qcow2"
	maxCPUs                = 256
	minMemoryMiB           = 256
	maxMemoryMiB           = 1 << 20
)

// ruleAptClean is the older name of generalize.RulePackageCache, which the
// builder applies in the guest only, in addition to exportcfg.TarRules
// (which it applies in the guest and in the tarball).
const ruleAptClean = "apt-clean"

var knownRules = append(append([]string{}, exportcfg.TarRules...), generalize.RulePackageCache, ruleAptClean)

// Prepare decodes the settings, fills in defaults and reports every
// mistake at once, before anything is downloaded or booted.
func (c *Config) Prepare(raws ...interface{}) ([]string, error) {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         "maas-rootfs",
		Interpolate:        true,
		InterpolateContext: &c.ctx,
		InterpolateFilter:  &interpolate.RenderFilter{Exclude: []string{}},
	}, raws...)
	if err != nil {
		return nil, err
	}
	c.setDefaults()

	var errs *packersdk.MultiError
	add := func(err error) {
		if err != nil {
			errs = packersdk.MultiErrorAppend(errs, err)
		}
	}
	var warnings []string
	if c.ImageChecksum == "none" {
		warnings = append(warnings, "image_checksum is \"none\": the cloud image is used without checking it")
	}
	add(c.validateFirmware())
	for _, list := range [][]error{c.validateImage(), c.validateMachine(), c.validateOutput(), c.validateOutputPlace(),
		c.validateGuest(), c.validateComm(), c.Tarball.Validate(knownRules)} {
		for _, err := range list {
			add(err)
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return warnings, errs
	}
	packersdk.LogSecretFilter.Set(c.HTTPProxy, c.HTTPSProxy)
	return warnings, nil
}

func (c *Config) setDefaults() {
	if c.ImageURL != "" {
		c.ImageURLs = append([]string{c.ImageURL}, c.ImageURLs...)
	}
	if c.CPUs == 0 {
		c.CPUs = defaultCPUs
	}
	if c.Memory == 0 {
		c.Memory = defaultMemoryMiB
	}
	if c.Architecture == "" {
		c.Architecture = "amd64"
	}
	if c.Accelerator == "" {
		c.Accelerator = "auto"
	}
	if c.Firmware == "" {
		c.Firmware = qemu.FirmwareUEFI
	}
	if c.OutputFormat == "" {
		c.OutputFormat = string(export.FiletypeTGZ)
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = tarball.DefaultCompressionLevel
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	name := c.PackerBuildName
	if name == "" {
		name = "maas-rootfs"
	}
	if c.OutputDirectory == "" {
		c.OutputDirectory = "output-" + name
	}
	if c.OutputFilename == "" {
		c.OutputFilename = name + outputExtension(c.OutputFormat)
	}
	if c.Comm.Type == "" {
		c.Comm.Type = "ssh"
	}
	if c.Comm.SSHTimeout == 0 {
		// Under TCG a cloud image takes 1-3 minutes to offer SSH on a
		// busy 2-core machine; the SDK's 5 minutes leave too little room.
		c.Comm.SSHTimeout = 10 * time.Minute
	}
	if c.Comm.SSHUsername == "" {
		c.Comm.SSHUsername = defaultUser
	}
}

func outputExtension(format string) string {
	switch format {
	case string(export.FiletypeDDGZ):
		return ".dd.gz"
	case formatQcow2:
		return ".qcow2"
	}
	return ".tar.gz"
}

// checksumForm is what StepDownload takes: type:hex, or a checksum file.
var checksumForm = regexp.MustCompile(`^(md5:[0-9a-fA-F]{32}|sha1:[0-9a-fA-F]{40}|sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128})$`)

func (c *Config) validateImage() []error {
	var errs []error
	switch {
	case len(c.ImageURLs) == 0:
		errs = append(errs, errors.New("image_url is required: the cloud image to start from, a URL or a local path"))
	case c.ImageURL != "" && len(c.ImageURLs) > 1:
		errs = append(errs, errors.New("set image_url or image_urls, not both"))
	}
	cs := c.ImageChecksum
	switch {
	case cs == "":
		errs = append(errs, errors.New("image_checksum is required: \"sha256:<hex>\", \"file:<URL of a SHA256SUMS file>\", or \"none\" to skip the check"))
	case cs == "none", checksumForm.MatchString(cs):
	case strings.HasPrefix(cs, "file:"), strings.HasPrefix(cs, "http://"), strings.HasPrefix(cs, "https://"):
	default:
		errs = append(errs, fmt.Errorf("image_checksum %q is not a checksum: use \"sha256:<64 hex digits>\" (or md5/sha1/sha512), \"file:<URL of a checksum file>\" or \"none\"", cs))
	}
	if c.DiskSize != "" {
		size, err := parseDiskSize(c.DiskSize)
		if err != nil {
			errs = append(errs, err)
		}
		c.diskSize = size
	}
	return errs
}

var diskSizeForm = regexp.MustCompile(`^([0-9]+)\s*([KMGT]?)(I?B)?$`)

// parseDiskSize reads sizes as QEMU's tools write them; a bare number is
// MiB, as the qemu builder takes it.
func parseDiskSize(s string) (int64, error) {
	m := diskSizeForm.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("disk_size %q is not a size: use a number with K, M, G or T, like \"8G\" (a bare number is MiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 20, "K": 10, "M": 20, "G": 30, "T": 40}[m[2]]
	if err != nil || n == 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("disk_size %q is out of range", s)
	}
	return n << shift, nil
}

// changesFile tells whether the build compares the image's packages
// with the cloud image's: for a MAAS image file, unless turned off.
func (c *Config) changesFile() bool {
	return c.OutputFormat != formatQcow2 && (c.ChangesFile == nil || *c.ChangesFile)
}

// machine is the architecture QEMU emulates: the setting without its
// MAAS subarchitecture.
func (c *Config) machine() string {
	base, _, _ := strings.Cut(c.Architecture, "/")
	return base
}

func (c *Config) validateMachine() []error {
	var errs []error
	if err := maas.ValidateArchitecture(c.Architecture); err != nil {
		errs = append(errs, err)
	} else if m := c.machine(); m != "amd64" && m != "arm64" {
		errs = append(errs, fmt.Errorf("architecture %q is not supported: use \"amd64\" or \"arm64\" (or amd64/generic, arm64/generic)", c.Architecture))
	}
	switch c.Accelerator {
	case "auto", string(qemu.AccelKVM), string(qemu.AccelTCG), string(qemu.AccelHVF):
	default:
		errs = append(errs, fmt.Errorf("accelerator %q is unknown: use \"auto\", \"kvm\", \"tcg\" or \"hvf\"", c.Accelerator))
	}
	if c.CPUs < 1 || c.CPUs > maxCPUs {
		errs = append(errs, fmt.Errorf("cpus %d is out of range: use 1 to %d", c.CPUs, maxCPUs))
	}
	if c.Memory < minMemoryMiB || c.Memory > maxMemoryMiB {
		errs = append(errs, fmt.Errorf("memory %d MiB is out of range: use %d to %d", c.Memory, minMemoryMiB, maxMemoryMiB))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("shutdown_timeout %s is negative: use a duration like \"3m\"", c.ShutdownTimeout))
	}
	for _, arg := range c.QemuArgs {
		if arg == "" {
			errs = append(errs, errors.New("qemu_args holds an empty argument"))
			break
		}
	}
	return errs
}

// validateFirmware checks what the settings alone decide. The firmware
// files are looked up by the build (stepFindFirmware), on the machine that
// runs QEMU: packer validate also runs where no OVMF is installed (a CI
// lint job, a laptop checking a template for a build host).
func (c *Config) validateFirmware() error {
	if c.Firmware != qemu.FirmwareUEFI && c.Firmware != qemu.FirmwareBIOS {
		return fmt.Errorf("firmware %q is unknown: use \"uefi\" or \"bios\"", c.Firmware)
	}
	if c.Firmware == qemu.FirmwareBIOS && (c.FirmwareCode != "" || c.FirmwareVars != "") {
		return errors.New("firmware_code and firmware_vars are UEFI files: remove them or use firmware = \"uefi\"")
	}
	if c.Firmware == qemu.FirmwareBIOS && c.machine() == "arm64" {
		return errors.New("firmware \"bios\" exists only for amd64 guests: use firmware = \"uefi\" for arm64")
	}
	return nil
}

func (c *Config) validateOutput() []error {
	var errs []error
	switch c.OutputFormat {
	case string(export.FiletypeTGZ):
	case string(export.FiletypeDDGZ), formatQcow2:
		if set := c.diskOnlyRefused(); len(set) > 0 {
			errs = append(errs, fmt.Errorf("%s apply to output_format = \"tgz\" only; a %s output is the whole disk as it is: remove them or use \"tgz\"",
				strings.Join(set, ", "), c.OutputFormat))
		}
	default:
		errs = append(errs, fmt.Errorf("output_format %q is unknown: use \"tgz\", \"ddgz\" or \"qcow2\"", c.OutputFormat))
	}
	// MAAS writes a dd image as it is and installs no kernel into it.
	if c.RemoveKernel && c.OutputFormat == string(export.FiletypeDDGZ) {
		errs = append(errs, fmt.Errorf("remove_kernel with output_format = \"ddgz\" makes a disk that cannot boot: MAAS deploys a dd image as it is and installs no kernel into it; remove remove_kernel or use \"tgz\""))
	}
	if c.RemoveKernel {
		errs = append(errs, c.imageKeepsItsKernel()...)
	}
	if err := tarball.CheckCompressionLevel(c.CompressionLevel); err != nil {
		errs = append(errs, err)
	}
	if c.OutputFilename != filepath.Base(c.OutputFilename) {
		errs = append(errs, fmt.Errorf("output_filename %q must be a file name; put directories in output_directory", c.OutputFilename))
	}
	return errs
}

// imageKeepsItsKernel refuses remove_kernel for an image whose file name
// says a family MAAS installs no kernel into; the guest checks the others
// (stepCheckGuest, and the generalize script before it removes anything).
func (c *Config) imageKeepsItsKernel() []error {
	var errs []error
	for _, u := range c.ImageURLs {
		if distro := generalize.KernelKeepingDistro(u); distro != "" {
			errs = append(errs, fmt.Errorf("remove_kernel cannot be used with image_url %s, a %s image by its file name: MAAS installs its own kernel on deploy only into Debian-family (Ubuntu) images, and a %s image cannot boot without its own; remove remove_kernel",
				u, distro, distro))
		}
	}
	return errs
}

// validateOutputPlace refuses an output that would lose the input or
// cannot be a file: a local image_url inside output_directory, which the
// build deletes (with -force before it starts, and when it fails),
// compared by identity, not by spelling; and an output_filename of "." or
// "..".
func (c *Config) validateOutputPlace() []error {
	var errs []error
	for _, u := range c.ImageURLs {
		if p, ok := localPath(u); ok && pathid.Inside(p, c.OutputDirectory) {
			errs = append(errs, fmt.Errorf("image_url %s is inside output_directory %s, which the build deletes (with -force before it starts, and when it fails): move the image or choose another output_directory",
				u, c.OutputDirectory))
		}
	}
	if c.OutputFilename == "." || c.OutputFilename == ".." {
		errs = append(errs, fmt.Errorf("output_filename %q names a directory: give the image file's name", c.OutputFilename))
	}
	return errs
}

// localPath is the file an image URL names on this machine, if it does.
func localPath(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil || u.Scheme == "":
		return rawURL, true
	case u.Scheme == "file":
		return u.Path, true
	}
	return "", false
}

// diskOnlyRefused names the settings in use that only a tarball can
// honour. skip_generalize is not among them: its rules also run in the
// guest.
func (c *Config) diskOnlyRefused() []string {
	var set []string
	if c.RootPartition != "" {
		set = append(set, "root_partition")
	}
	for _, name := range c.Tarball.InUse() {
		if name != "skip_generalize" {
			set = append(set, name)
		}
	}
	return set
}

func (c *Config) validateGuest() []error {
	var errs []error
	for _, p := range []struct{ name, value string }{{"http_proxy", c.HTTPProxy}, {"https_proxy", c.HTTPSProxy}} {
		if p.value == "" {
			continue
		}
		u, err := url.Parse(p.value)
		if err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not a URL like \"http://proxy.example:3128\"", p.name, p.value))
		}
	}
	if strings.ContainsAny(c.NoProxy, " \n\"'") {
		errs = append(errs, fmt.Errorf("no_proxy %q must be a comma-separated list of hosts without spaces or quotes", c.NoProxy))
	}
	if extra, err := c.extraUserData(); err != nil {
		errs = append(errs, err)
	} else if err := checkUserData(c.Comm.SSHUsername, extra); err != nil {
		errs = append(errs, fmt.Errorf("user_data: %w", err))
	}
	return errs
}

// checkUserData builds the seed's user-data as the build will, with a
// throw-away key, so that user_data's mistakes show before anything boots.
func checkUserData(user string, extra []byte) error {
	_, authorizedKey, err := cloudinit.NewKeyPair()
	if err != nil {
		return err
	}
	_, err = cloudinit.BuildUserData(user, authorizedKey, extra)
	return err
}

var validUsername = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

func (c *Config) validateComm() []error {
	var errs []error
	if c.Comm.Type != "ssh" {
		errs = append(errs, fmt.Errorf("communicator %q is not supported: maas-rootfs connects over SSH", c.Comm.Type))
	}
	if c.Comm.SSHPassword != "" || c.Comm.SSHPrivateKeyFile != "" || c.Comm.SSHAgentAuth {
		errs = append(errs, errors.New("ssh_password, ssh_private_key_file and ssh_agent_auth are not used: the builder logs in with a key pair it makes for the build and removes afterwards; remove them"))
	}
	if !validUsername.MatchString(c.Comm.SSHUsername) || c.Comm.SSHUsername == "root" {
		errs = append(errs, fmt.Errorf("ssh_username %q must be a new user's name (lowercase letters, digits, _ and -, not root): cloud-init creates it for the build and the builder removes it", c.Comm.SSHUsername))
	}
	return append(errs, c.Comm.Prepare(&c.ctx)...)
}
