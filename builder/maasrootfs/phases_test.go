package maasrootfs

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/stretchr/testify/assert"
)

// fakeClock moves only when a step says it took time.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// takes is a step that takes d on the fake clock.
type takes struct {
	clock *fakeClock
	d     time.Duration
}

func (s takes) Run(context.Context, multistep.StateBag) multistep.StepAction {
	s.clock.t = s.clock.t.Add(s.d)
	return multistep.ActionContinue
}

func (s takes) Cleanup(multistep.StateBag) {}

// TestPhasesTotalIsWallTime checks that the total counts the steps that
// have no line of their own (output directory, overlay, seed, QEMU start)
// and the time before the first one, and that they show as "other".
func TestPhasesTotalIsWallTime(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	p := newPhases(clock.now)
	clock.t = clock.t.Add(500 * time.Millisecond) // before the first step
	runner := &multistep.BasicRunner{Steps: []multistep.Step{
		takes{clock, 3 * time.Second},
		p.step("download", takes{clock, 2 * time.Second}),
		takes{clock, 1500 * time.Millisecond},
		p.step("export", takes{clock, 4 * time.Second}),
	}}
	runner.Run(context.Background(), new(multistep.BasicStateBag))
	assert.Equal(t, "Time spent:"+
		"\n  download            2s"+
		"\n  export              4s"+
		"\n  other               5s"+
		"\n  total              11s", p.summary())
}

func TestPhasesWithoutUntimedTime(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	p := newPhases(clock.now)
	p.step("download", takes{clock, 2 * time.Second}).Run(context.Background(), nil)
	assert.Equal(t, "Time spent:\n  download            2s\n  total               2s", p.summary(), "no \"other\" line for nothing")
}
