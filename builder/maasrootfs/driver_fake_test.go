package maasrootfs

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"

	"github.com/c34478be/packer-plugin-maas/internal/qemu"
)

// fakeDriver stands in for QEMU and qemu-img: files are written as the
// real ones would write them, and the VM is a fakeMachine.
type fakeDriver struct {
	// convert replaces ConvertToQcow2 when set; by default it writes dst.
	convert func(ctx context.Context, src, dst string) error
	// machine is what Start returns.
	machine *fakeMachine
	// started are the VMs asked for.
	started []qemu.Config
}

func (d *fakeDriver) CreateOverlay(_ context.Context, base, path string, _ int64) error {
	return os.WriteFile(path, []byte("qcow2 overlay on "+base), 0o600)
}

func (d *fakeDriver) VirtualSize(context.Context, string) (int64, error) { return 8 << 30, nil }

func (d *fakeDriver) ConvertToQcow2(ctx context.Context, src, dst string) error {
	if d.convert != nil {
		return d.convert(ctx, src, dst)
	}
	return os.WriteFile(dst, []byte("standalone qcow2 of "+src), 0o600)
}

func (d *fakeDriver) Start(_ context.Context, cfg qemu.Config) (machine, error) {
	d.started = append(d.started, cfg)
	if d.machine == nil {
		d.machine = newFakeMachine()
	}
	return d.machine, nil
}

var errFakeQMP = errors.New("QMP: connection reset by peer")

// fakeMachine is a VM whose guest does only what it is told to: it powers
// off at the ACPI button when obeysACPI, and QMP fails when qmpBroken. It
// never exits by itself, so no test depends on timing.
type fakeMachine struct {
	obeysACPI bool
	qmpBroken bool

	mu    sync.Mutex
	calls []string // the stop ladder's rungs, in order
	done  chan struct{}
	once  sync.Once
}

func newFakeMachine() *fakeMachine { return &fakeMachine{done: make(chan struct{})} }

// exit ends the VM as the guest's power-off, a quit or a kill would.
func (m *fakeMachine) exit() { m.once.Do(func() { close(m.done) }) }

func (m *fakeMachine) record(call string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, call)
}

// ladder is the rungs the stop ladder took.
func (m *fakeMachine) ladder() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

func (m *fakeMachine) running() bool { return !exited(m) }

func exited(m machine) bool {
	select {
	case <-m.Done():
		return true
	default:
		return false
	}
}

func (m *fakeMachine) Done() <-chan struct{} { return m.done }

func (m *fakeMachine) Powerdown() error {
	m.record("powerdown")
	if m.qmpBroken {
		return errFakeQMP
	}
	if m.obeysACPI {
		m.exit()
	}
	return nil
}

func (m *fakeMachine) Quit() error {
	m.record("quit")
	if m.qmpBroken {
		return errFakeQMP
	}
	m.exit()
	return nil
}

func (m *fakeMachine) Kill() error {
	m.record("kill")
	m.exit()
	return nil
}

func (m *fakeMachine) PID() int               { return 4242 }
func (m *fakeMachine) CommandLine() string    { return "qemu-system-x86_64 -fake" }
func (m *fakeMachine) Wait() error            { <-m.done; return nil }
func (m *fakeMachine) ConsoleTail(int) string { return "[  OK  ] Reached target Power-Off." }
