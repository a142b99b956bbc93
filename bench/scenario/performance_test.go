package scenario

import (
	"os"
	"slices"
	"testing"
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
	want := []string{"random-loss/loss=0%", "random-loss/loss=1%", "random-loss/loss=5%", "random-loss/loss=10%", "random-loss/loss=30%", "bursty-ge-3pct-burst4", "ceiling"}
	if !slices.Equal(names, want) {
		t.Fatalf("scenarios %q, want %q", names, want)
	}
}
