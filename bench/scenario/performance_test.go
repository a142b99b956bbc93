package scenario

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPerformanceScenarios: the file the README's performance section
// tells users to run parses, and holds the rows the section shows.
func TestPerformanceScenarios(t *testing.T) {
	data, err := os.ReadFile("../../docs/bench/performance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scs, err := Parse(data, "performance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scs {
		names = append(names, s.Name)
	}
	want := []string{"random-loss/loss=0%", "random-loss/loss=1%", "random-loss/loss=5%", "random-loss/loss=10%", "random-loss/loss=30%",
		"bursty-ge-3pct-burst4", "messages-5pct-40ms", "ceiling", "idle-1000", "fairness-50mbit"}
	if !slices.Equal(names, want) {
		t.Fatalf("scenarios %q, want %q", names, want)
	}
	byName := func(name string) Scenario { return scs[slices.Index(names, name)] }
	// Issue 5's messages row: 1 KiB at 200/s, 5 % loss, 40 ms RTT, every
	// transport, and at least 2000 messages after the warm-up of each
	// repetition for the p99.
	m := byName("messages-5pct-40ms")
	if m.Workload != WorkloadMessages || m.MessageSize != 1024 || m.MessageRate != 200 || m.AB.Loss != 0.05 || m.BA.Loss != 0.05 ||
		m.AB.Delay+m.BA.Delay != 40*time.Millisecond || !slices.Equal(m.Transports, []string{"pydevts", "tcp-bbr", "tcp-cubic", "quic-go"}) ||
		m.MessageRate*(m.Duration-m.Warmup).Seconds() < 2000 {
		t.Errorf("%s: %+v", m.Name, m)
	}
	// The idle and fairness rows measure what issue 5 asks for.
	idle, fair := byName("idle-1000"), byName("fairness-50mbit")
	if idle.Workload != WorkloadIdle || idle.Connections != 1000 || !slices.Equal(idle.Transports, []string{"pydevts", "quic-go"}) ||
		idle.Duration-idle.Warmup < 2*15*time.Second {
		t.Errorf("idle-1000: %+v", idle)
	}
	if fair.Workload != WorkloadFairness || fair.AB.Rate != 50e6 || len(fair.Flows) != 2 ||
		!slices.Equal(fair.Flows[0], []string{"pydevts", "pydevts"}) || !slices.Equal(fair.Flows[1], []string{"pydevts", "tcp-cubic"}) {
		t.Errorf("fairness-50mbit: %+v", fair)
	}
}

// TestReadmeScenarios: every YAML example in the README's benchmark
// section parses, and the timeline example does what its text says.
func TestReadmeScenarios(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(data), "\n## Benchmark\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var examples []Scenario
	for i, block := range strings.Split(section, "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		ss, err := Parse([]byte(block), fmt.Sprintf("README.md example %d", i+1))
		if err != nil {
			t.Error(err)
		}
		examples = append(examples, ss...)
	}
	i := slices.IndexFunc(examples, func(s Scenario) bool { return s.Name == "handover" })
	if len(examples) < 3 || i < 0 {
		t.Fatalf("%d scenarios in the README's examples, no handover among them", len(examples))
	}
	h := examples[i]
	if len(h.Timeline) != 3 {
		t.Fatalf("handover: timeline %+v", h.Timeline)
	}
	gone, moved, lossy := h.Timeline[0], h.Timeline[1], h.Timeline[2]
	if gone.AB.Loss != 1 || gone.BA.Loss != 1 || gone.AB.Rate != 200e6 ||
		moved.AB.Loss != 0 || moved.AB.Delay != 30*time.Millisecond || moved.BA.Rate != 50e6 ||
		lossy.AB.Loss != 0 || lossy.BA.Loss != 0.02 || lossy.BA.Delay != 30*time.Millisecond {
		t.Errorf("handover: %+v", h.Timeline)
	}
}
