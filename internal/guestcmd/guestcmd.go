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

// MaxOutput bounds the output kept from one command: its first and last
// MaxOutput/2 bytes. The start holds the first error; the end holds what a
// caller looks for last (the generalize script's success marker), however
// much a command (apt purging kernels) printed before it.
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
// they arrive, keeping the first and the last MaxOutput/2 bytes. The SSH
// communicator copies each stream in its own goroutine, so both write here
// at once.
type Output struct {
	mu   sync.Mutex
	head []byte
	// tail is a ring of the last bytes once head is full: next is where
	// the next byte goes, and full says the ring has wrapped.
	tail    []byte
	next    int
	full    bool
	dropped int64
}

const keepEach = MaxOutput / 2

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(p)
	if room := keepEach - len(o.head); room > 0 {
		take := min(room, len(p))
		o.head = append(o.head, p[:take]...)
		p = p[take:]
	}
	if len(p) == 0 {
		return n, nil
	}
	if o.tail == nil {
		o.tail = make([]byte, keepEach)
	}
	if len(p) > keepEach {
		o.dropped += int64(o.keptInTail() + len(p) - keepEach)
		p = p[len(p)-keepEach:]
		copy(o.tail, p)
		o.next, o.full = 0, true
		return n, nil
	}
	if overwritten := o.keptInTail() + len(p) - keepEach; overwritten > 0 {
		o.dropped += int64(overwritten)
	}
	first := copy(o.tail[o.next:], p)
	copy(o.tail, p[first:])
	o.next += len(p)
	if o.next >= keepEach {
		o.next -= keepEach
		o.full = true
	}
	return n, nil
}

func (o *Output) keptInTail() int {
	if o.full {
		return keepEach
	}
	return o.next
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b bytes.Buffer
	b.Write(o.head)
	if o.dropped > 0 {
		fmt.Fprintf(&b, "\n[%d bytes of output dropped]\n", o.dropped)
	}
	if o.full {
		b.Write(o.tail[o.next:])
	}
	b.Write(o.tail[:o.next])
	return b.String()
}
