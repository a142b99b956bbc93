package scenario

import (
	"os"
	"slices"
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
	want := []string{"random-loss/loss=0%", "random-loss/loss=1%", "random-loss/loss=5%", "random-loss/loss=10%", "random-loss/loss=30%", "bursty-ge-3pct-burst4", "ceiling", "idle-1000", "fairness-50mbit"}
	if !slices.Equal(names, want) {
		t.Fatalf("scenarios %q, want %q", names, want)
	}
	// The idle and fairness rows measure what issue 5 asks for.
	idle, fair := scs[len(scs)-2], scs[len(scs)-1]
	if idle.Workload != WorkloadIdle || idle.Connections != 1000 || !slices.Equal(idle.Transports, []string{"pydevts", "quic-go"}) ||
		idle.Duration-idle.Warmup < 2*15*time.Second {
		t.Errorf("idle-1000: %+v", idle)
	}
	if fair.Workload != WorkloadFairness || fair.AB.Rate != 50e6 || len(fair.Flows) != 2 ||
		!slices.Equal(fair.Flows[0], []string{"pydevts", "pydevts"}) || !slices.Equal(fair.Flows[1], []string{"pydevts", "tcp-cubic"}) {
		t.Errorf("fairness-50mbit: %+v", fair)
	}
}
