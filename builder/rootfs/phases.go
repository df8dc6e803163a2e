package rootfs

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
	names     []string
	durations []time.Duration
}

// step wraps s so that its Run is timed as the phase name.
func (p *phases) step(name string, s multistep.Step) multistep.Step {
	return &timedStep{Step: s, name: name, phases: p}
}

func (p *phases) add(name string, d time.Duration) {
	p.names = append(p.names, name)
	p.durations = append(p.durations, d)
}

// summary is one line per phase and the total.
func (p *phases) summary() string {
	var b strings.Builder
	var total time.Duration
	b.WriteString("Time spent:")
	for i, name := range p.names {
		fmt.Fprintf(&b, "\n  %-13s %8s", name, p.durations[i].Round(100*time.Millisecond))
		total += p.durations[i]
	}
	fmt.Fprintf(&b, "\n  %-13s %8s", "total", total.Round(100*time.Millisecond))
	return b.String()
}

type timedStep struct {
	multistep.Step
	name   string
	phases *phases
}

func (t *timedStep) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	start := time.Now()
	action := t.Step.Run(ctx, state)
	t.phases.add(t.name, time.Since(start))
	return action
}
