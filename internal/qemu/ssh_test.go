package qemu

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshFixture is a real SSH server on 127.0.0.1 that, like a booting guest
// behind QEMU's user network, first accepts and drops refuseFirst
// connections, then completes handshakes for clientKey.
type sshFixture struct {
	addr     string
	accepted atomic.Int32
	client   *ssh.ClientConfig
}

func newSSHFixture(t *testing.T, refuseFirst int32) *sshFixture {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	_, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	clientSigner, err := ssh.NewSignerFromKey(clientPriv)
	if err != nil {
		t.Fatal(err)
	}
	server := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(clientSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	server.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &sshFixture{
		addr: l.Addr().String(),
		client: &ssh.ClientConfig{
			User:            "build",
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(clientSigner)},
			HostKeyCallback: ssh.FixedHostKey(hostSigner.PublicKey()),
		},
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			if f.accepted.Add(1) <= refuseFirst {
				conn.Close()
				continue
			}
			go func() {
				sc, chans, reqs, err := ssh.NewServerConn(conn, server)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				go func() {
					for ch := range chans {
						ch.Reject(ssh.Prohibited, "test server")
					}
				}()
				sc.Wait()
			}()
		}
	}()
	return f
}

func TestWaitSSHRetriesUntilAHandshakeCompletes(t *testing.T) {
	f := newSSHFixture(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := WaitSSH(ctx, f.addr, f.client, make(chan struct{}))
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
	if n := f.accepted.Load(); n != 4 {
		t.Errorf("connected %d times, want 3 dropped + 1 handshake", n)
	}
}

func TestWaitSSHDoesNotTrustATCPConnection(t *testing.T) {
	f := newSSHFixture(t, 1<<30)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	_, err := WaitSSH(ctx, f.addr, f.client, make(chan struct{}))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last attempt") {
		t.Errorf("WaitSSH = %v, want a deadline error with the last attempt's failure", err)
	}
	if n := f.accepted.Load(); n < 2 {
		t.Errorf("only %d attempts in 2.5 s", n)
	}
}

func TestWaitSSHRefusesAWrongKey(t *testing.T) {
	f := newSSHFixture(t, 0)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	f.client.Auth = []ssh.AuthMethod{ssh.PublicKeys(other)}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := WaitSSH(ctx, f.addr, f.client, make(chan struct{}))
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("WaitSSH with a wrong key = %v", err)
	}
}

func TestWaitSSHStopsWhenTheVMExits(t *testing.T) {
	f := newSSHFixture(t, 1<<30)
	exited := make(chan struct{})
	close(exited)
	start := time.Now()
	_, err := WaitSSH(context.Background(), f.addr, f.client, exited)
	if err == nil || !strings.Contains(err.Error(), "VM exited") {
		t.Errorf("WaitSSH = %v, want the VM's exit", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("took %s to notice the exit", waited)
	}
}
