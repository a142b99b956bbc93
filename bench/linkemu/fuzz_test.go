package linkemu

import (
	"testing"
	"time"
)

// FuzzModel builds a Spec from fuzzed numbers, skips the ones Validate
// rejects, and plans fuzzed traffic through it, checking the invariants of
// every Fate: no panic, 0 to 2 copies, no delivery before the send, a
// corrupted bit inside the packet, delivery times in order under KeepOrder
// (when nothing is sent early on purpose), and stats that add up.
func FuzzModel(f *testing.F) {
	f.Add(uint64(1), int64(50e6), int64(10e6), false, 0.05, false, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, int64(0), 0, []byte("\x05\xdc\x01"))
	f.Add(uint64(2), int64(20e6), int64(20e6), true, 0.0, true, 0.01, 0.25, 1.0, 0.0, 0.1, 0.02, 0.03, int64(20e6), 15000, []byte("\xff\xff\x00\x00\x00\x00\x05\xdc\x10"))
	f.Add(uint64(3), int64(0), int64(0), true, 1.0, false, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, int64(1), 1, []byte("\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, seed uint64, delay, jitter int64, keep bool, loss float64, useGE bool,
		p, r, lossBad, lossGood, reorder, dup, corrupt float64, rate int64, queue int, traffic []byte) {
		s := Spec{Delay: time.Duration(delay), Jitter: time.Duration(jitter), KeepOrder: keep, Loss: loss,
			Reorder: reorder, Duplicate: dup, Corrupt: corrupt, Rate: rate, Queue: queue}
		if useGE {
			s.GE = &GE{P: p, R: r, LossBad: lossBad, LossGood: lossGood}
		}
		if s.Validate() != nil {
			t.Skip()
		}
		m := NewModel(s, seed)
		now := t0
		var last time.Time
		// Three bytes per packet: a 16-bit size and a gap in units of
		// 10 µs, so traffic covers sizes 0..65535 and bursts as well
		// as idle links.
		for ; len(traffic) >= 3; traffic = traffic[3:] {
			n := int(traffic[0])<<8 | int(traffic[1])
			now = now.Add(time.Duration(traffic[2]) * 10 * time.Microsecond)
			fate := m.Plan(n, now)
			if fate.Copies < 0 || fate.Copies > 2 {
				t.Fatalf("seed %d: %d copies", seed, fate.Copies)
			}
			if fate.Corrupt && (fate.Bit < 0 || fate.Bit >= 8*n) {
				t.Fatalf("seed %d: bit %d of a %d-byte packet", seed, fate.Bit, n)
			}
			for i, at := range fate.At {
				if i >= fate.Copies {
					if !at.IsZero() {
						t.Fatalf("seed %d: unused At[%d] = %v", seed, i, at)
					}
					continue
				}
				if at.Before(now) {
					t.Fatalf("seed %d: delivery at %v, before the send at %v", seed, at, now)
				}
				if keep && reorder == 0 {
					if at.Before(last) {
						t.Fatalf("seed %d: KeepOrder: delivery at %v, before the previous at %v", seed, at, last)
					}
					last = at
				}
			}
		}
		st := m.Stats()
		if st.Packets-st.Lost+st.Duplicated != st.QueueDrops+st.Delivered {
			t.Fatalf("seed %d: stats do not add up: %+v", seed, st)
		}
	})
}
