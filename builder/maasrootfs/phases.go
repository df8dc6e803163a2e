package maasrootfs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
)

// phases records how long each phase of the build took, for the summary
// that tells users where the time goes (boot under TCG, their own
// provisioners, the export).
type phases struct {
	// now is the clock (time.Now unless a test sets it).
	now       func() time.Time
	start     time.Time
	names     []string
	durations []time.Duration
}

// newPhases starts the build's clock: the summary's total is the wall time
// from here, untimed steps (overlay, seed, QEMU start) included.
func newPhases(now func() time.Time) *phases {
	return &phases{now: now, start: now()}
}

// step wraps s so that its Run is timed as the phase name.
func (p *phases) step(name string, s multistep.Step) multistep.Step {
	return &timedStep{Step: s, name: name, phases: p}
}

func (p *phases) add(name string, d time.Duration) {
	p.names = append(p.names, name)
	p.durations = append(p.durations, d)
}

// summary is one line per phase, "other" for the time between them, and
// the total wall time so far.
func (p *phases) summary() string {
	const unit = 100 * time.Millisecond
	var b strings.Builder
	var timed time.Duration
	b.WriteString("Time spent:")
	for i, name := range p.names {
		fmt.Fprintf(&b, "\n  %-13s %8s", name, p.durations[i].Round(unit))
		timed += p.durations[i]
	}
	total := p.now().Sub(p.start)
	if other := total - timed; other >= unit/2 {
		fmt.Fprintf(&b, "\n  %-13s %8s", "other", other.Round(unit))
	}
	fmt.Fprintf(&b, "\n  %-13s %8s", "total", total.Round(unit))
	return b.String()
}

type timedStep struct {
	multistep.Step
	name   string
	phases *phases
}

func (t *timedStep) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	start := t.phases.now()
	action := t.Step.Run(ctx, state)
	t.phases.add(t.name, t.phases.now().Sub(start))
	return action
}
