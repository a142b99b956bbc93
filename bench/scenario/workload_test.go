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
	if !slices.Contains(KnownWorkloads, s.Workload) || s.Ceiling && s.Workload != WorkloadBulk && s.Workload != WorkloadIdle {
		return fmt.Errorf("workload %q (ceiling %v)", s.Workload, s.Ceiling)
	}
	if s.Workload != WorkloadMessages && (s.MessageSize != 0 || s.MessageRate != 0) {
		return fmt.Errorf("message size %d, rate %v in a %s run", s.MessageSize, s.MessageRate, s.Workload)
	}
	if s.Workload != WorkloadIdle && s.Connections != 0 {
		return fmt.Errorf("%d connections in a %s run", s.Connections, s.Workload)
	}
	if s.Workload != WorkloadFairness && (s.Flows != nil || s.Stagger != 0) {
		return fmt.Errorf("flows %v, stagger %v in a %s run", s.Flows, s.Stagger, s.Workload)
	}
	if (s.Workload == WorkloadIdle || s.Workload == WorkloadFairness) && len(s.Timeline) > 0 {
		return fmt.Errorf("a timeline in a %s run", s.Workload)
	}
	switch s.Workload {
	case WorkloadMessages:
		if s.MessageSize < MinMessageSize || s.MessageSize > MaxMessageSize ||
			!(s.MessageRate > 0 && s.MessageRate <= MaxMessageRate) || s.MessageRate*(s.Duration-s.Warmup).Seconds() < 1 ||
			s.MessageRate*s.Duration.Seconds() > MaxMessages {
			return fmt.Errorf("%d-byte messages at %v/s for %v (warmup %v)", s.MessageSize, s.MessageRate, s.Duration, s.Warmup)
		}
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

// TestAllWorkloads: the four workloads side by side in one file, each
// with its own keys, and message keys in defaults that only the messages
// scenarios take up.
func TestAllWorkloads(t *testing.T) {
	ss := parseOne(t, lines(
		"defaults:",
		"  message_size: 512B",
		"  transports: [pydevts, tcp-bbr, quic-go]",
		"scenarios:",
		"  - name: b",
		"    link: {delay: 5ms}",
		"    timeline: [{at: 2s, set: {loss: 1%}}]",
		"  - name: m",
		"    workload: messages",
		"    link: {delay: 20ms, loss: 5%}",
		"    message_rate: 100/s",
		"    timeline: [{at: 2s, set: {loss: 10%}}]",
		"  - name: i",
		"    workload: idle",
		"    ceiling: true",
		"    connections: 50",
		"  - name: f",
		"    workload: fairness",
		"    link: {delay: 10ms, rate: 50mbit}",
		"    flows: [pydevts, tcp-cubic]",
		"    duration: 8s",
		"    stagger: 1s",
	))
	if err := checkScenarios(ss); err != nil {
		t.Fatal(err)
	}
	b, m, i, f := ss[0], ss[1], ss[2], ss[3]
	if b.Workload != WorkloadBulk || b.MessageSize != 0 || len(b.Timeline) != 1 {
		t.Errorf("bulk: %+v", b)
	}
	if m.Workload != WorkloadMessages || m.MessageSize != 512 || m.MessageRate != 100 || len(m.Timeline) != 1 ||
		!slices.Equal(m.Transports, []string{"pydevts", "tcp-bbr", "quic-go"}) {
		t.Errorf("messages: %+v", m)
	}
	if i.Workload != WorkloadIdle || i.Connections != 50 || !i.Ceiling || i.MessageSize != 0 || !slices.Equal(i.Transports, []string{"pydevts", "quic-go"}) {
		t.Errorf("idle: %+v", i)
	}
	if f.Workload != WorkloadFairness || f.Stagger != time.Second || f.MessageSize != 0 || !slices.Equal(f.Transports, []string{"pydevts", "tcp-cubic"}) {
		t.Errorf("fairness: %+v", f)
	}
}
