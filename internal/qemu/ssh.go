package qemu

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshRetryInterval is the pause between SSH attempts.
const sshRetryInterval = time.Second

// sshAttemptTimeout bounds one connect + handshake. A guest that accepted
// the connection may still be too busy booting to answer quickly.
const sshAttemptTimeout = 20 * time.Second

// WaitSSH connects to addr until an SSH handshake, authentication included,
// completes, and returns that client. QEMU's user network accepts TCP
// connections before the guest's sshd listens, and sshd may run before
// cloud-init has installed the key, so nothing less counts. It gives up when
// ctx is done or when exited (QEMU's Done channel) is closed.
func WaitSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig, exited <-chan struct{}) (*ssh.Client, error) {
	tick := time.NewTicker(sshRetryInterval)
	defer tick.Stop()
	var lastErr error
	for attempt := 1; ; attempt++ {
		client, err := dialSSH(ctx, addr, cfg)
		if err == nil {
			return client, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no SSH login to %s after %d attempts: %w (last attempt: %v)", addr, attempt, ctx.Err(), lastErr)
		case <-exited:
			return nil, fmt.Errorf("the VM exited before SSH to %s came up (last attempt: %v)", addr, lastErr)
		case <-tick.C:
		}
	}
}

// dialSSH makes one connection and handshake attempt, bounded by
// sshAttemptTimeout and ctx.
func dialSSH(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, sshAttemptTimeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, err
	}
	// The deadline above does not see ctx being cancelled early.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	sshConn, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if !stop() {
		sshConn.Close()
		return nil, fmt.Errorf("SSH attempt cancelled as its handshake finished: %w", ctx.Err())
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		sshConn.Close()
		return nil, err
	}
	return ssh.NewClient(sshConn, chans, reqs), nil
}
