package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestSoak is the CI version of `pydevts bench --soak`: 200 connections
// opened, used and closed over and over for a minute across a link that
// loses 5 % each way. Every transfer must verify, no goroutine may
// outlive the run, and the heap must not grow after warm-up.
// PYDEVTS_SOAK=10m runs it longer; -short runs 10 s. It does not run
// under the race detector, whose memory overhead would make the heap
// check meaningless and whose slowdown would leave the run mostly
// warm-up: .ci/run runs it on its own, without -race.
func TestSoak(t *testing.T) {
	if raceEnabled {
		t.Skip("the soak measures memory: run it without -race")
	}
	d := time.Minute
	if testing.Short() {
		d = 10 * time.Second
	}
	if v := os.Getenv("PYDEVTS_SOAK"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("PYDEVTS_SOAK=%q: %v", v, err)
		}
	}
	res, err := Soak(context.Background(), SoakConfig{Conns: 200, Duration: d, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d transfers (%d MB) and %d messages in %v; goroutines %d before, %d after; heap %d MiB after warm-up, %d MiB at the end",
		res.Transfers, res.Bytes>>20, res.Messages, d, res.GoroutinesBefore, res.GoroutinesAfter, res.HeapWarm>>20, res.HeapEnd>>20)
	for _, p := range res.Problems {
		t.Error(p)
	}
}
