package maascurtinhook

import (
	"context"
	"fmt"
	"strings"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/curtinhook"
	"github.com/c34478be/packer-plugin-maas/internal/guestcmd"
	"github.com/c34478be/packer-plugin-maas/internal/lines"
)

// guestShell runs scripts in the guest from a staging directory that the
// SSH user owns: files and scripts are uploaded there, then scripts run
// with `sh`, through `sudo -n` when they need root and the user is not.
type guestShell struct {
	comm  packersdk.Communicator
	stage string
	sudo  bool
}

func newGuestShell(ctx context.Context, comm packersdk.Communicator) (*guestShell, error) {
	g := &guestShell{comm: comm}
	status, out, err := guestcmd.Run(ctx, g.comm, "mktemp -d")
	if err != nil || status != 0 {
		return nil, fmt.Errorf("making a staging directory in the guest with `mktemp -d`: exit %d, %v: %s", status, err, out)
	}
	g.stage = strings.TrimSpace(out)
	if !strings.HasPrefix(g.stage, "/") || strings.ContainsAny(g.stage, "\n'") {
		return nil, fmt.Errorf("`mktemp -d` in the guest printed %q, not a directory", out)
	}
	return g, nil
}

// close removes the staging directory; a failure only deserves a note.
func (g *guestShell) close(ui packersdk.Ui) {
	if status, out, err := guestcmd.Run(context.Background(), g.comm, "rm -rf "+curtinhook.ShellQuote(g.stage)); err != nil || status != 0 {
		ui.Sayf("WARNING: could not remove the staging directory %s from the guest: exit %d, %v: %s", g.stage, status, err, out)
	}
}

func (g *guestShell) upload(f curtinFile) error {
	r, err := f.open()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := g.comm.Upload(g.stage+"/"+f.Name, r, nil); err != nil {
		return fmt.Errorf("uploading %s to the guest's %s: %w", f.Name, g.stage, err)
	}
	return nil
}

// command uploads script to the staging directory as name and returns
// the command line that runs it.
func (g *guestShell) command(name, script string, asRoot bool) (string, error) {
	path := g.stage + "/" + name
	if err := g.comm.Upload(path, strings.NewReader(script), nil); err != nil {
		return "", fmt.Errorf("uploading %s to the guest: %w", path, err)
	}
	command := "sh " + curtinhook.ShellQuote(path)
	if asRoot && g.sudo {
		command = "sudo -n " + command
	}
	return command, nil
}

// output runs script and returns what it printed, failing when it exits
// non-zero.
func (g *guestShell) output(ctx context.Context, name, script string, asRoot bool) (string, error) {
	command, err := g.command(name, script, asRoot)
	if err != nil {
		return "", err
	}
	status, out, err := guestcmd.Run(ctx, g.comm, command)
	if err != nil {
		return "", err
	}
	if status != 0 {
		return "", g.exitError(command, status, out)
	}
	return out, nil
}

// stream runs script showing its output as it goes.
func (g *guestShell) stream(ctx context.Context, ui packersdk.Ui, name, script string) error {
	command, err := g.command(name, script, true)
	if err != nil {
		return err
	}
	status, out, err := guestcmd.RunWithUi(ctx, g.comm, ui, command, nil)
	if err != nil {
		return err
	}
	if status != 0 {
		return g.exitError(command, status, out)
	}
	return nil
}

func (g *guestShell) exitError(command string, status int, out string) error {
	if g.sudo && strings.Contains(out, "sudo:") {
		return fmt.Errorf("%s failed (exit %d): the SSH user is not root and needs sudo without a password "+
			"(or connect as root): %s", command, status, lines.Last(out, 5))
	}
	return fmt.Errorf("%s failed (exit %d): %s", command, status, lines.Last(out, 20))
}
