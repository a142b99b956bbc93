package linkemu

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"
)

// Model is the impairment of one direction of a link: it decides, packet by
// packet, what netem would do with it. It is seeded, so the same Spec, seed
// and sequence of Plan calls give the same fates; it never reads the clock
// (now is a parameter), so any backend (the in-memory pair, a TUN link) can
// drive it in real or virtual time. A Model is not safe for concurrent use:
// its owner serialises the calls.
type Model struct {
	spec   Spec
	ge     GE   // a copy of *spec.GE, so the caller's GE may change freely
	useGE  bool // spec.GE was set
	rng    *rand.Rand
	bad    bool      // the Gilbert-Elliott chain is in its bad state
	free   time.Time // when the bottleneck has sent all it accepted (zero: never busy yet)
	lastAt time.Time // latest delivery time of a delayed packet, for KeepOrder
	stats  Stats
}

// Fate is what becomes of one packet given to [Model.Plan].
type Fate struct {
	// Copies is how many copies are delivered: 0 (dropped), 1, or 2
	// (duplicated).
	Copies int
	// At holds the delivery time of each copy, At[:Copies]; the rest are
	// zero. The times are never before the packet was sent, and may be in
	// either order (jitter, reorder).
	At [2]time.Time
	// Corrupt says that every delivered copy has bit Bit flipped.
	Corrupt bool
	// Bit is the index of the flipped bit, below 8 times the packet's size:
	// bit i is (data[i/8] >> (i%8)) & 1.
	Bit int
}

// Stats counts what a direction did with its packets. Every packet given
// to the model ends as Lost, or as one or two copies that are each either a
// QueueDrop or Delivered: Packets - Lost + Duplicated = QueueDrops +
// Delivered.
type Stats struct {
	Packets    uint64 // packets given to the model
	Bytes      uint64 // their bytes
	Lost       uint64 // packets lost at random (Loss or GE)
	QueueDrops uint64 // copies tail-dropped at the bottleneck queue
	Duplicated uint64 // packets that got a second copy
	Corrupted  uint64 // packets chosen for a flipped bit (counted when chosen, before the queue)
	// CorruptedCopies counts the copies of corrupted packets that left the
	// link: a corrupted packet that is also duplicated arrives twice with
	// its bad checksum, and one the queue drops never arrives.
	CorruptedCopies uint64
	Reordered       uint64 // copies sent without the delay
	Delivered       uint64 // copies that leave the link (a MemConn's inbox may still drop them)

	// MTUDrops counts datagrams larger than the path MTU, dropped before
	// they reached the model (so they are not in Packets). Only MemConn
	// counts them; a Model leaves them 0.
	MTUDrops uint64
	// InboxDrops counts delivered copies the receiver did not take because
	// its inbox was full (like SO_RCVBUF overflow): loss the spec did not
	// ask for. Only MemConn counts them; a Model leaves them 0.
	InboxDrops uint64
	// ClosedDrops counts copies sent to, or in flight to, a receiver that
	// had closed: a datagram to a closed port, which says nothing about
	// the link (the last packets of a connection meet it routinely). Only
	// MemConn counts them.
	ClosedDrops uint64
}

// pcgLow is the second half of the PCG state beside the caller's seed.
// Any fixed value works; this one (the 64-bit golden ratio) is the usual
// arbitrary odd constant, so that seed 0 starts from a mixed state.
const pcgLow = 0x9e3779b97f4a7c15

// NewModel returns a Model for s whose random decisions come from seed.
// It panics if s is invalid (see [Spec.Validate]): a spec is written by the
// test or scenario author, and a silently different link would make the
// run meaningless. Check user input with Validate first.
func NewModel(s Spec, seed uint64) *Model {
	return newModel(s, seed, pcgLow)
}

// newModel lets MemPair start its two directions from different PCG
// states with one seed.
func newModel(s Spec, seed, low uint64) *Model {
	m := &Model{rng: rand.New(rand.NewPCG(seed, low))}
	m.SetSpec(s)
	return m
}

// SetSpec makes s the impairment of later packets, for a timeline (an
// outage, a handover, a rate change). Packets already planned keep their
// fates. The Gilbert-Elliott state, the bottleneck's backlog and the
// KeepOrder horizon carry over, as they would on a real link whose
// conditions change. It panics if s is invalid, as NewModel does.
func (m *Model) SetSpec(s Spec) {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	m.spec = s
	m.useGE = s.GE != nil
	if m.useGE {
		m.ge = *s.GE
		m.spec.GE = &m.ge
	}
}

// Spec returns the impairment in force.
func (m *Model) Spec() Spec {
	s := m.spec
	if m.useGE {
		ge := m.ge
		s.GE = &ge
	}
	return s
}

// Stats returns the counters so far.
func (m *Model) Stats() Stats { return m.stats }

