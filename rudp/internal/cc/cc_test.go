package cc

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func TestNewReno(t *testing.T) {
	c := NewNewReno(1200)
	if c.Window() != 12000 {
		t.Fatalf("initial window %d, want 10 datagrams", c.Window())
	}
	// Slow start: the window grows by what is acknowledged.
	c.OnAcked(t0, 12000, t0)
	if c.Window() != 24000 {
		t.Fatalf("after one window acked in slow start: %d", c.Window())
	}
	// A loss halves it once per event.
	c.OnLost(t0.Add(time.Second), 1200, t0.Add(900*time.Millisecond))
	if c.Window() != 12000 || !c.InRecovery(t0) {
		t.Fatalf("after a loss: %d", c.Window())
	}
	c.OnLost(t0.Add(time.Second), 1200, t0.Add(950*time.Millisecond)) // same event
	c.OnAcked(t0.Add(time.Second), 1200, t0.Add(990*time.Millisecond))
	if c.Window() != 12000 {
		t.Fatalf("second loss or ack of the same round changed the window: %d", c.Window())
	}
	// Congestion avoidance: one datagram per window acknowledged.
	sent := t0.Add(2 * time.Second)
	c.OnAcked(sent, 6000, sent)
	if c.InRecovery(sent) || c.Window() != 12000 {
		t.Fatalf("half a window in avoidance: %d", c.Window())
	}
	c.OnAcked(sent, 6000, sent)
	if c.Window() != 13200 {
		t.Fatalf("a whole window in avoidance: %d, want +1 datagram", c.Window())
	}
	// Never below two datagrams.
	for i := range 20 {
		at := t0.Add(time.Duration(3+i) * time.Second)
		c.OnLost(at, 1200, at)
	}
	if c.Window() != MinWindow(1200) {
		t.Fatalf("window after many losses %d", c.Window())
	}
	if r := c.PacingRate(100 * time.Millisecond); r != 1.25*2400/0.1 {
		t.Fatalf("pacing rate %v", r)
	}
}

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
