//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc mapstructure-to-hcl2 -type Config,IncludeFile
//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

package export

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/rootfs"
)

// Config is the maas-export post-processor's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The disk image (qcow2 or raw) to export instead of the incoming
	// artifact's. Without it, the artifact's disk image is used: the stock
	// `qemu` builder's, or the only file of any other builder.
	ImagePath string `mapstructure:"image_path"`
	// The MAAS image file to write. Defaults to the build's name next to
	// the input disk image: `<build name>.tar.gz` for `tgz`, `.dd.gz` for
	// `ddgz`. It appears only when the export succeeds.
	Output string `mapstructure:"output"`
	// What to write: `tgz` (default), the root filesystem as the tarball
	// curtin extracts, or `ddgz`, the whole disk gzipped, for layouts a
	// tarball cannot carry (LVM, xfs or btrfs roots, custom partitioning).
	// `root_partition`, `skip_generalize`, `exclude`, `include` and
	// `clamp_mtime` shape a tarball, so they are errors with `ddgz`.
	Filetype string `mapstructure:"filetype"`
	// The gzip level, 1 (fastest) to 9 (smallest). Defaults to 6: within a
	// few percent of 9 in size at a fraction of the time.
	CompressionLevel int `mapstructure:"compression_level"`
	// The root partition, by number (`"1"`) or by GPT partition name or
	// filesystem label. By default it is found: the Linux root partition
	// type for the architecture, then a partition labelled
	// `cloudimg-rootfs` or `root`, then the only ext4 partition holding
	// `/etc/os-release`. A separate `/boot` (XBOOTLDR, or named `bls_boot`)
	// is packed under `./boot/`; the EFI system partition is left out.
	RootPartition string `mapstructure:"root_partition"`
	// The MAAS architecture recorded for maas-upload, like `amd64/generic`.
	// Defaults to the architecture of the image's own programs.
	Architecture string `mapstructure:"architecture"`
	// Generalization rules to skip, from `machine-id` (empty
	// `/etc/machine-id`), `cloud-init-state` (drop
	// `/var/lib/cloud/instance(s)`), `cloud-init-logs` (drop
	// `/var/log/cloud-init*.log`) and `ssh-host-keys` (drop
	// `/etc/ssh/ssh_host_*`). All of them run by default, so that each
	// deployed machine starts fresh; the disk image itself is never changed.
	SkipGeneralize []string `mapstructure:"skip_generalize"`
	// Paths to leave out of the tarball, as globs on image paths:
	// `/var/cache/apt/*.bin`, `/root/.bash_history`; `**` matches any
	// number of directories. A matching directory goes with its contents.
	Exclude []string `mapstructure:"exclude"`
	// Host files to add to the tarball, e.g. curtin hooks. Each is an
	// `include { source = "hooks/curtin-hooks" destination = "/curtin/curtin-hooks" mode = "0750" }`
	// block.
	Include []IncludeFile `mapstructure:"include"`
	// Clamp modification times newer than this RFC 3339 time
	// (`2026-01-01T00:00:00Z`) to it, for reproducible tarballs.
	ClampMtime string `mapstructure:"clamp_mtime"`

	clampMtime *time.Time
	ctx        interpolate.Context
}

// IncludeFile is a host file added to the exported tarball.
type IncludeFile struct {
	// The host file.
	Source string `mapstructure:"source" required:"true"`
	// Its absolute path in the image, like `/curtin/curtin-hooks`.
	Destination string `mapstructure:"destination" required:"true"`
	// Octal permission bits, like `"0750"`. Defaults to the host file's.
	Mode string `mapstructure:"mode"`
	// Numeric owner in the image. Defaults to 0 (root).
	UID uint32 `mapstructure:"uid"`
	// Numeric group in the image. Defaults to 0 (root).
	GID uint32 `mapstructure:"gid"`
}

// Names of the generalization rules skip_generalize takes.
const (
	ruleMachineID      = "machine-id"
	ruleCloudInitState = "cloud-init-state"
	ruleCloudInitLogs  = "cloud-init-logs"
	ruleSSHHostKeys    = "ssh-host-keys"
)

func (c *Config) prepare(raws ...interface{}) error {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         "maas-export",
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	if c.Filetype == "" {
		c.Filetype = export.FiletypeTGZ
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = rootfs.DefaultCompressionLevel
	}
	return c.validate()
}

