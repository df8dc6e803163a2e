package qemu

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c34478be/packer-plugin-maas/internal/test/testtool"
)

// blankVMConfig is a real, cheap VM: SeaBIOS over an empty disk, which
// finds nothing to boot and idles. Its guest ignores ACPI power-down.
func blankVMConfig(t *testing.T) Config {
	t.Helper()
	testtool.Require(t, "qemu-system-x86_64", "qemu-img")
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Arch: "amd64", Accel: AccelTCG, CPUs: 1, MemoryMiB: 128,
		Firmware: Firmware{Kind: FirmwareBIOS}, Disk: disk, SSHPort: port,
		SerialLog: filepath.Join(dir, "console.log"), QMPSocket: filepath.Join(dir, "qmp.sock"),
	}
}

// assertGone checks that no process with pid exists any more.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists (kill -0: %v)", pid, err)
	}
}

func waitDone(t *testing.T, vm *VM, within time.Duration) {
	t.Helper()
	select {
	case <-vm.Done():
	case <-time.After(within):
		t.Fatalf("QEMU (pid %d) still runs after %s", vm.PID(), within)
	}
}

func TestStopFallsBackToQuitWhenTheGuestIgnoresPowerdown(t *testing.T) {
	vm, err := Start(context.Background(), blankVMConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	if err := vm.Powerdown(); err != nil {
		t.Fatalf("QMP system_powerdown: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = vm.Stop(ctx)
	if !errors.Is(err, ErrForcedStop) || !strings.Contains(err.Error(), "QEMU quit") {
		t.Errorf("Stop = %v, want ErrForcedStop after a QMP quit", err)
	}
	if err := vm.Wait(); err != nil {
		t.Errorf("QEMU did not exit cleanly on quit: %v", err)
	}
	assertGone(t, vm.PID())
	if _, err := os.Stat(vm.cfg.QMPSocket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("QMP socket left behind: %v", err)
	}
	if err := vm.Powerdown(); err == nil {
		t.Error("Powerdown after exit succeeded")
	}
	if err := vm.Stop(ctx); err != nil {
		t.Errorf("Stop after exit: %v", err)
	}
}

// A wedged QEMU (stopped here with SIGSTOP) answers neither power-down nor
// quit: Stop must still end it, by SIGKILL, and not hang.
func TestStopKillsAWedgedQEMU(t *testing.T) {
	vm, err := Start(context.Background(), blankVMConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Kill()
	if err := syscall.Kill(vm.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = vm.Stop(ctx)
	if !errors.Is(err, ErrForcedStop) || !strings.Contains(err.Error(), "QEMU killed") {
		t.Errorf("Stop = %v, want ErrForcedStop after a kill", err)
	}
	assertGone(t, vm.PID())
}

func TestContextCancelKillsQEMU(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vm, err := Start(ctx, blankVMConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitDone(t, vm, 10*time.Second)
	if err := vm.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait = %v, want a killed QEMU", err)
	}
	assertGone(t, vm.PID())
}

func TestKill(t *testing.T) {
	vm, err := Start(context.Background(), blankVMConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Kill(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, vm, 10*time.Second)
	assertGone(t, vm.PID())
	if err := vm.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
}

func TestStartFailureShowsQEMUsError(t *testing.T) {
	cfg := blankVMConfig(t)
	cfg.Disk = filepath.Join(t.TempDir(), "no-such-disk.qcow2")
	_, err := Start(context.Background(), cfg)
	if err == nil {
		t.Fatal("QEMU started without its disk")
	}
	for _, want := range []string{"QEMU failed to start", "no-such-disk.qcow2", "command: ", "-accel tcg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestStartNamesTheMissingBinary(t *testing.T) {
	cfg := blankVMConfig(t)
	cfg.Binary = "qemu-system-does-not-exist"
	_, err := Start(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "install qemu-system-x86") {
		t.Errorf("error %v should name the Debian package", err)
	}
}

func TestConsoleTail(t *testing.T) {
	log := filepath.Join(t.TempDir(), "console.log")
	content := "BdsDxe: loading\r\n\x1b[0;32m  OK  \x1b[0m] Started ssh.service\r\nline three\r\nlast line\r\n"
	if err := os.WriteFile(log, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := consoleTail(log, 2), "line three\nlast line"; got != want {
		t.Errorf("tail 2 = %q, want %q", got, want)
	}
	if got, want := consoleTail(log, 10), "BdsDxe: loading\n  OK  ] Started ssh.service\nline three\nlast line"; got != want {
		t.Errorf("tail 10 = %q, want %q", got, want)
	}
	if got := consoleTail(filepath.Join(t.TempDir(), "none"), 5); got != "" {
		t.Errorf("missing log gave %q", got)
	}
}

func TestConsoleTailReadsOnlyTheEnd(t *testing.T) {
	log := filepath.Join(t.TempDir(), "console.log")
	big := strings.Repeat("0123456789abcdef\n", 4*consoleTailBytes/17) + "the end\n"
	if err := os.WriteFile(log, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	tail := consoleTail(log, 1<<20)
	if len(tail) > consoleTailBytes || !strings.HasSuffix(tail, "the end") || !strings.HasPrefix(tail, "0123456789abcdef\n") {
		t.Errorf("tail of a large log: %d bytes, starts %q", len(tail), tail[:min(len(tail), 20)])
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("0123456"))
	b.Write([]byte("789ab"))
	if got := b.String(); got != "456789ab" {
		t.Errorf("tail = %q", got)
	}
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}

// The serial log is written by the guest: whatever it holds, ConsoleTail
// must return at most n lines, without escapes or carriage returns.
func FuzzConsoleTail(f *testing.F) {
	f.Add([]byte("BdsDxe: loading\r\n\x1b[0;32m  OK  \x1b[0m] Started ssh.service\r\n"), 2)
	f.Add([]byte("\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HEFI stub: Loaded initrd\r\n[    0.000000] Linux version 6.1.0\r\n"), 1)
	f.Add([]byte("no newline at all"), 5)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, log []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		path := filepath.Join(dir, "console.log")
		if err := os.WriteFile(path, log, 0o644); err != nil {
			t.Fatal(err)
		}
		tail := consoleTail(path, n)
		if lines := strings.Count(tail, "\n") + 1; tail != "" && lines > n {
			t.Errorf("%d lines for n = %d", lines, n)
		}
		if strings.ContainsAny(tail, "\r") || ansiEscape.MatchString(tail) {
			t.Errorf("escapes left in %q", tail)
		}
	})
}
