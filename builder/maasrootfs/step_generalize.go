package maasrootfs

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"

	"github.com/c34478be/packer-plugin-maas/internal/generalize"
	"github.com/c34478be/packer-plugin-maas/internal/guestcmd"
	"github.com/c34478be/packer-plugin-maas/internal/lines"
)

// generalizedMarker is the line the script prints just before it asks the
// guest to power off: the SSH session may end without an exit status
// after that, which is then no failure.
const generalizedMarker = generalize.Marker

// stepGeneralize makes the image fit to deploy on many machines: it runs
// internal/generalize's script as root in the guest, which removes what
// belongs to this build (its user, key, sudoers entry, proxies, network
// config, cloud-init state, host keys, machine-id, package caches) and
// ends by powering the guest off, since after the build user is gone
// nothing can log in to do so.
//
// Uses the communicator (getComm); produces the request that the guest
// powers off (getShutdownAsked) once the script has run.
type stepGeneralize struct {
	script []byte // the root shell script, from generalizeScript
}

func (s *stepGeneralize) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	ui := getUI(state)
	ui.Say("Generalizing the image and powering the guest off...")
	code, out, err := guestcmd.RunWithUi(ctx, getComm(state), ui, "sudo -n sh -s", bytes.NewReader(s.script))
	generalized := strings.Contains(out, generalizedMarker)
	switch {
	case generalized:
		putShutdownAsked(state)
	case err != nil:
		return halt(state, fmt.Errorf("generalizing the image: %w", err))
	default:
		return halt(state, fmt.Errorf("generalizing the image failed (exit %d): %s", code, lines.Last(out, 1)))
	}
	return multistep.ActionContinue
}

// Cleanup has nothing to do.
func (s *stepGeneralize) Cleanup(multistep.StateBag) {}

// generalizeScript is the root shell script for this build's settings.
func (c *Config) generalizeScript() ([]byte, error) {
	return generalize.Script(c.generalizeSettings())
}

// generalizeSettings are the script's settings for this build; apt-clean
// is package-cache's older name.
func (c *Config) generalizeSettings() generalize.Settings {
	var skip []string
	for _, rule := range knownRules {
		if c.Skips(rule) && rule != ruleAptClean {
			skip = append(skip, rule)
		}
	}
	if c.Skips(ruleAptClean) && !c.Skips(generalize.RulePackageCache) {
		skip = append(skip, generalize.RulePackageCache)
	}
	return generalize.Settings{
		User:         c.Comm.SSHUsername,
		Skip:         skip,
		ProxyLines:   c.proxyEnvironment(),
		ProxyFile:    aptProxyFile,
		RemoveKernel: c.RemoveKernel,
	}
}
