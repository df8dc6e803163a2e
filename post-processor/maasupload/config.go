//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc mapstructure-to-hcl2 -type Config
//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

package maasupload

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
)

// Config is the maas-upload post-processor's configuration.
type Config struct {
	common.PackerConfig `mapstructure:",squash"`

	// The MAAS URL, e.g. `http://maas.example:5240/MAAS`. Defaults to the
	// `MAAS_URL` environment variable.
	MAASURL string `mapstructure:"maas_url" required:"true"`
	// The MAAS API key, `CONSUMER_KEY:TOKEN_KEY:TOKEN_SECRET` as printed by
	// `maas apikey --username USER`. Defaults to the `MAAS_API_KEY`
	// environment variable. Never logged.
	APIKey string `mapstructure:"api_key" required:"true"`
	// The image name in MAAS: `custom/NAME` (or a plain `NAME`), or
	// `OS/NAME` for an OS MAAS knows (`rhel/9-hardened`). Names of
	// operating systems, of synced Ubuntu series and `centosNN` are reserved.
	// (Not `name`: Packer keeps that for the post-processor block's own name.)
	ImageName string `mapstructure:"image_name" required:"true"`
	// A title shown in the MAAS UI.
	Title string `mapstructure:"title"`
	// The MAAS architecture, `ARCH/SUBARCH` such as `amd64/generic` or
	// `arm64/generic`, or a bare `ARCH` as maas-rootfs takes it, which is
	// uploaded as `ARCH/generic`. Defaults to what the incoming artifact
	// records, else `amd64/generic`.
	Architecture string `mapstructure:"architecture"`
	// The image's base, `OS/SERIES` with a Linux OS (`ubuntu/noble`,
	// `rhel/9`); an Ubuntu series is a codename, not a version. MAAS uses it
	// to choose the kernel and deploy path of a custom image. Defaults to
	// what the incoming artifact records; without one MAAS keeps the
	// resource's earlier base image, else uses its commissioning series.
	BaseImage string `mapstructure:"base_image"`
	// The MAAS filetype of the file: `tgz`, `tbz`, `txz`, `ddtgz`, `ddtbz`,
	// `ddtxz`, `ddtar`, `ddbz2`, `ddgz`, `ddxz` or `ddraw`. Defaults to what
	// the incoming artifact records (maas-rootfs and maas-export do).
	Filetype string `mapstructure:"filetype"`
	// Upload this file instead of the incoming artifact's.
	ImagePath string `mapstructure:"image_path"`
	// Bytes sent per upload request. Defaults to 4194304 (4 MiB, as the MAAS
	// CLI); at most 8388608 (8 MiB) because the nginx in front of MAAS
	// refuses request bodies over 10 MiB.
	ChunkSize int64 `mapstructure:"chunk_size"`
	// Keep the older versions of an image with the same name and
	// architecture. By default MAAS drops their files when this upload
	// creates its new version, before any byte is sent: if the upload then
	// fails, the image has no usable version until the next one succeeds.
	KeepOld bool `mapstructure:"keep_old"`
	// Time limit of each HTTP request, e.g. `5m` (the default).
	Timeout time.Duration `mapstructure:"timeout"`
	// Attempts per request before the upload fails, the first one included
	// (1: no retry); network errors and 5xx answers are retried with
	// backoff (1 s doubling to 30 s). Defaults to 5.
	Attempts int `mapstructure:"attempts"`
	// A PEM file of CA certificates to trust for an `https` MAAS URL.
	CACert string `mapstructure:"ca_cert"`
	// Skip TLS certificate verification. Only for test installations.
	InsecureSkipTLSVerify bool `mapstructure:"insecure_skip_tls_verify"`
	// After the upload (through either API), wait until MAAS reports the
	// file complete: on MAAS 3.4 and later, every region controller holds
	// it (the upload lands on one, the others copy it afterwards). The
	// build shows how many regions hold it meanwhile. At most
	// `wait_timeout`.
	WaitComplete bool `mapstructure:"wait_complete"`
	// How long `wait_complete` waits, e.g. `30m` (the default).
	WaitTimeout time.Duration `mapstructure:"wait_timeout"`
	// A MAAS user name. With `password`, and a MAAS offering API 3, the file
	// is uploaded in one streamed request to `/MAAS/a/v3/custom_images`;
	// otherwise (or on an older MAAS) through API 2.0 in chunks.
	Username string `mapstructure:"username"`
	// The password of `username`. Never logged.
	Password string `mapstructure:"password"`

	ctx interpolate.Context
	// urlSetting and keySetting name where maas_url and api_key came
	// from, for messages.
	urlSetting, keySetting string
}

