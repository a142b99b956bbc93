package fec

import (
	"time"

	"github.com/klauspost/reedsolomon"
)

// Encoder groups a connection's data packets and computes their parity.
//
// The engine drives it per packet: Next reserves the packet's slot (group
// and index, written into the packet's FEC frame before the rest of the
// payload is built), Add hands over the finished plaintext, and Parity,
// called after every Add and when the FlushDeadline timer fires, returns the
// parity to send. Each Add folds its shard into the group's parity at once,
// so the Encoder keeps no copy of the data.
//
// A group's ratio is fixed when it opens: SetRatio takes effect at the next
// group. A slot reserved by Next stays reserved until Add, so a packet that
// was reserved but never built leaves no hole in its group. Call Parity
// after every Add: a complete group whose parity was not taken when Next
// opens the next group is dropped (its packets then rely on retransmission).
//
// An Encoder is not safe for concurrent use.
type Encoder struct {
	k, m int    // the ratio new groups take; m == 0 is off
	next uint64 // the number of the next group to open

	// The current group.
	open     bool      // a group has been opened and not yet closed
	group    uint64    // its number
	gk, gm   int       // its ratio
	n        int       // data shards added
	reserved bool      // Next gave slot n, Add has not filled it yet
	first    time.Time // when its first slot was reserved
	size     int       // its shard size so far: the largest data shard

	dirty   int // bytes of parity[:dirtyM] that may be nonzero
	dirtyM  int
	mul     *[256]reedsolomon.Encoder
	one     [1][]byte
	shard   [MaxShard]byte
	parity  [MaxParity][MaxShard]byte
	shards  [MaxParity][]byte
	dropped uint64
}

// NewEncoder returns an Encoder with FEC off (ratio MaxData+0), which
// SetRatio turns on.
func NewEncoder() *Encoder {
	return &Encoder{k: MaxData, mul: multipliers()}
}

// SetRatio sets how many parity shards (m) protect each group of up to k
// data shards, for groups opened from now on. k is clamped to [1, MaxData]
// and m to [0, MaxParity]; m == 0 turns FEC off, and Next then returns
// ok=false (a partial group still open is flushed as usual).
func (e *Encoder) SetRatio(k, m int) {
	e.k = min(max(k, 1), MaxData)
	e.m = min(max(m, 0), MaxParity)
}

// Ratio returns the ratio set by SetRatio.
func (e *Encoder) Ratio() (k, m int) { return e.k, e.m }

// Next reserves the slot of the next data packet: its group number and
// index, which the engine writes into the packet before it builds the rest
// of the payload. ok is false when FEC is off; the packet then belongs to no
// group. Calling Next again before Add returns the same slot.
func (e *Encoder) Next(now time.Time) (group uint64, index int, ok bool) {
	if e.m == 0 {
		e.reserved = false
		return 0, 0, false
	}
	if e.reserved {
		return e.group, e.n, true
	}
	if !e.open || e.n >= e.gk {
		if e.open {
			// Complete, and Parity was not asked for it.
			e.dropped++
		}
		e.openGroup(now)
	}
	e.reserved = true
	return e.group, e.n, true
}

// openGroup starts the next group with the current ratio.
func (e *Encoder) openGroup(now time.Time) {
	for j := range e.dirtyM {
		clear(e.parity[j][:e.dirty])
	}
	e.dirty, e.dirtyM = 0, 0
	e.open = true
	e.group = e.next
	e.next++
	e.gk, e.gm = e.k, e.m
	e.n, e.size = 0, 0
	e.first = now
}

// Add records the finished plaintext payload of the packet that took the
// slot Next reserved; pn is its packet number. It folds the packet into the
// group's parity and keeps nothing of payload. Without a reserved slot it
// does nothing. A payload longer than MaxPayload cannot be a shard: its
// group is dropped, and its packets rely on retransmission.
func (e *Encoder) Add(pn uint64, payload []byte) {
	if !e.reserved {
		return
	}
	e.reserved = false
	if len(payload) > MaxPayload {
		e.open = false
		e.dropped++
		return
	}
	l := putShard(e.shard[:], pn, payload)
	in := e.shard[:l]
	for j := range e.gm {
		mulAdd(e.mul, &e.one, cauchy[j][e.n], in, e.parity[j][:])
	}
	e.n++
	e.size = max(e.size, l)
	e.dirty = max(e.dirty, l)
	e.dirtyM = e.gm
}

// Parity returns the parity of the current group when it is complete (k
// data shards added), or, once flushAfter has passed since its first packet,
// of the partial group, with K its actual number of data shards. A group
// whose slot is reserved but not yet added is not flushed: its next shard is
// on the way. ok is false when there is nothing to send. The shards are
// valid until the next call on the Encoder (the engine sends them at once);
// Parity does not allocate.
func (e *Encoder) Parity(now time.Time, flushAfter time.Duration) (p Parity, ok bool) {
	if !e.open || e.n == 0 {
		return Parity{}, false
	}
	if e.n < e.gk && (e.reserved || now.Sub(e.first) < flushAfter) {
		return Parity{}, false
	}
	e.open = false
	for j := range e.gm {
		e.shards[j] = e.parity[j][:e.size]
	}
	return Parity{Group: e.group, K: e.n, M: e.gm, Shards: e.shards[:e.gm]}, true
}

// FlushDeadline reports when the current partial group must be flushed, for
// the engine's timer: flushAfter after its first packet. It is zero when no
// group waits for parity.
func (e *Encoder) FlushDeadline(flushAfter time.Duration) time.Time {
	if !e.open || e.n == 0 {
		return time.Time{}
	}
	return e.first.Add(flushAfter)
}

// Dropped returns how many groups lost their parity: dropped because Parity
// was not called before Next opened the next group, or because a payload
// was too long to be a shard.
func (e *Encoder) Dropped() uint64 { return e.dropped }