func (c *Config) validate() error {
	var errs *packersdk.MultiError
	add := func(err error) {
		if err != nil {
			errs = packersdk.MultiErrorAppend(errs, err)
		}
	}
	if c.Filetype != export.FiletypeTGZ && c.Filetype != export.FiletypeDDGZ {
		add(fmt.Errorf("filetype %q is not one maas-export writes: use \"tgz\" (the root filesystem) or \"ddgz\" (the whole disk)", c.Filetype))
	}
	if c.CompressionLevel < 1 || c.CompressionLevel > 9 {
		add(fmt.Errorf("compression_level %d is out of range: use 1 (fastest) to 9 (smallest)", c.CompressionLevel))
	}
	if c.ImagePath != "" {
		if info, err := os.Stat(c.ImagePath); err != nil {
			add(fmt.Errorf("image_path: %w", err))
		} else if !info.Mode().IsRegular() {
			add(fmt.Errorf("image_path %s is not a regular file", c.ImagePath))
		}
	}
	if c.Architecture != "" {
		add(maas.ValidateArchitecture(c.Architecture))
	}
	add(c.validateGeneralize())
	for _, g := range c.Exclude {
		add(validateExclude(g))
	}
	add(validateIncludes(c.Include))
	if c.ClampMtime != "" {
		if t, err := time.Parse(time.RFC3339, c.ClampMtime); err != nil {
			add(fmt.Errorf("clamp_mtime %q is not an RFC 3339 time like 2026-01-01T00:00:00Z", c.ClampMtime))
		} else {
			c.clampMtime = &t
		}
	}
	if c.Output != "" && c.ImagePath != "" && filepath.Clean(c.Output) == filepath.Clean(c.ImagePath) {
		add(fmt.Errorf("output %s is the disk image being exported (image_path): choose another file", c.Output))
	}
	if c.Filetype == export.FiletypeDDGZ {
		if set := c.tgzOnlySettings(); len(set) > 0 {
			add(fmt.Errorf("%s apply to tgz exports only; a ddgz export copies the whole disk as it is: remove them or use filetype = \"tgz\"",
				strings.Join(set, ", ")))
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

func (c *Config) validateGeneralize() error {
	for _, rule := range c.SkipGeneralize {
		switch rule {
		case ruleMachineID, ruleCloudInitState, ruleCloudInitLogs, ruleSSHHostKeys:
		default:
			return fmt.Errorf("skip_generalize: unknown rule %q; the rules are %s, %s, %s and %s",
				rule, ruleMachineID, ruleCloudInitState, ruleCloudInitLogs, ruleSSHHostKeys)
		}
	}
	return nil
}

// tgzOnlySettings names the settings in use that only a tgz export reads.
func (c *Config) tgzOnlySettings() []string {
	var set []string
	for _, s := range []struct {
		name  string
		inUse bool
	}{
		{"root_partition", c.RootPartition != ""},
		{"skip_generalize", len(c.SkipGeneralize) > 0},
		{"exclude", len(c.Exclude) > 0},
		{"include", len(c.Include) > 0},
		{"clamp_mtime", c.ClampMtime != ""},
	} {
		if s.inUse {
			set = append(set, s.name)
		}
	}
	return set
}

// validateExclude accepts what the tar writer's globs accept: an absolute
// path of non-empty segments, each a path.Match pattern or "**".
func validateExclude(glob string) error {
	if !path.IsAbs(glob) {
		return fmt.Errorf("exclude %q must be an absolute image path, like \"/var/cache/apt/*.bin\"", glob)
	}
	for _, segment := range strings.Split(strings.Trim(glob, "/"), "/") {
		if segment == "" {
			return fmt.Errorf("exclude %q has an empty path segment", glob)
		}
		if _, err := path.Match(segment, ""); err != nil {
			return fmt.Errorf("exclude %q: segment %q: %w", glob, segment, err)
		}
	}
	return nil
}

func validateIncludes(includes []IncludeFile) error {
	var errs *packersdk.MultiError
	seen := map[string]int{}
	for i, inc := range includes {
		if err := inc.validate(i); err != nil {
			errs = packersdk.MultiErrorAppend(errs, err)
			continue
		}
		if first, dup := seen[inc.Destination]; dup {
			errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("include %d: destination %s is already that of include %d", i+1, inc.Destination, first))
		}
		seen[inc.Destination] = i + 1
	}
	for dest, i := range seen {
		for dir := path.Dir(dest); dir != "/"; dir = path.Dir(dir) {
			if j, clash := seen[dir]; clash {
				errs = packersdk.MultiErrorAppend(errs, fmt.Errorf("include %d: destination %s lies below include %d's file %s", i, dest, j, dir))
			}
		}
	}
	if errs == nil {
		return nil
	}
	return errs
}

func (inc IncludeFile) validate(i int) error {
	where := fmt.Sprintf("include %d", i+1)
	if inc.Source == "" || inc.Destination == "" {
		return fmt.Errorf("%s: source and destination are both required", where)
	}
	if info, err := os.Stat(inc.Source); err != nil {
		return fmt.Errorf("%s: source: %w", where, err)
	} else if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: source %s is not a regular file", where, inc.Source)
	}
	if !path.IsAbs(inc.Destination) || path.Clean(inc.Destination) != inc.Destination || inc.Destination == "/" {
		return fmt.Errorf("%s: destination %q must be a clean absolute file path in the image, like /curtin/curtin-hooks", where, inc.Destination)
	}
	if _, err := inc.mode(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

func (inc IncludeFile) mode() (uint32, error) {
	if inc.Mode == "" {
		return 0, nil
	}
	m, err := strconv.ParseUint(inc.Mode, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("mode %q is not octal permission bits like \"0750\"", inc.Mode)
	}
	return uint32(m), nil
}

// tarOptions turns the settings into the tar writer's options.
func (c *Config) tarOptions() rootfs.Options {
	g := rootfs.DefaultGeneralize()
	for _, rule := range c.SkipGeneralize {
		switch rule {
		case ruleMachineID:
			g.EmptyMachineID = false
		case ruleCloudInitState:
			g.RemoveCloudInitState = false
		case ruleCloudInitLogs:
			g.RemoveCloudInitLogs = false
		case ruleSSHHostKeys:
			g.RemoveSSHHostKeys = false
		}
	}
	opts := rootfs.Options{Generalize: g, Exclude: c.Exclude, ClampMtime: c.clampMtime}
	for _, inc := range c.Include {
		mode, _ := inc.mode() // validated in prepare
		opts.Include = append(opts.Include, rootfs.Include{
			Source: inc.Source, Dest: inc.Destination, Mode: mode, UID: inc.UID, GID: inc.GID,
		})
	}
	return opts
}