func (c *Config) prepare(raws ...interface{}) error {
	err := config.Decode(c, &config.DecodeOpts{
		PluginType:         "maas-upload",
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	c.setDefaults()
	packersdk.LogSecretFilter.Set(secrets(c.APIKey, c.Password)...)
	return c.validate()
}

func (c *Config) setDefaults() {
	c.urlSetting, c.keySetting = "maas_url", "api_key"
	if c.MAASURL == "" {
		c.MAASURL, c.urlSetting = os.Getenv("MAAS_URL"), "MAAS_URL"
	}
	if c.APIKey == "" {
		c.APIKey, c.keySetting = os.Getenv("MAAS_API_KEY"), "MAAS_API_KEY"
	}
	// A key pasted or read from a file often ends in a newline.
	c.MAASURL, c.APIKey = strings.TrimSpace(c.MAASURL), strings.TrimSpace(c.APIKey)
	if c.ChunkSize == 0 {
		c.ChunkSize = maas.DefaultChunkSize
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Attempts == 0 {
		c.Attempts = 5
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = 30 * time.Minute
	}
}

// secrets lists what the log filter must hide: the whole key, and its
// token secret on its own.
func secrets(apiKey, password string) []string {
	var out []string
	for _, s := range append(strings.Split(apiKey, ":"), apiKey, password) {
		if len(s) >= 6 { // short strings would blank unrelated log text
			out = append(out, s)
		}
	}
	return out
}

func (c *Config) validate() error {
	var errs *packersdk.MultiError
	add := func(err error) {
		if err != nil {
			errs = packersdk.MultiErrorAppend(errs, err)
		}
	}
	if c.MAASURL == "" {
		add(errors.New("maas_url is required (or set MAAS_URL), e.g. http://maas.example:5240/MAAS"))
	} else {
		add(fromEnvironment(c.urlSetting, maas.ValidateURL(c.MAASURL)))
	}
	if c.APIKey == "" {
		add(errors.New("api_key is required (or set MAAS_API_KEY); get it with `maas apikey --username USER`"))
	} else {
		add(fromEnvironment(c.keySetting, maas.ValidateAPIKey(c.APIKey)))
	}
	add(maas.ValidateName(c.ImageName))
	if c.Architecture != "" {
		add(maas.ValidateArchitecture(c.Architecture))
	}
	if c.BaseImage != "" {
		add(maas.ValidateBaseImage(c.BaseImage))
	}
	if c.Filetype != "" {
		add(maas.ValidateFiletype(maas.Filetype(c.Filetype)))
	}
	add(maas.ValidateChunkSize(c.ChunkSize))
	if c.ImagePath != "" {
		if info, err := os.Stat(c.ImagePath); err == nil && !info.Mode().IsRegular() {
			add(fmt.Errorf("image_path %s is not a regular file", c.ImagePath))
		}
	}
	if c.Timeout < 0 || c.WaitTimeout < 0 {
		add(errors.New("timeout and wait_timeout must not be negative"))
	}
	if c.Attempts < 0 {
		add(fmt.Errorf("attempts %d must be at least 1 (tries per request, the first one included)", c.Attempts))
	}
	if (c.Username == "") != (c.Password == "") {
		add(errors.New("username and password go together: set both to use MAAS API 3, or neither"))
	}
	if c.CACert != "" {
		_, err := c.tlsConfig()
		add(err)
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// fromEnvironment names the environment variable a bad value came from.
func fromEnvironment(setting string, err error) error {
	if err == nil || !strings.HasPrefix(setting, "MAAS_") {
		return err
	}
	return fmt.Errorf("%s (used as %s is not set): %w", setting, map[string]string{"MAAS_URL": "maas_url", "MAAS_API_KEY": "api_key"}[setting], err)
}

// tlsConfig builds the TLS settings, or nil for Go's defaults.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.CACert == "" && !c.InsecureSkipTLSVerify {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: c.InsecureSkipTLSVerify} //nolint:gosec // the user asked for it
	if c.CACert != "" {
		pem, err := os.ReadFile(c.CACert)
		if err != nil {
			return nil, fmt.Errorf("ca_cert: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_cert %s holds no PEM certificate", c.CACert)
		}
	}
	return cfg, nil
}
