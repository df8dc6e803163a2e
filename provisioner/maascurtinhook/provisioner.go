// Package maascurtinhook is the maas-curtin-hook provisioner: it puts a curtin
// hook and its files into /curtin of the image being built, and checks in
// the guest that MAAS will be able to deploy the image, so that a build
// fails with a fixable message instead of a deployment failing later.
package maascurtinhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
)

// Provisioner is the maas-curtin-hook provisioner.
type Provisioner struct {
	config Config
	// imageRoot prefixes every image path: "" for the guest's own root.
	// Tests point it at a directory, to provision a fake image on the host.
	imageRoot string
}

// ConfigSpec returns the HCL2 spec of the provisioner's settings.
func (p *Provisioner) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Prepare decodes and validates the settings.
func (p *Provisioner) Prepare(raws ...interface{}) error { return p.config.prepare(raws...) }

// Provision installs the hook and files, installs the custom kernel when
// asked, then runs the readiness checks.
func (p *Provisioner) Provision(ctx context.Context, ui packersdk.Ui, comm packersdk.Communicator, generated map[string]interface{}) error {
	shell, err := newGuestShell(ctx, comm)
	if err != nil {
		return err
	}
	defer shell.close(ui)

	out, err := shell.output(ctx, "probe.sh", curtinhook.ProbeScript(p.imageRoot), false)
	if err != nil {
		return err
	}
	guest, err := curtinhook.ParseProbe(out)
	if err != nil {
		return err
	}
	shell.sudo = guest.UID != 0

	if p.config.InstallKernel {
		ui.Sayf("Installing kernel package %s in the image...", p.config.CustomKernel)
		if err := shell.stream(ctx, ui, "install-kernel.sh", curtinhook.InstallKernelScript(p.config.CustomKernel)); err != nil {
			return fmt.Errorf("installing custom_kernel %s: %w", p.config.CustomKernel, err)
		}
	}
	if err := p.installFiles(ctx, ui, shell, guest); err != nil {
		return err
	}
	return p.check(ctx, ui, shell, kernelRemovedLater(generated))
}

// kernelRemovedLater reads what maas-rootfs tells its provisioners: that
// remove_kernel takes the image's kernel out after them.
func kernelRemovedLater(generated map[string]interface{}) bool {
	v := generated[curtinhook.GeneratedRemoveKernel]
	return v == true || v == "true"
}

// curtinFile is one file bound for /curtin, from the host or from memory.
type curtinFile struct {
	curtinhook.File
	hostPath string // empty when content is set
	content  []byte
}

func (f curtinFile) open() (io.ReadCloser, error) {
	if f.hostPath == "" {
		return io.NopCloser(bytes.NewReader(f.content)), nil
	}
	return os.Open(f.hostPath)
}

// files lists what goes into /curtin for this guest, saying what the hook is.
func (p *Provisioner) files(ui packersdk.Ui, guest curtinhook.Guest) ([]curtinFile, error) {
	var files []curtinFile
	add := func(name, hostPath string) error {
		info, err := os.Stat(hostPath)
		if err != nil {
			return err
		}
		files = append(files, curtinFile{File: curtinhook.File{Name: name, Mode: curtinhook.ModeFor(name, info.Mode())}, hostPath: hostPath})
		return nil
	}
	switch {
	case p.config.Source != "":
		source, err := sourceFiles(p.config.Source)
		if err != nil {
			return nil, err
		}
		for _, f := range source {
			if err := add(f.name, f.path); err != nil {
				return nil, err
			}
		}
		ui.Sayf("Installing %s from %s", curtinhook.HookPath, p.config.Source)
	case curtinhook.ChooseHook(p.config.Hook, p.config.CustomKernel, guest):
		files = append(files, curtinFile{File: curtinhook.File{Name: curtinhook.HookName, Mode: curtinhook.HookMode}, content: curtinhook.UbuntuHook()})
		ui.Sayf("Installing the built-in ubuntu hook as %s", curtinhook.HookPath)
	default:
		ui.Sayf("No curtin hook to install (hook = %q, custom_kernel %q, image ID=%s)", p.config.Hook, p.config.CustomKernel, guest.OSID)
		if p.config.CustomKernel != "" {
			ui.Sayf("WARNING: custom_kernel: no hook will read %s/%s in this image; set hook = %q to have curtin install %s",
				curtinhook.Dir, curtinhook.CustomKernelName, curtinhook.HookUbuntu, p.config.CustomKernel)
		}
	}
	if p.config.CustomKernel != "" {
		files = append(files, curtinFile{
			File:    curtinhook.File{Name: curtinhook.CustomKernelName, Mode: curtinhook.DataMode},
			content: []byte(p.config.CustomKernel + "\n"),
		})
	}
	for _, name := range sortedKeys(p.config.Files) {
		if err := add(name, p.config.Files[name]); err != nil {
			return nil, fmt.Errorf("files: %q: %w", name, err)
		}
	}
	return files, nil
}

func (p *Provisioner) installFiles(ctx context.Context, ui packersdk.Ui, shell *guestShell, guest curtinhook.Guest) error {
	files, err := p.files(ui, guest)
	if err != nil || len(files) == 0 {
		return err
	}
	plain := make([]curtinhook.File, len(files))
	for i, f := range files {
		if err := shell.upload(f); err != nil {
			return err
		}
		plain[i] = f.File
	}
	script := curtinhook.InstallScript(p.imageRoot, shell.stage, plain)
	if _, err := shell.output(ctx, "install.sh", script, true); err != nil {
		return fmt.Errorf("installing the files in %s: %w", curtinhook.Dir, err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	ui.Sayf("Installed in %s: %s", curtinhook.Dir, strings.Join(names, ", "))
	return nil
}

// check runs the readiness checks and fails with every problem found.
func (p *Provisioner) check(ctx context.Context, ui packersdk.Ui, shell *guestShell, kernelRemovedLater bool) error {
	script := curtinhook.CheckScript(curtinhook.Params{
		Root:               p.imageRoot,
		CustomKernel:       p.config.CustomKernel,
		InstallKernel:      p.config.InstallKernel,
		Waived:             p.config.SkipChecks,
		KernelRemovedLater: kernelRemovedLater,
	})
	out, err := shell.output(ctx, "checks.sh", script, true)
	if err != nil {
		return fmt.Errorf("running the readiness checks: %w", err)
	}
	results, err := curtinhook.ParseResults(out)
	if err != nil {
		return err
	}
	ui.Say("Checking that MAAS can deploy the image:")
	var problems []string
	for _, r := range results {
		line := fmt.Sprintf("  %s: %s", r.Check, r.Status)
		if r.Detail != "" {
			line += " (" + r.Detail + ")"
		}
		ui.Say(line)
		switch r.Status {
		case curtinhook.StatusWarn:
			ui.Sayf("WARNING: %s: %s", r.Check, r.Problem())
		case curtinhook.StatusFail:
			problems = append(problems, fmt.Sprintf("  - %s: %s", r.Check, r.Problem()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the image is not ready for MAAS:\n%s", strings.Join(problems, "\n"))
	}
	return nil
}
