package rudp

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// TestPersistentCongestion: an outage in the middle of a transfer is
// persistent congestion (every packet sent over several probe timeouts
// lost) and the controller starts over; heavy random loss is not; and in
// both cases every byte arrives.
func TestPersistentCongestion(t *testing.T) {
	for _, tt := range []struct {
		name   string
		loss   float64
		outage bool
	}{
		{"outage", 0, true},
		{"random loss 20%", 0.2, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				spec := linkemu.Spec{Delay: 10 * time.Millisecond, Rate: 50_000_000, Loss: tt.loss}
				cfg := &Config{IdleTimeout: time.Minute, HandshakeTimeout: time.Minute} // loss may take a few tries
				p := newPair(t, spec, cfg, cfg)
				client, server := p.connect(t)
				if tt.outage {
					go func() {
						time.Sleep(500 * time.Millisecond)
						p.la.SetSpec(linkemu.Spec{Loss: 1})
						p.lb.SetSpec(linkemu.Spec{Loss: 1})
						time.Sleep(2 * time.Second)
						p.la.SetSpec(spec)
						p.lb.SetSpec(spec)
					}()
				}
				transfer(t, client, server, bytes.Repeat([]byte("persistent congestion "), 400_000)) // 8.8 MB
				st := client.Stats()
				t.Logf("persistent congestion %d times, %d PTOs, %d lost", st.PersistentCongestion, st.ProbeTimeouts, st.PacketsLost)
				if tt.outage && st.PersistentCongestion == 0 {
					t.Error("a 2 s outage was not taken for persistent congestion")
				}
				if !tt.outage && st.PersistentCongestion != 0 {
					t.Errorf("random loss taken for persistent congestion %d times", st.PersistentCongestion)
				}
			})
		})
	}
}
