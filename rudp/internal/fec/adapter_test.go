package fec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestParityFor pins the thresholds adapter.go documents, and checks each m
// against the definition by brute force over all loss patterns of a group.
func TestParityFor(t *testing.T) {
	tests := []struct {
		loss float64
		m    int
	}{
		{0, 0}, {0.001, 0}, {0.0011, 1}, {0.013, 1}, {0.015, 2}, {0.038, 2}, {0.039, 3},
		{0.099, 4}, {0.103, 5}, {0.25, 9}, {0.26, MaxParity}, {0.9, MaxParity}, {1, MaxParity},
	}
	for _, tt := range tests {
		if got := parityFor(MaxData, tt.loss); got != tt.m {
			t.Errorf("parityFor(%v) = %d, want %d", tt.loss, got, tt.m)
		}
	}
	// binomialTail against counting loss patterns of n <= 14 shards.
	for n := 1; n <= 14; n++ {
		for m := 0; m < n; m++ {
			p := 0.07
			var want float64
			for pat := 0; pat < 1<<n; pat++ {
				lost := 0
				for b := range n {
					lost += pat >> b & 1
				}
				if lost > m {
					want += math.Pow(p, float64(lost)) * math.Pow(1-p, float64(n-lost))
				}
			}
			if got := binomialTail(n, m, p); math.Abs(got-want) > 1e-12 {
				t.Fatalf("binomialTail(%d, %d) = %v, want %v", n, m, got, want)
			}
		}
	}
}

func TestAdapter(t *testing.T) {
	var a Adapter
	if k, m := a.Ratio(); k != MaxData || m != 0 {
		t.Fatalf("zero Adapter: %d+%d, want FEC off", k, m)
	}
	// run reports rtts round trips of perRTT packets lost at rate loss,
	// exactly, so that the estimate converges to it.
	run := func(rtts int, perRTT uint64, loss float64) {
		for range rtts {
			a.Observe(perRTT, uint64(math.Round(loss*float64(perRTT))))
			if _, m := a.Ratio(); m < 0 || m > MaxParity {
				t.Fatalf("m = %d out of [0, %d]", m, MaxParity)
			}
		}
	}
	run(100, 100, 0)
	if _, m := a.Ratio(); m != 0 {
		t.Fatalf("clean path: m = %d", m)
	}
	// The ratio rises with loss.
	prev := 0
	for _, loss := range []float64{0.005, 0.02, 0.05, 0.1, 0.2} {
		run(100, 1000, loss)
		_, m := a.Ratio()
		if m <= prev {
			t.Fatalf("at %v loss m = %d, not above %d", loss, m, prev)
		}
		if want := parityFor(MaxData, loss); m != want {
			t.Errorf("at %v loss m = %d, want %d (estimate %.4f)", loss, m, want, a.Loss())
		}
		prev = m
	}
	// Capped however bad the path.
	run(100, 100, 0.8)
	if _, m := a.Ratio(); m != MaxParity {
		t.Fatalf("at 80%% loss m = %d, want the cap %d", m, MaxParity)
	}
	a.Observe(10, 1000) // more lost than sent counts as all
	if a.Loss() > 1 {
		t.Fatalf("loss estimate %v above 1", a.Loss())
	}
	// Back to 0 once loss stops, within a few windows.
	run(5, 100, 0)
	if _, m := a.Ratio(); m == 0 || m == MaxParity {
		t.Fatalf("500 clean packets after 80%% loss: m = %d, want falling", m)
	}
	run(60, 100, 0)
	if _, m := a.Ratio(); m != 0 {
		t.Fatalf("after 6500 more clean packets m = %d, want 0 (estimate %v)", m, a.Loss())
	}
	// Reporting more or less often does not change the estimate.
	var b, c Adapter
	b.Observe(1000, 50)
	for range 10 {
		c.Observe(100, 5)
	}
	if math.Abs(b.Loss()-c.Loss()) > 1e-3 {
		t.Fatalf("one report of 1000: %v; ten of 100: %v", b.Loss(), c.Loss())
	}
}

// TestAdapterRandom feeds random reports: the ratio stays within bounds.
func TestAdapterRandom(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 0))
	var a Adapter
	for range 10000 {
		sent := r.Uint64N(1 << uint(r.IntN(20)))
		a.Observe(sent, r.Uint64N(sent+2))
		if k, m := a.Ratio(); k != MaxData || m < 0 || m > MaxParity || a.Loss() < 0 || a.Loss() > 1 {
			t.Fatalf("seed %d: ratio %d+%d, estimate %v", seed, k, m, a.Loss())
		}
	}
}

// TestAdapterHysteresis: once on, FEC stays on until the estimate falls
// clearly below the threshold that turned it on.
func TestAdapterHysteresis(t *testing.T) {
	var a Adapter
	a.Observe(1, 1) // one loss: 1/256 of the way to 100 %
	if _, m := a.Ratio(); m != 1 {
		t.Fatalf("after one loss m = %d, want 1", m)
	}
	a.Observe(300, 0) // about 0.12 %: between the thresholds
	if _, m := a.Ratio(); m != 1 {
		t.Fatalf("estimate %.5f: m = %d, want still 1", a.Loss(), m)
	}
	a.Observe(300, 0) // below offBelow
	if _, m := a.Ratio(); m != 0 || a.Loss() >= offBelow {
		t.Fatalf("estimate %.5f: m = %d, want 0", a.Loss(), m)
	}
	// And 0.08 % from off does not turn it on.
	var b Adapter
	b.Observe(10000, 8)
	if _, m := b.Ratio(); m != 0 {
		t.Fatalf("estimate %.5f from off: m = %d, want 0", b.Loss(), m)
	}
}

// TestAdapterParityForPartialGroups checks the parity of an early-flushed
// group: none while FEC is off, at least one once on, fewer for a short
// group than a full one, and each count meets groupLossTarget.
func TestAdapterParityForPartialGroups(t *testing.T) {
	var a Adapter
	for k := 0; k <= MaxData+1; k++ {
		if m := a.ParityFor(k); m != 0 {
			t.Fatalf("FEC off: ParityFor(%d) = %d, want 0", k, m)
		}
	}
	for range 100 {
		a.Observe(100, 5)
	}
	_, full := a.Ratio()
	if got := a.ParityFor(MaxData); got != full {
		t.Fatalf("ParityFor(%d) = %d, Ratio's m = %d", MaxData, got, full)
	}
	if got := a.ParityFor(MaxData + 5); got != full {
		t.Fatalf("ParityFor above MaxData = %d, want the full group's %d", got, full)
	}
	if one := a.ParityFor(1); one != 1 || one >= full {
		t.Fatalf("ParityFor(1) at 5%% loss = %d (full group %d), want 1", one, full)
	}
	for k := 1; k <= MaxData; k++ {
		m := a.ParityFor(k)
		if m < 1 || m > full {
			t.Fatalf("ParityFor(%d) = %d outside [1, %d]", k, m, full)
		}
		if tail := binomialTail(k+m, m, a.Loss()); tail > groupLossTarget {
			t.Fatalf("ParityFor(%d) = %d leaves group loss %.4f > %v", k, m, tail, groupLossTarget)
		}
		if m > 1 && binomialTail(k+m-1, m-1, a.Loss()) <= groupLossTarget {
			t.Fatalf("ParityFor(%d) = %d is not the smallest", k, m)
		}
	}
}
