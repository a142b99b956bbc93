package cc

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestPacer(t *testing.T) {
	var p Pacer
	rate := 1_200_000.0 // 1000 packets of 1200 bytes a second: one per ms
	now := t0
	// The burst leaves at once...
	for i := range 10 {
		if d := p.Delay(now, rate, 1200); d != 0 {
			t.Fatalf("packet %d of the burst delayed %v", i, d)
		}
		p.OnSent(now, rate, 1200)
	}
	// ...then one packet per millisecond.
	if d := p.Delay(now, rate, 1200); d != time.Millisecond {
		t.Fatalf("after the burst: wait %v, want 1ms", d)
	}
	now = now.Add(time.Millisecond)
	if d := p.Delay(now, rate, 1200); d != 0 {
		t.Fatalf("after 1ms: wait %v", d)
	}
	p.OnSent(now, rate, 1200)
	// A long quiet spell refills only up to the burst.
	now = now.Add(time.Hour)
	sent := 0
	for p.Delay(now, rate, 1200) == 0 {
		p.OnSent(now, rate, 1200)
		sent++
	}
	if sent != 10 {
		t.Fatalf("%d packets left back to back after a quiet hour, want the burst of 10", sent)
	}
}

// TestPacerKeepsItsRateWithLateTimers: a sender whose every wait ends a
// millisecond late, as Go's timers on Linux do, still sends at the pacing
// rate, because the burst holds what the rate sends in TimerGranularity.
func TestPacerKeepsItsRateWithLateTimers(t *testing.T) {
	var p Pacer
	rate := 25e6 // 200 Mbit/s: a 1200-byte packet every 48 µs
	now := t0
	sent := 0
	for now.Before(t0.Add(time.Second)) {
		if d := p.Delay(now, rate, 1200); d > 0 {
			now = now.Add(d + time.Millisecond) // the timer fires late
			continue
		}
		p.OnSent(now, rate, 1200)
		sent += 1200
	}
	if got := float64(sent); got < 0.98*rate {
		t.Fatalf("paced %.1f MB in a second with late timers, rate %.1f MB/s", got/1e6, rate/1e6)
	}
	if burst := rate * TimerGranularity.Seconds(); burst < DefaultBurst {
		t.Fatalf("the burst at 200 Mbit/s (%v bytes) is below the default", burst)
	}
}
