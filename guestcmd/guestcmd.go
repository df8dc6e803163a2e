// Package guestcmd runs commands in a build's guest through Packer's
// communicator and collects what they print. maas-rootfs (cloud-init wait,
// generalize) and maas-curtin-hook (staging, checks) both use it.
package guestcmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// MaxOutput bounds the output kept from one command; the commands run
// here print a line per check or only errors.
const MaxOutput = 256 << 10

// Run runs command in the guest without showing it, and returns its exit
// status and output (stdout and stderr as they arrived). err is for when it
// could not run or ctx ended first; the output so far comes with it.
func Run(ctx context.Context, comm packersdk.Communicator, command string) (int, string, error) {
	var out Output
	cmd := &packersdk.RemoteCmd{Command: command, Stdout: &out, Stderr: &out}
	if err := comm.Start(ctx, cmd); err != nil {
		return 0, "", fmt.Errorf("starting %q in the guest: %w", command, err)
	}
	exited := make(chan int, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case status := <-exited:
		return status, out.String(), nil
	case <-ctx.Done():
		return 0, out.String(), fmt.Errorf("%q in the guest: %w", command, ctx.Err())
	}
}

// RunWithUi runs command in the guest showing its output line by line as
// it comes, with stdin (may be nil) as its input, and returns its exit
// status and output like Run.
func RunWithUi(ctx context.Context, comm packersdk.Communicator, ui packersdk.Ui, command string, stdin io.Reader) (int, string, error) {
	var out Output
	cmd := &packersdk.RemoteCmd{Command: command, Stdin: stdin, Stdout: &out, Stderr: &out}
	if err := cmd.RunWithUi(ctx, comm, ui); err != nil {
		return 0, out.String(), fmt.Errorf("running %q in the guest: %w", command, err)
	}
	return cmd.ExitStatus(), out.String(), nil
}

// Output collects a command's stdout and stderr together, in the order
// they arrive, keeping the first MaxOutput bytes. The SSH communicator
// copies each stream in its own goroutine, so both write here at once.
type Output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := min(len(p), MaxOutput-o.buf.Len())
	o.buf.Write(p[:keep])
	o.dropped += len(p) - keep
	return len(p), nil
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dropped > 0 {
		return o.buf.String() + fmt.Sprintf("\n[%d more bytes of output dropped]", o.dropped)
	}
	return o.buf.String()
}
