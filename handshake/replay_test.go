package handshake

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// naiveWindow is the replay rule stated plainly: remember every packet
// number ever marked, refuse one more than ReplayWindow behind the newest.
type naiveWindow struct {
	seen   map[uint64]bool
	newest uint64
	any    bool
}

func (w *naiveWindow) check(pn uint64) error {
	switch {
	case w.any && pn <= w.newest && w.newest-pn >= ReplayWindow:
		return ErrPacketTooOld
	case w.seen[pn]:
		return ErrPacketReplayed
	}
	return nil
}

func (w *naiveWindow) mark(pn uint64) {
	w.seen[pn] = true
	if !w.any || pn > w.newest {
		w.newest, w.any = pn, true
	}
}

// TestReplayWindowAgainstNaive feeds the ring and the naive rule the same
// random streams (mostly forward, with jumps, reordering, duplicates and
// very old numbers) and requires the same verdict every time.
func TestReplayWindowAgainstNaive(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		var w replayWindow
		n := naiveWindow{seen: map[uint64]bool{}}
		next := uint64(r.IntN(3)) * (1 << 40) // sometimes start far from zero
		for i := range 50000 {
			var pn uint64
			switch k := r.IntN(100); {
			case k < 60:
				pn = next
				next++
			case k < 63:
				next += uint64(r.IntN(3 * ReplayWindow)) // a jump forward
				pn = next
			case k < 90 && next > 0:
				pn = next - 1 - uint64(r.IntN(int(min(next, 2*ReplayWindow)))) // late or duplicate
			default:
				pn = next + uint64(r.IntN(100)) // early
			}
			got, want := w.check(pn), n.check(pn)
			if !errors.Is(got, want) && got != want {
				t.Fatalf("seed %d step %d pn %d (newest %d): ring says %v, naive says %v", seed, i, pn, n.newest, got, want)
			}
			if got == nil {
				w.mark(pn)
				n.mark(pn)
			}
		}
	}
}
