package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/c34478be/packer-plugin-maas/internal/cloudinit"
	"github.com/c34478be/packer-plugin-maas/internal/qemu"
	"github.com/c34478be/packer-plugin-maas/internal/test/testimage"
)

// TestBootTestImageToSSH proves the test image, QEMU (TCG), the Go-made
// NoCloud seed and the SSH readiness check work together on this machine:
// boot through UEFI to a real key-based SSH login, cloud-init done, then a
// clean ACPI power-off with no process left.
func TestBootTestImageToSSH(t *testing.T) {
	image := testimage.Path(t)
	dir := t.TempDir()

	// One GiB more than the image: cloud-init must grow the root into it.
	overlay := filepath.Join(dir, "disk.qcow2")
	require.NoError(t, qemu.CreateOverlay(context.Background(), image, overlay, 3<<30))

	const user = "smoke"
	privatePEM, authorizedKey, err := cloudinit.NewKeyPair()
	require.NoError(t, err)
	userData, err := cloudinit.BuildUserData(user, authorizedKey, nil)
	require.NoError(t, err)
	instanceID, err := cloudinit.NewInstanceID()
	require.NoError(t, err)
	metaData, err := cloudinit.BuildMetaData(instanceID, "smoke")
	require.NoError(t, err)
	seed := filepath.Join(dir, "seed.img")
	require.NoError(t, cloudinit.WriteSeed(seed, map[string][]byte{"user-data": userData, "meta-data": metaData}))

	firmware, err := qemu.FindFirmware("amd64", qemu.FirmwareUEFI, "", "")
	require.NoError(t, err)
	vars := filepath.Join(dir, "vars.fd")
	require.NoError(t, firmware.CopyVars(vars))
	accel, reason, err := qemu.ChooseAccelerator("tcg", "amd64")
	require.NoError(t, err)
	port, err := qemu.FreePort()
	require.NoError(t, err)

	cfg := qemu.Config{
		Arch: "amd64", Accel: accel, CPUs: 2, MemoryMiB: 2048,
		Firmware: firmware, VarsCopy: vars, Disk: overlay, Seed: seed, SSHPort: port,
		SerialLog: filepath.Join(dir, "console.log"), QMPSocket: filepath.Join(dir, "qmp.sock"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()
	started := time.Now()
	vm, err := qemu.Start(ctx, cfg)
	require.NoError(t, err)
	t.Logf("QEMU pid %d, %s: %s", vm.PID(), reason, vm.CommandLine())
	defer func() {
		vm.Kill()
		if t.Failed() {
			t.Logf("last 40 lines of the serial console:\n%s", vm.ConsoleTail(40))
		}
	}()

	signer, err := ssh.ParsePrivateKey(privatePEM)
	require.NoError(t, err)
	sshConfig := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		// The guest makes new host keys on every first boot: there is
		// nothing to pin.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	}
	sshCtx, sshCancel := context.WithTimeout(ctx, 7*time.Minute)
	defer sshCancel()
	client, err := qemu.WaitSSH(sshCtx, "127.0.0.1:"+strconv.Itoa(port), sshConfig, vm.Done())
	require.NoError(t, err)
	defer client.Close()
	bootToSSH := time.Since(started)

	cloudInitStarted := time.Now()
	status, err := runSSH(ctx, client, "cloud-init status --wait")
	require.NoError(t, err, "cloud-init status: %s", status)
	assert.Contains(t, status, "status: done")
	cloudInit := time.Since(cloudInitStarted)

	rootSize, err := runSSH(ctx, client, "df --output=size -B1 / | tail -n1")
	require.NoError(t, err)
	size, err := strconv.ParseInt(strings.TrimSpace(rootSize), 10, 64)
	require.NoError(t, err, "df printed %q", rootSize)
	assert.Greater(t, size, int64(5<<29), "the root file system must grow into the larger disk")

	osRelease, err := runSSH(ctx, client, "cat /etc/os-release")
	require.NoError(t, err)
	assert.Contains(t, osRelease, "VERSION_CODENAME=bookworm")

	// The seed's promises: sudo without a password, no password to log in with.
	passwd, err := runSSH(ctx, client, "sudo -n passwd --status "+user)
	require.NoError(t, err, "sudo -n: %s", passwd)
	assert.Regexp(t, `^`+user+` L `, passwd, "the build user's password must be locked")
	client.Close()

	stopStarted := time.Now()
	stopCtx, stopCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer stopCancel()
	require.NoError(t, vm.Stop(stopCtx), "the guest must power off on ACPI power-down")
	shutdown := time.Since(stopStarted)
	assert.NoError(t, vm.Wait(), "QEMU must exit cleanly after the guest powers off")
	err = syscall.Kill(vm.PID(), 0)
	assert.True(t, errors.Is(err, syscall.ESRCH), "QEMU pid %d still exists (kill -0: %v)", vm.PID(), err)
	_, err = os.Stat(cfg.QMPSocket)
	assert.True(t, errors.Is(err, os.ErrNotExist), "QMP socket left behind")

	t.Logf("boot to SSH %s, cloud-init done %s later, power-off %s (TCG, 2 vCPU, 2 GiB)",
		bootToSSH.Round(100*time.Millisecond), cloudInit.Round(100*time.Millisecond), shutdown.Round(100*time.Millisecond))
}

// runSSH runs command in a new session and returns its combined output; ctx
// ending closes the session.
func runSSH(ctx context.Context, client *ssh.Client, command string) (string, error) {
	session, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("SSH session for %q: %w", command, err)
	}
	defer session.Close()
	stop := context.AfterFunc(ctx, func() { session.Close() })
	defer stop()
	out, err := session.CombinedOutput(command)
	if err != nil {
		return string(out), fmt.Errorf("%q: %w", command, err)
	}
	return string(out), nil
}
