package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// startTimeout bounds how long QEMU may take to open its QMP socket.
const startTimeout = 60 * time.Second

// quitGrace is how long QEMU gets to exit after a QMP quit before it is
// killed.
const quitGrace = 10 * time.Second

// ErrForcedStop means the guest did not power off in time and QEMU was made
// to quit (or killed): its disk may hold an unclean file system.
var ErrForcedStop = errors.New("guest did not power off in time")

// VM is a running QEMU process.
type VM struct {
	cfg    Config
	cmd    *exec.Cmd
	done   chan struct{}
	output *tailBuffer

	waitErr error // set before done is closed

	mu  sync.Mutex // guards qmp
	qmp *qmpClient
}

// Start runs QEMU for cfg in its own process group and returns once QEMU
// listens on its QMP socket. Cancelling ctx kills QEMU at any time.
func Start(ctx context.Context, cfg Config) (*VM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	binary, err := exec.LookPath(cfg.BinaryPath())
	if err != nil {
		return nil, fmt.Errorf("QEMU not found: %w (on Debian/Ubuntu install %s)", err, qemuPackage(cfg.Arch))
	}
	if err := os.Remove(cfg.QMPSocket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale QMP socket: %w", err)
	}

	vm := &VM{cfg: cfg, done: make(chan struct{}), output: &tailBuffer{max: 8 << 10}}
	vm.cmd = exec.CommandContext(ctx, binary, cfg.Args()...)
	vm.cmd.Stdout = vm.output
	vm.cmd.Stderr = vm.output
	vm.cmd.SysProcAttr = sysProcAttr()
	vm.cmd.Cancel = func() error { return killGroup(vm.cmd.Process) }
	vm.cmd.WaitDelay = 5 * time.Second // do not hang on output pipes a stray child holds
	if err := vm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	go vm.supervise()

	if err := vm.connectQMP(ctx); err != nil {
		if killErr := vm.Kill(); killErr != nil {
			return nil, fmt.Errorf("%w; and killing QEMU (pid %d) failed: %v", err, vm.PID(), killErr)
		}
		<-vm.done
		return nil, err
	}
	return vm, nil
}

func qemuPackage(arch string) string {
	if arch == "arm64" {
		return "qemu-system-arm"
	}
	return "qemu-system-x86"
}

func (vm *VM) supervise() {
	err := vm.cmd.Wait()
	if err != nil {
		err = fmt.Errorf("QEMU exited: %w%s", err, vm.outputSuffix())
	}
	vm.waitErr = err
	vm.mu.Lock()
	if vm.qmp != nil {
		_ = vm.qmp.Close() // QEMU is gone: nothing left to tell it
		vm.qmp = nil
	}
	vm.mu.Unlock()
	_ = os.Remove(vm.cfg.QMPSocket) // QEMU usually removes it itself
	close(vm.done)
}

func (vm *VM) outputSuffix() string {
	if out := strings.TrimSpace(vm.output.String()); out != "" {
		return "; its output:\n" + out
	}
	return ""
}

// connectQMP polls until QEMU accepts QMP connections, QEMU exits, or the
// start timeout passes: QEMU creates the socket only after parsing its
// arguments and opening the disks.
func (vm *VM) connectQMP(ctx context.Context) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		q, err := dialQMP(vm.cfg.QMPSocket)
		if err == nil {
			vm.mu.Lock()
			vm.qmp = q
			vm.mu.Unlock()
			return nil
		}
		select {
		case <-vm.done:
			return fmt.Errorf("QEMU failed to start: %w\ncommand: %s", vm.waitErr, vm.CommandLine())
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("QEMU did not open its QMP socket %s within %s: %v%s", vm.cfg.QMPSocket, startTimeout, err, vm.outputSuffix())
		case <-tick.C:
		}
	}
}

