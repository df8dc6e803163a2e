//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

package maascurtinhook

import (
	"errors"
	"fmt"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
)

// Config is the maas-curtin-hook provisioner's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// Which built-in hook to install as `/curtin/curtin-hooks`: `auto`
	// (default) installs the `ubuntu` hook when `custom_kernel` is set on an
	// Ubuntu or Debian image and no hook otherwise (such images deploy
	// without one); `ubuntu` always installs it; `none` installs none.
	// Ignored when `source` is set.
	Hook string `mapstructure:"hook"`
	// Your own hook: a file, installed as `/curtin/curtin-hooks`, or a
	// directory whose files all go to `/curtin/` (its `curtin-hooks` is the
	// hook). Files arrive byte for byte, owned by root.
	Source string `mapstructure:"source"`
	// The kernel package deployed machines get instead of the one MAAS
	// picks, like `linux-image-lowlatency`: written to
	// `/curtin/CUSTOM_KERNEL`, where the `ubuntu` hook reads it.
	CustomKernel string `mapstructure:"custom_kernel"`
	// Also install `custom_kernel` in the image now (apt-get, dnf, yum or
	// zypper), unless it is installed already; otherwise curtin installs it
	// from the package mirror at deploy time.
	InstallKernel bool `mapstructure:"install_kernel"`
	// More files for `/curtin/`, as `{ "name" = "host path" }`. Files
	// executable on the host get mode 0750, others 0644.
	Files map[string]string `mapstructure:"files"`
	// Readiness checks to waive, from `cloud-init`, `netplan`,
	// `hook-executable`, `hook-interpreter`, `hook-compiles`,
	// `kernel-installed` and `kernel-kept`.
	SkipChecks []string `mapstructure:"skip_checks"`

	ctx interpolate.Context
}

func (c *Config) prepare(raws ...interface{}) error {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         "maas-curtin-hook",
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	if c.Hook == "" {
		c.Hook = curtinhook.HookAuto
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
	add(curtinhook.ValidateHook(c.Hook))
	if c.Source != "" {
		files, err := sourceFiles(c.Source)
		add(err)
		for _, f := range files {
			if _, dup := c.Files[f.name]; dup {
				add(fmt.Errorf("files: %q is in the source directory too: keep one", f.name))
			}
			if f.name == curtinhook.CustomKernelName && c.CustomKernel != "" {
				add(fmt.Errorf("the source directory has a %s and custom_kernel is set: keep one", f.name))
			}
		}
	}
	if c.CustomKernel != "" {
		add(curtinhook.ValidatePackageName(c.CustomKernel))
	} else if c.InstallKernel {
		add(errors.New("install_kernel needs custom_kernel: the kernel package to install"))
	}
	for _, name := range sortedKeys(c.Files) {
		if err := curtinhook.ValidateFileName(name, c.CustomKernel != ""); err != nil {
			add(err)
			continue
		}
		add(regularFile(fmt.Sprintf("files: %q", name), c.Files[name]))
	}
	add(curtinhook.ValidateSkipChecks(c.SkipChecks))
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}
