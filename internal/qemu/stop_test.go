package qemu

import (
	"context"
	"testing"
)

// poweringOff is a Machine whose guest powers off the moment the ACPI
// button is pressed; anything past the button is recorded.
type poweringOff struct {
	done   chan struct{}
	forced []string
}

func (m *poweringOff) Done() <-chan struct{} { return m.done }
func (m *poweringOff) Powerdown() error      { close(m.done); return nil }
func (m *poweringOff) Quit() error           { m.forced = append(m.forced, "quit"); return nil }
func (m *poweringOff) Kill() error           { m.forced = append(m.forced, "kill"); return nil }
func (m *poweringOff) PID() int              { return 1 }

// TestStopMachineGuestPowersOffAtTheDeadline: a guest that has powered
// off when the time runs out did power off; the stop is no forced one.
// (Both are ready at once: without the check a select picks either, so
// the test tries many times.)
func TestStopMachineGuestPowersOffAtTheDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 64 {
		m := &poweringOff{done: make(chan struct{})}
		if err := StopMachine(ctx, m); err != nil || len(m.forced) > 0 {
			t.Fatalf("StopMachine = %v after %v, want a clean stop", err, m.forced)
		}
	}
}
