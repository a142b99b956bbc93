package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestProgressLines follows a small plan in plain-line mode (what a log or
// CI sees): one line with the number of runs and the estimate, then one
// per run, before it starts, with its scenario, transport, repetition and
// the time left counting down by each run's duration plus perRunOverhead
// (1.5 s). Kernel TCP over the in-memory link is skipped at once, so the
// plan costs no time to follow.
func TestProgressLines(t *testing.T) {
	ss := parse(t, `
defaults:
  duration: 2500ms       # 4 s a run with the overhead
  warmup: 500ms
  transports: [tcp-cubic, tcp-bbr]
scenarios:
  - name: clean
    repetitions: 2
    link: {delay: 5ms, rate: 100mbit}
  - name: random-loss
    repetitions: 1
    duration: 4500ms     # 6 s
    link: {delay: 5ms, rate: 100mbit}
    matrix: {loss: [5%]}
`)
	var out bytes.Buffer
	results, err := Run(context.Background(), Options{Scenarios: ss, MemOnly: true, Progress: NewProgress(&out, false)})
	if err != nil || len(results) != 6 {
		t.Fatalf("Run: %d results, %v", len(results), err)
	}
	want := strings.Join([]string{
		"bench: 6 runs, about 28s",
		"bench: [1/6] clean · tcp-cubic · rep 1/2 (about 28s left)",
		"bench: [2/6] clean · tcp-bbr · rep 1/2 (about 24s left)",
		"bench: [3/6] clean · tcp-bbr · rep 2/2 (about 20s left)", // the order rotates
		"bench: [4/6] clean · tcp-cubic · rep 2/2 (about 16s left)",
		"bench: [5/6] random-loss/loss=5% · tcp-cubic · rep 1/1 (about 12s left)",
		"bench: [6/6] random-loss/loss=5% · tcp-bbr · rep 1/1 (about 6s left)",
		"",
	}, "\n")
	if got := out.String(); got != want {
		t.Errorf("progress lines:\n%s\nwant:\n%s", got, want)
	}
}
