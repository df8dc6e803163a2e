//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

package maasexport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/c34478be/packer-plugin-maas/internal/export"
	"github.com/c34478be/packer-plugin-maas/internal/exportcfg"
	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/pathid"
	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

// Config is the maas-export post-processor's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The disk image (qcow2 or raw) to export instead of the incoming
	// artifact's. Without it, the artifact's disk image is used: the stock
	// `qemu` builder's, or the only file of any other builder. It may name
	// a file the build creates: it must exist when maas-export starts.
	ImagePath string `mapstructure:"image_path"`
	// The MAAS image file to write. Defaults to `<build name>.tar.gz` for
	// `tgz` (`.dd.gz` for `ddgz`) in the directory Packer runs in, not next
	// to the input disk image: Packer deletes the stock `qemu` builder's
	// whole output directory at the end of the build. An `output` ending in
	// `/`, or naming an existing directory, gets the default name in that
	// directory. The file appears only when the export succeeds.
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
	// filesystem label, or an LVM logical volume by its `VG/LV` name
	// (`"rl/root"`). By default it is found: the Linux root partition
	// type for the architecture, then a partition labelled
	// `cloudimg-rootfs` or `root`, then the only ext2/3/4 or XFS partition holding
	// `/etc/os-release`. The local filesystems the root's `/etc/fstab`
	// mounts (a separate `/boot`, `/var`, ...; see `boot_partition`) are
	// packed where they are mounted; the EFI system partition is left out.
	RootPartition string `mapstructure:"root_partition"`
	// The MAAS architecture recorded for maas-upload: `ARCH/SUBARCH` like
	// `amd64/generic`, or a bare `ARCH` as maas-rootfs takes it, recorded
	// as `ARCH/generic`. Defaults to the architecture of the image's own
	// programs.
	Architecture string `mapstructure:"architecture"`
	// Directories a qcow2 input's backing chain may reach besides the
	// input's own directory tree and Packer's cache directory
	// (`PACKER_CACHE_DIR`, where the stock `qemu` builder's
	// `use_backing_file = true` points its disk). A backing file anywhere
	// else, such as `/etc/shadow` or `../../etc/passwd` in a crafted image,
	// is refused with an error naming it, rather than copied into the
	// MAAS image. Each must be an existing directory.
	BackingFileDirs []string `mapstructure:"backing_file_dirs"`
	// The tarball settings maas-rootfs shares: skip_generalize, exclude,
	// include, clamp_mtime.
	exportcfg.Tarball `mapstructure:",squash"`
	// The files written next to the image: manifest, sbom, checksum_file.
	exportcfg.Outputs `mapstructure:",squash"`

	ctx interpolate.Context
}

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
		c.Filetype = string(export.FiletypeTGZ)
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = tarball.DefaultCompressionLevel
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
	if c.filetype() != export.FiletypeTGZ && c.filetype() != export.FiletypeDDGZ {
		add(fmt.Errorf("filetype %q is not one maas-export writes: use \"tgz\" (the root filesystem) or \"ddgz\" (the whole disk)", c.Filetype))
	}
	add(tarball.CheckCompressionLevel(c.CompressionLevel))
	if c.Architecture != "" {
		add(maas.ValidateArchitecture(c.Architecture))
	}
	for _, d := range c.BackingFileDirs {
		if info, err := os.Stat(d); err != nil {
			add(fmt.Errorf("backing_file_dirs: %w", err))
		} else if !info.IsDir() {
			add(fmt.Errorf("backing_file_dirs: %s is not a directory", d))
		}
	}
	for _, err := range c.Tarball.Validate(exportcfg.TarRules) {
		add(err)
	}
	for _, err := range c.validatePaths() {
		add(err)
	}
	if c.filetype() == export.FiletypeDDGZ {
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

// backingAllowed is where the input's backing chain may reach besides its
// own directory tree: Packer's cache directory, found as Packer's SDK finds
// it for the builders (PACKER_CACHE_DIR, else the user's cache directory),
// and backing_file_dirs.
func (c *Config) backingAllowed() []string {
	allowed := append([]string(nil), c.BackingFileDirs...)
	if cache, err := packersdk.CachePath(); err == nil {
		allowed = append(allowed, cache)
	}
	return allowed
}

// validatePaths checks image_path and output as far as they can be
// checked before the build: image_path may name a file the builder has
// yet to create, so only a path that cannot become a disk image is an
// error here; PostProcess checks the rest before it starts the export.
func (c *Config) validatePaths() []error {
	var errs []error
	if c.ImagePath != "" {
		if info, err := os.Stat(c.ImagePath); err == nil && !info.Mode().IsRegular() {
			errs = append(errs, fmt.Errorf("image_path %s is not a regular file: name the disk image itself", c.ImagePath))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("image_path: %w", err))
		}
	}
	if c.Output != "" {
		if err := checkOutputPath(c.Output, !outputIsDir(c.Output)); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ImagePath != "" && c.Output != "" && pathid.Same(c.Output, c.ImagePath) {
		errs = append(errs, fmt.Errorf("output %s is the disk image being exported (image_path %s): choose another file", c.Output, c.ImagePath))
	}
	return errs
}

// outputIsDir reports whether output names a directory to write the
// default file name into: it ends in a slash or is a directory.
func outputIsDir(output string) bool {
	if strings.HasSuffix(output, "/") {
		return true
	}
	info, err := os.Stat(output)
	return err == nil && info.IsDir()
}

// checkOutputPath refuses an output that cannot be written: one below a
// file, or, for a file (asFile), an existing file that is not a regular
// file. A missing output and missing directories are fine.
func checkOutputPath(output string, asFile bool) error {
	info, err := os.Stat(strings.TrimSuffix(output, "/"))
	if output == "/" {
		info, err = os.Stat(output)
	}
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("output %s: a directory in its path is a file: choose another path", output)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("output: %w", err)
	case err == nil && asFile && info.IsDir():
		return fmt.Errorf("output %s is a directory: name the file to write, or end output with / to write the default name into it", output)
	case err == nil && asFile && !info.Mode().IsRegular():
		return fmt.Errorf("output %s exists and is not a regular file: choose another path", output)
	case err == nil && !asFile && !info.IsDir():
		return fmt.Errorf("output %s ends in / but is a file: remove the / to replace the file, or choose a directory", output)
	}
	return nil
}

// tgzOnlySettings names the settings in use that only a tgz export reads.
func (c *Config) tgzOnlySettings() []string {
	set := c.Tarball.InUse()
	if c.RootPartition != "" {
		set = append([]string{"root_partition"}, set...)
	}
	return set
}

// filetype is the filetype setting as the MAAS filetype it names.
func (c *Config) filetype() maas.Filetype { return maas.Filetype(c.Filetype) }

// tarOptions turns the settings into the tar writer's options.
func (c *Config) tarOptions() tarball.Options { return c.Tarball.Options() }