// CommandLine is the QEMU command as a shell would show it, for error
// messages and logs.
func (vm *VM) CommandLine() string {
	parts := append([]string{vm.cmd.Path}, vm.cmd.Args[1:]...)
	for i, p := range parts {
		if strings.ContainsAny(p, " \t'\"$;&|<>()") {
			parts[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}

// PID is QEMU's process id (also its process group id).
func (vm *VM) PID() int { return vm.cmd.Process.Pid }

// Done is closed once QEMU has exited.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Wait waits for QEMU to exit and returns why it did (nil for a clean exit,
// as after the guest powers off).
func (vm *VM) Wait() error {
	<-vm.done
	return vm.waitErr
}

// Powerdown presses the virtual power button (ACPI): the guest shuts down
// cleanly if it listens to it.
func (vm *VM) Powerdown() error { return vm.qmpExecute("system_powerdown") }

func (vm *VM) qmpExecute(command string) error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.qmp == nil {
		return fmt.Errorf("QMP %s: QEMU has exited", command)
	}
	return vm.qmp.execute(command)
}

// Kill kills QEMU and anything it started, at once.
func (vm *VM) Kill() error {
	select {
	case <-vm.done:
		return nil
	default:
	}
	return killGroup(vm.cmd.Process)
}

// Machine is what the stop ladder needs of a running VM; *VM is one, and
// tests stand in a fake for it.
type Machine interface {
	// Done is closed once the VM has exited.
	Done() <-chan struct{}
	// Powerdown presses the ACPI power button.
	Powerdown() error
	// Quit asks the emulator to exit at once, flushing its disk caches.
	Quit() error
	// Kill ends the emulator and its children without asking.
	Kill() error
	// PID is the emulator's process id, for messages.
	PID() int
}

// Stop powers the guest off and waits for QEMU to exit until ctx is done;
// then it asks QEMU to quit (which flushes its disk caches), and kills it
// when that does not work either. It returns once QEMU has exited, with an
// error wrapping ErrForcedStop when the guest did not power off by itself.
func (vm *VM) Stop(ctx context.Context) error { return StopMachine(ctx, vm) }

// StopMachine is the stop ladder of Stop, for any Machine: ACPI power-off,
// wait until ctx is done, quit, wait quitGrace, kill.
func StopMachine(ctx context.Context, m Machine) error {
	if exited(m) {
		return nil
	}
	powerdownErr := m.Powerdown()
	if powerdownErr == nil {
		select {
		case <-m.Done():
			return nil
		case <-ctx.Done():
			if exited(m) { // powered off just as the time ran out
				return nil
			}
		}
	}
	how, err := forceExit(m)
	if err != nil {
		return err
	}
	if powerdownErr != nil {
		return fmt.Errorf("%w: ACPI power-down failed (%v), QEMU %s", ErrForcedStop, powerdownErr, how)
	}
	return fmt.Errorf("%w: QEMU %s", ErrForcedStop, how)
}

func exited(m Machine) bool {
	select {
	case <-m.Done():
		return true
	default:
		return false
	}
}

// Quit asks QEMU over QMP to exit now, without the guest's help.
func (vm *VM) Quit() error { return vm.qmpExecute("quit") }

// forceExit ends QEMU without the guest's help: a QMP quit first, SIGKILL
// when QEMU has not exited quitGrace later. It says which one did it.
func forceExit(m Machine) (string, error) {
	if m.Quit() == nil {
		grace := time.NewTimer(quitGrace)
		defer grace.Stop()
		select {
		case <-m.Done():
			return "quit", nil
		case <-grace.C:
		}
	}
	if err := m.Kill(); err != nil {
		return "", fmt.Errorf("killing QEMU (pid %d): %w", m.PID(), err)
	}
	<-m.Done()
	return "killed", nil
}

// consoleTailBytes bounds how much of the serial log ConsoleTail reads.
const consoleTailBytes = 256 << 10

// ansiEscape matches the terminal control sequences systemd and the kernel
// print, which only clutter an error message.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1bc`)

// ConsoleTail returns the last n lines of the guest's serial console, with
// terminal escapes and control characters removed; "" when there is no log
// yet.
func (vm *VM) ConsoleTail(n int) string {
	return consoleTail(vm.cfg.SerialLog, n)
}

func consoleTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	start := max(info.Size()-consoleTailBytes, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, start, consoleTailBytes))
	if err != nil {
		return ""
	}
	text := strings.Map(dropControl, ansiEscape.ReplaceAllString(string(data), ""))
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if start > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line was cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dropControl removes the control characters escape sequences leave behind
// (a lone ESC, carriage returns), keeping line breaks and tabs.
func dropControl(r rune) rune {
	if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
		return -1
	}
	return r
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
