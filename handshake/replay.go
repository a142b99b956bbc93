package handshake

// The replay window remembers which of the most recent packet numbers have
// been opened, in a ring of bits, as RFC 6479 describes (and WireGuard
// does). Moving the window forward clears whole words, so the ring holds one
// word more than the window it guarantees.
const (
	replayRingWords = 128
	// ReplayWindow is how far behind the newest packet number a packet may
	// arrive and still be accepted (once). One connection's packets may
	// travel several paths, a relay's TCP stream among them, and arrive far
	// out of order: 8128 packets is about 11 MB at 1400 bytes.
	ReplayWindow = (replayRingWords - 1) * 64
)

type replayWindow struct {
	newest uint64
	any    bool
	ring   [replayRingWords]uint64
}

// check returns nil when pn may be new: newer than everything, or within the
// window and not yet marked. It changes nothing, so a forged packet cannot
// move the window: only mark does, after authentication.
func (w *replayWindow) check(pn uint64) error {
	switch {
	case !w.any || pn > w.newest:
		return nil
	case w.newest-pn >= ReplayWindow:
		return ErrPacketTooOld
	}
	if w.ring[(pn/64)%replayRingWords]&(1<<(pn%64)) != 0 {
		return ErrPacketReplayed
	}
	return nil
}

// mark records pn as opened; check(pn) must have returned nil.
func (w *replayWindow) mark(pn uint64) {
	if !w.any || pn > w.newest {
		// Clear the words the window moves over, at most the whole ring.
		// (The ring starts zeroed, so the first mark needs no care.)
		from, to := w.newest/64+1, pn/64
		if to >= from && to-from >= replayRingWords {
			from = to - replayRingWords + 1
		}
		for i := from; i <= to; i++ {
			w.ring[i%replayRingWords] = 0
		}
		w.newest, w.any = pn, true
	}
	w.ring[(pn/64)%replayRingWords] |= 1 << (pn % 64)
}
