//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc mapstructure-to-hcl2 -type Tarball,IncludeFile,Outputs
//go:generate go run github.com/hashicorp/packer-plugin-sdk/cmd/packer-sdc struct-markdown

// Package exportcfg holds the tarball settings that the maas-export
// post-processor and the maas-rootfs builder share (skip_generalize,
// exclude, include, clamp_mtime, boot_partition), so both read, validate and apply them
// the same way. It returns plain errors and knows nothing of Packer beyond
// the mapstructure names the settings go by.
package exportcfg

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/tarball"
)

// Tarball is how a tgz export generalizes and adjusts the image's files.
type Tarball struct {
	// Generalization rules to skip, from `machine-id` (empty
	// `/etc/machine-id`), `cloud-init-state` (drop
	// `/var/lib/cloud/instance(s)`), `cloud-init-logs` (drop
	// `/var/log/cloud-init*.log`), `ssh-host-keys` (drop
	// `/etc/ssh/ssh_host_*`), `hostname` (empty `/etc/hostname`),
	// `login-records` (empty wtmp, btmp, lastlog, auth.log, secure),
	// `journal` (drop `/var/log/journal/*`), `random-seed` (drop
	// `/var/lib/systemd/random-seed`) and `network-config` (drop the
	// network configuration cloud-init wrote for the build VM). All of
	// them run by default, so that each deployed machine starts fresh.
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
	// The partition packed under `./boot`, by number (`"2"`), GPT
	// partition name or filesystem label, or `none` when `/boot` is part
	// of the root filesystem. By default the root's `/etc/fstab` decides,
	// then an XBOOTLDR partition; set it when fstab names a `/boot` the
	// disk does not have.
	BootPartition string `mapstructure:"boot_partition"`
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

// Names of the generalization rules the tar writer applies.
const (
	RuleMachineID      = "machine-id"
	RuleCloudInitState = "cloud-init-state"
	RuleCloudInitLogs  = "cloud-init-logs"
	RuleSSHHostKeys    = "ssh-host-keys"
	RuleHostname       = "hostname"
	RuleLoginRecords   = "login-records"
	RuleJournal        = "journal"
	RuleRandomSeed     = "random-seed"
	RuleNetworkConfig  = "network-config"
)

// TarRules are the rules every tgz export knows.
var TarRules = []string{RuleMachineID, RuleCloudInitState, RuleCloudInitLogs, RuleSSHHostKeys,
	RuleHostname, RuleLoginRecords, RuleJournal, RuleRandomSeed, RuleNetworkConfig}

// Validate checks every setting and returns one error per mistake.
// knownRules are the names skip_generalize accepts (TarRules, plus any
// rules the caller applies itself).
func (t *Tarball) Validate(knownRules []string) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(validateRules(t.SkipGeneralize, knownRules))
	for _, g := range t.Exclude {
		add(validateExclude(g))
	}
	errs = append(errs, validateIncludes(t.Include)...)
	if t.BootPartition != "" && strings.TrimSpace(t.BootPartition) != t.BootPartition {
		add(fmt.Errorf("boot_partition %q has blanks around it: give the partition's number, name or label, or \"none\"", t.BootPartition))
	}
	if t.ClampMtime != "" {
		if _, err := time.Parse(time.RFC3339, t.ClampMtime); err != nil {
			add(fmt.Errorf("clamp_mtime %q is not an RFC 3339 time like 2026-01-01T00:00:00Z", t.ClampMtime))
		}
	}
	return errs
}

// InUse names the settings that are set, for callers that must refuse
// them (a ddgz export copies the disk as it is).
func (t *Tarball) InUse() []string {
	var set []string
	if len(t.SkipGeneralize) > 0 {
		set = append(set, "skip_generalize")
	}
	if len(t.Exclude) > 0 {
		set = append(set, "exclude")
	}
	if len(t.Include) > 0 {
		set = append(set, "include")
	}
	if t.ClampMtime != "" {
		set = append(set, "clamp_mtime")
	}
	if t.BootPartition != "" {
		set = append(set, "boot_partition")
	}
	return set
}

// Skips reports whether skip_generalize names rule.
func (t *Tarball) Skips(rule string) bool {
	for _, r := range t.SkipGeneralize {
		if r == rule {
			return true
		}
	}
	return false
}

// Options turns validated settings into the tar writer's options.
func (t *Tarball) Options() tarball.Options {
	g := tarball.DefaultGeneralize()
	g.EmptyMachineID = !t.Skips(RuleMachineID)
	g.RemoveCloudInitState = !t.Skips(RuleCloudInitState)
	g.RemoveCloudInitLogs = !t.Skips(RuleCloudInitLogs)
	g.RemoveSSHHostKeys = !t.Skips(RuleSSHHostKeys)
	g.EmptyHostname = !t.Skips(RuleHostname)
	g.EmptyLoginRecords = !t.Skips(RuleLoginRecords)
	g.RemoveJournal = !t.Skips(RuleJournal)
	g.RemoveRandomSeed = !t.Skips(RuleRandomSeed)
	g.RemoveNetworkConfig = !t.Skips(RuleNetworkConfig)
	opts := tarball.Options{Generalize: g, Exclude: t.Exclude}
	if t.ClampMtime != "" {
		if clamp, err := time.Parse(time.RFC3339, t.ClampMtime); err == nil {
			opts.ClampMtime = &clamp
		}
	}
	for _, inc := range t.Include {
		mode, _ := inc.mode() // validated
		opts.Include = append(opts.Include, tarball.Include{
			Source: inc.Source, Dest: inc.Destination, Mode: mode, UID: inc.UID, GID: inc.GID,
		})
	}
	return opts
}

func validateRules(rules, known []string) error {
	for _, rule := range rules {
		found := false
		for _, k := range known {
			found = found || rule == k
		}
		if !found {
			return fmt.Errorf("skip_generalize: unknown rule %q; the rules are %s", rule, strings.Join(known, ", "))
		}
	}
	return nil
}

// validateExclude accepts what the tar writer's globs accept.
func validateExclude(glob string) error { return tarball.CheckExclude(glob) }

func validateIncludes(includes []IncludeFile) []error {
	var errs []error
	seen := map[string]int{}
	for i, inc := range includes {
		if err := inc.validate(i); err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := seen[inc.Destination]; dup {
			errs = append(errs, fmt.Errorf("include %d: destination %s is already that of include %d", i+1, inc.Destination, first))
			continue
		}
		seen[inc.Destination] = i + 1
	}
	for dest, i := range seen {
		for dir := path.Dir(dest); dir != "/"; dir = path.Dir(dir) {
			if j, clash := seen[dir]; clash {
				errs = append(errs, fmt.Errorf("include %d: destination %s lies below include %d's file %s", i, dest, j, dir))
			}
		}
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
	if err := tarball.CheckIncludeDestination(inc.Destination); err != nil {
		return fmt.Errorf("%s: %w", where, err)
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
