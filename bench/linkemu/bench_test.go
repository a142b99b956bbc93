package linkemu

import (
	"testing"
	"time"
)

// BenchmarkMemPair is the cost of one datagram through the pair, WriteTo
// and ReadFrom on one goroutine, in real time (no synctest): with no delay
// the datagram is delivered inside WriteTo, so this is the pair's own
// overhead, which a transport test pays per packet.
func BenchmarkMemPair(b *testing.B) {
	for _, bc := range []struct {
		name string
		spec Spec
	}{
		{"clean", Spec{}},
		{"lossy", Spec{Loss: 0.05, Duplicate: 0.01, Corrupt: 0.01}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			x, y, err := MemPair(MemConfig{AB: bc.spec})
			if err != nil {
				b.Fatal(err)
			}
			defer x.Close()
			defer y.Close()
			msg := make([]byte, 1400)
			buf := make([]byte, 2048)
			to := x.RemoteAddr()
			y.SetReadDeadline(time.Now().Add(time.Hour))
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x.WriteTo(msg, to); err != nil {
					b.Fatal(err)
				}
				for y.inboxLen() > 0 { // 0, 1 or 2 copies
					if _, _, err := y.ReadFrom(buf); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkModelPlan is the model's share of that cost.
func BenchmarkModelPlan(b *testing.B) {
	m := NewModel(Spec{Delay: 20 * time.Millisecond, Jitter: 2 * time.Millisecond, KeepOrder: true,
		GE: Burst(0.05, 4), Duplicate: 0.01, Corrupt: 0.01, Rate: 100_000_000}, 1)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		m.Plan(1400, now)
		now = now.Add(100 * time.Microsecond)
	}
}

// inboxLen is how many datagrams wait for c's reader.
func (c *MemConn) inboxLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inbox.len()
}
