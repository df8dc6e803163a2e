// Package fakecomm holds stand-ins for Packer's communicator, for the unit
// tests of steps and provisioners that run commands in a guest: Scripted
// answers from a table, Local runs the commands on this host.
package fakecomm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// Answer is what the guest replies to one command.
type Answer struct {
	Code           int
	Stdout, Stderr string
}

// Scripted answers each command from Answers and fails Start for any
// other. Like the SSH communicator, it copies a command's stdout and
// stderr in two goroutines, a byte at a time as small SSH packets, then
// sets the exit status (go test -race caught a shared buffer this way).
// Only Start is implemented; the other methods panic.
type Scripted struct {
	packersdk.Communicator
	Answers map[string]Answer

	mu  sync.Mutex
	ran []string
}

// Start records the command and answers it.
func (g *Scripted) Start(_ context.Context, cmd *packersdk.RemoteCmd) error {
	g.mu.Lock()
	g.ran = append(g.ran, cmd.Command)
	g.mu.Unlock()
	answer, ok := g.Answers[cmd.Command]
	if !ok {
		return fmt.Errorf("unexpected command %q", cmd.Command)
	}
	go func() {
		var copies sync.WaitGroup
		for _, stream := range []struct {
			w    io.Writer
			text string
		}{{cmd.Stdout, answer.Stdout}, {cmd.Stderr, answer.Stderr}} {
			copies.Add(1)
			go func() {
				defer copies.Done()
				for _, b := range []byte(stream.text) {
					_, _ = stream.w.Write([]byte{b})
				}
			}()
		}
		copies.Wait()
		cmd.SetExited(answer.Code)
	}()
	return nil
}

// Ran returns the commands started so far, in order.
func (g *Scripted) Ran() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ran)
}

// Local is a communicator whose "guest" is this host: commands run with
// sh, uploads are plain file writes. Pointed at a directory standing for
// the image's root, the real scripts provision a fake image. Directories
// are neither uploaded nor downloaded, nor files downloaded.
type Local struct {
	mu       sync.Mutex
	commands []string
}

// Start runs the command with sh -c.
func (c *Local) Start(ctx context.Context, cmd *packersdk.RemoteCmd) error {
	c.mu.Lock()
	c.commands = append(c.commands, cmd.Command)
	c.mu.Unlock()
	proc := exec.CommandContext(ctx, "sh", "-c", cmd.Command)
	proc.Stdin, proc.Stdout, proc.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	if err := proc.Start(); err != nil {
		return err
	}
	go func() {
		err := proc.Wait()
		var exit *exec.ExitError
		switch {
		case err == nil:
			cmd.SetExited(0)
		case errors.As(err, &exit):
			cmd.SetExited(exit.ExitCode())
		default:
			cmd.SetExited(-1)
		}
	}()
	return nil
}

// Commands returns the commands started so far, in order.
func (c *Local) Commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.commands)
}

// Upload writes the file at dst on this host.
func (c *Local) Upload(dst string, r io.Reader, _ *os.FileInfo) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// UploadDir is not supported.
func (c *Local) UploadDir(string, string, []string) error {
	return errors.New("fakecomm.Local does not upload directories")
}

// Download is not supported.
func (c *Local) Download(string, io.Writer) error {
	return errors.New("fakecomm.Local does not download")
}

// DownloadDir is not supported.
func (c *Local) DownloadDir(string, string, []string) error {
	return errors.New("fakecomm.Local does not download")
}