// Plan decides the fate of one packet of n bytes sent at now, in netem's
// stage order: (1) loss, Bernoulli or Gilbert-Elliott; (2) corruption of one
// bit; (3) duplication; then for each copy, as if it were an independent
// packet sent right after the first: (4) the bottleneck, serialisation at
// Rate behind what is queued, tail drop past Queue bytes; (5) the delay
// with its jitter, clamped by KeepOrder; (6) reorder, which skips (5).
//
// Calls must come in sending order, with now never decreasing: the model
// is the link, and the link sees packets in that order. A negative n
// counts as 0; an empty packet has no bit to corrupt.
func (m *Model) Plan(n int, now time.Time) Fate {
	n = max(n, 0)
	m.stats.Packets++
	m.stats.Bytes += uint64(n)

	if m.lose() {
		m.stats.Lost++
		return Fate{}
	}
	var f Fate
	if n > 0 && m.chance(m.spec.Corrupt) {
		// 8n bits, capped where uint64 would overflow: no real packet
		// comes near 2^60 bytes, but Plan must not panic on any int.
		nb := min(uint64(n), 1<<60)
		f.Corrupt = true
		f.Bit = int(m.rng.Uint64N(8 * nb))
		m.stats.Corrupted++
	}
	copies := 1
	if m.chance(m.spec.Duplicate) {
		copies = 2
		m.stats.Duplicated++
	}
	for range copies {
		at, ok := m.send(n, now)
		if !ok {
			m.stats.QueueDrops++
			continue
		}
		f.At[f.Copies] = at
		f.Copies++
		m.stats.Delivered++
		if f.Corrupt {
			m.stats.CorruptedCopies++
		}
	}
	if f.Copies == 0 {
		return Fate{}
	}
	return f
}

// lose is stage 1. The Gilbert-Elliott chain decides this packet's loss
// from the state it is in, then moves, as netem's loss_gilb_ell does.
func (m *Model) lose() bool {
	if !m.useGE {
		return m.chance(m.spec.Loss)
	}
	if m.bad {
		lost := m.chance(m.ge.LossBad)
		if m.chance(m.ge.R) {
			m.bad = false
		}
		return lost
	}
	lost := m.chance(m.ge.LossGood)
	if m.chance(m.ge.P) {
		m.bad = true
	}
	return lost
}

// send is stages 4 to 6 for one copy: its delivery time, or false if the
// bottleneck queue drops it.
func (m *Model) send(n int, now time.Time) (time.Time, bool) {
	s := &m.spec
	depart := now
	if s.Rate > 0 {
		start := now
		if m.free.After(now) {
			start = m.free
		}
		// The backlog is what the link still has to send, as bytes at
		// the current rate (a fluid queue: the packet being serialised
		// counts for its unsent part). After a rate change it is an
		// estimate, since it was queued at the old rate.
		backlog := mulDiv(uint64(start.Sub(now)), uint64(s.Rate), 8e9)
		if sat(backlog+uint64(n), backlog) > m.queueLimit() {
			return time.Time{}, false
		}
		depart = start.Add(serialise(n, s.Rate))
		m.free = depart
	}
	if m.chance(s.Reorder) {
		// netem sends a reordered packet at once, ahead of the delayed
		// ones; it does not move the KeepOrder horizon, which is about
		// the delayed packets.
		m.stats.Reordered++
		return depart, true
	}
	d := s.Delay
	if s.Jitter > 0 {
		// Uniform over the 2*Jitter+1 nanoseconds of the closed range.
		d += time.Duration(m.rng.Int64N(2*int64(s.Jitter)+1)) - s.Jitter
	}
	at := depart.Add(d)
	if s.KeepOrder && at.Before(m.lastAt) {
		at = m.lastAt
	}
	if at.After(m.lastAt) {
		m.lastAt = at
	}
	return at, true
}

// queueLimit is the bottleneck queue in bytes: Spec.Queue, or its default.
func (m *Model) queueLimit() uint64 {
	if m.spec.Queue > 0 {
		return uint64(m.spec.Queue)
	}
	bdp := mulDiv(uint64(m.spec.Rate), uint64(2*m.spec.Delay), 8e9)
	return max(bdp, DefaultQueue)
}

// chance is true with probability p. Certain outcomes draw no number, so
// a probability of 0 adds nothing to a Spec: the other decisions stay as
// they were without it.
func (m *Model) chance(p float64) bool {
	switch {
	case p <= 0:
		return false
	case p >= 1:
		return true
	}
	return m.rng.Float64() < p
}

// serialise is the time n bytes take at rate bits per second, rounded up
// to the nanosecond so that the link never runs faster than its rate.
func serialise(n int, rate int64) time.Duration {
	hi, lo := bits.Mul64(uint64(n), 8e9)
	if hi >= uint64(rate) {
		return math.MaxInt64 // beyond any run; time.Time.Add saturates
	}
	q, r := bits.Div64(hi, lo, uint64(rate))
	if r > 0 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(q)
}

// mulDiv is a*b/c rounded down, saturated at the maximum uint64.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		return math.MaxUint64
	}
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// sat returns sum, or the maximum uint64 if computing it wrapped (sum is
// smaller than one of its terms).
func sat(sum, term uint64) uint64 {
	if sum < term {
		return math.MaxUint64
	}
	return sum
}

// String gives the fate in one line, for test failures.
func (f Fate) String() string {
	switch f.Copies {
	case 0:
		return "dropped"
	case 1:
		return fmt.Sprintf("at %s corrupt=%v bit=%d", f.At[0].Format(time.RFC3339Nano), f.Corrupt, f.Bit)
	}
	return fmt.Sprintf("at %s and %s corrupt=%v bit=%d",
		f.At[0].Format(time.RFC3339Nano), f.At[1].Format(time.RFC3339Nano), f.Corrupt, f.Bit)
}
