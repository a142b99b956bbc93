package scenario

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// checkWorkloadFields reports a broken invariant of a run's workload
// fields, for checkScenarios.
func checkWorkloadFields(s Scenario) error {
	if !slices.Contains(Workloads, s.Workload) {
		return fmt.Errorf("workload %q", s.Workload)
	}
	if s.Workload != WorkloadIdle && s.Connections != 0 {
		return fmt.Errorf("%d connections in a %s run", s.Connections, s.Workload)
	}
	if s.Workload != WorkloadFairness && (s.Flows != nil || s.Stagger != 0) {
		return fmt.Errorf("flows %v, stagger %v in a %s run", s.Flows, s.Stagger, s.Workload)
	}
	if s.Workload != WorkloadBulk && len(s.Timeline) > 0 {
		return fmt.Errorf("a timeline in a %s run", s.Workload)
	}
	switch s.Workload {
	case WorkloadIdle:
		if s.Connections < 1 || s.Connections > maxConnections {
			return fmt.Errorf("%d connections", s.Connections)
		}
		for _, t := range s.Transports {
			if !slices.Contains(idleTransports, t) {
				return fmt.Errorf("idle run of %s", t)
			}
		}
	case WorkloadFairness:
		var named []string
		for _, p := range s.Flows {
			if len(p) != 2 {
				return fmt.Errorf("flows %v", s.Flows)
			}
			for _, t := range p {
				if !slices.Contains(named, t) {
					named = append(named, t)
				}
			}
		}
		switch {
		case len(s.Flows) == 0 || !slices.Equal(named, s.Transports):
			return fmt.Errorf("flows %v, transports %v", s.Flows, s.Transports)
		case s.Ceiling || s.AB.Rate <= 0:
			return fmt.Errorf("fairness without a bottleneck: ceiling %v, rate %d", s.Ceiling, s.AB.Rate)
		case s.Stagger < 0 || s.Stagger+s.Warmup >= s.Duration:
			return fmt.Errorf("stagger %v, warmup %v, duration %v", s.Stagger, s.Warmup, s.Duration)
		}
	}
	return nil
}

func TestWorkloads(t *testing.T) {
	ss := parseOne(t, lines(
		"defaults:",
		"  transports: [pydevts, tcp-cubic, quic-go]",
		"scenarios:",
		"  - name: bulk",
		"  - name: idle-loopback",
		"    workload: idle",
		"    ceiling: true",
		"  - name: idle-link",
		"    workload: idle",
		"    connections: 20",
		"    transports: [quic-go]",
		"    link: {delay: 5ms}",
		"  - name: pair",
		"    workload: fairness",
		"    link: {delay: 10ms, rate: 50mbit, queue: 125000}",
		"    flows: [pydevts, pydevts]",
		"    duration: 20s",
		"    warmup: 5s",
		"    stagger: 2s",
		"  - name: pairs",
		"    workload: fairness",
		"    a_to_b: {rate: 10mbit}",
		"    flows:",
		"      - [tcp-cubic, pydevts]",
		"      - [pydevts, quic-go]",
	))
	want := []struct {
		workload    string
		connections int
		transports  []string
		flows       [][]string
		stagger     time.Duration
	}{
		{WorkloadBulk, 0, []string{"pydevts", "tcp-cubic", "quic-go"}, nil, 0},
		// Inherited transports are narrowed to those the workload runs.
		{WorkloadIdle, DefaultConnections, []string{"pydevts", "quic-go"}, nil, 0},
		{WorkloadIdle, 20, []string{"quic-go"}, nil, 0},
		{WorkloadFairness, 0, []string{"pydevts"}, [][]string{{"pydevts", "pydevts"}}, 2 * time.Second},
		{WorkloadFairness, 0, []string{"tcp-cubic", "pydevts", "quic-go"}, [][]string{{"tcp-cubic", "pydevts"}, {"pydevts", "quic-go"}}, 0},
	}
	for i, s := range ss {
		w := want[i]
		if s.Workload != w.workload || s.Connections != w.connections || !slices.Equal(s.Transports, w.transports) ||
			!slices.EqualFunc(s.Flows, w.flows, slices.Equal) || s.Stagger != w.stagger {
			t.Errorf("%s: workload %s, %d connections, transports %v, flows %v, stagger %v; want %+v",
				s.Name, s.Workload, s.Connections, s.Transports, s.Flows, s.Stagger, w)
		}
	}
	if s := ss[3]; s.AB.Rate != 50e6 || s.AB.Queue != 125000 {
		t.Errorf("pair: link %+v", s.AB)
	}
}

// TestWorkloadDefaults: a workload set in defaults applies to every
// scenario, and a scenario's own workload overrides it.
func TestWorkloadDefaults(t *testing.T) {
	ss := parseOne(t, lines(
		"defaults: {workload: idle, transports: [pydevts]}",
		"scenarios:",
		"  - name: a",
		"    connections: 5",
		"  - name: b",
		"    workload: bulk",
	))
	if ss[0].Workload != WorkloadIdle || ss[0].Connections != 5 || ss[1].Workload != WorkloadBulk || ss[1].Connections != 0 {
		t.Fatalf("got %+v and %+v", ss[0], ss[1])
	}
}

// TestWorkloadFlowsFresh: each run of a matrix has its own flows.
func TestWorkloadFlowsFresh(t *testing.T) {
	ss := parseOne(t, ok(
		"    workload: fairness",
		"    flows: [pydevts, tcp-cubic]",
		"    matrix: {rate: [10mbit, 20mbit]}",
	))
	ss[0].Flows[0][0] = "x"
	if ss[1].Flows[0][0] != "pydevts" {
		t.Fatal("two runs share their flows")
	}
}

// TestWorkloadErrorsArePositioned: workload errors are parse errors like
// any other, with file, line and field.
func TestWorkloadErrorsArePositioned(t *testing.T) {
	_, err := Parse([]byte(ok("    workload: fairness")), "w.yaml")
	var pe *parseError
	if !errors.As(err, &pe) || pe.line != 2 || pe.path != "scenarios[0].name" {
		t.Fatalf("got %v", err)
	}
}
