package handshake

import (
	"slices"
	"time"
)

// Replay protection for initiations (replay.go has that of packets). An
// Identity stamps each initiation with a timestamp above the last it
// made; the responder remembers, per peer, the stamps it accepted and
// refuses one it has seen. One peer may dial several connections at
// once, and their initiations may arrive in another order than they were
// made, so a stamp below the newest is not a replay by itself (where
// WireGuard, one handshake per peer at a time, accepts only a newer one):
// it is accepted if it is not among those seen, within replaySpan of the
// newest, and above the oldest kept. A replay gains an attacker nothing
// but a connection that is never confirmed (see doc.go), and the replay
// of an accepted initiation is refused.
const (
	// replayStamps bounds the stamps kept per peer: up to this many
	// initiations of one peer may overtake each other.
	replayStamps = 32
	// replaySpan is how much older than the newest stamp one may be: a
	// handshake timeout's worth.
	replaySpan = uint64(10 * time.Second)
)

// stamps is what a responder remembers of one peer's initiations:
// accepted stamps in ascending order, and floor, at or below which every
// stamp is refused (those forgotten were below it).
type stamps struct {
	floor uint64
	seen  []uint64
}

// fresh reports whether stamp would be accepted now.
func (s *stamps) fresh(stamp uint64) bool {
	if stamp <= s.floor {
		return false
	}
	if n := len(s.seen); n > 0 && (stamp+replaySpan <= s.seen[n-1] || n >= replayStamps && stamp < s.seen[0]) {
		return false // too old, or older than all the stamps kept
	}
	_, found := slices.BinarySearch(s.seen, stamp)
	return !found
}

// accept reports whether stamp is new, and remembers it if so.
func (s *stamps) accept(stamp uint64) bool {
	if !s.fresh(stamp) {
		return false
	}
	i, _ := slices.BinarySearch(s.seen, stamp)
	s.seen = slices.Insert(s.seen, i, stamp)
	newest := s.seen[len(s.seen)-1]
	drop := 0
	for drop < len(s.seen)-1 && (len(s.seen)-drop > replayStamps || s.seen[drop]+replaySpan <= newest) {
		s.floor = s.seen[drop]
		drop++
	}
	if drop > 0 {
		s.seen = append(s.seen[:0], s.seen[drop:]...)
	}
	return true
}
