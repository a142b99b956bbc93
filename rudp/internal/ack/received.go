package ack

import (
	"time"

	"github.com/pydevts/pydevts/internal/rangeset"
	"github.com/pydevts/pydevts/internal/wire"
)

// Receiver is the receiver's side: which packets arrived, when an ACK is
// due, and which holes have stayed open long enough to REQUEST the missing
// packets. Pure and not safe for concurrent use.
type Receiver struct {
	// MaxAckDelay is how long an acknowledgment may wait for a second
	// packet to share it (RFC 9000 section 13.2.1; QUIC's default is 25 ms).
	MaxAckDelay time.Duration
	// AckEvery is how many ack-eliciting packets make an ACK due at once;
	// RFC 9000 recommends 2.
	AckEvery int

	got       rangeset.Set // packet numbers received and still reported
	largest   uint64
	largestAt time.Time
	any       bool
	pending   int           // ack-eliciting packets since the last ACK
	deadline  time.Time     // when an ACK must go; zero: none due
	gaps      []gap         // holes below largest, oldest first
	reorder   time.Duration // longest a hole took to fill by a late packet
	ranges    []wire.AckRange
}

// A gap is a hole in the received packet numbers, [start, end).
type gap struct {
	start, end uint64
	seen       time.Time // when the hole became visible
	requested  time.Time // when it was last REQUESTed; zero: never
}

// maxGaps bounds the holes remembered for REQUESTs; as many as an ACK can
// report.
const maxGaps = wire.MaxAckRanges

// maxRequestRanges bounds one REQUEST frame: 32 ranges are a few dozen
// bytes, and a receiver that misses more holes than that at once is better
// served by the sender's own loss detection.
const maxRequestRanges = 32

// OnPacket records packet pn, which arrived at now. Each packet number
// comes once: the session's replay window drops duplicates before this.
func (r *Receiver) OnPacket(pn uint64, ackEliciting bool, now time.Time) {
	r.got.Add(pn, pn+1)
	outOfOrder := false
	switch {
	case !r.any:
		r.largest, r.largestAt, r.any = pn, now, true
	case pn > r.largest:
		if pn > r.largest+1 {
			r.gaps = append(r.gaps, gap{start: r.largest + 1, end: pn, seen: now})
			if len(r.gaps) > maxGaps {
				r.gaps = append(r.gaps[:0], r.gaps[len(r.gaps)-maxGaps:]...)
			}
			outOfOrder = true
		}
		r.largest, r.largestAt = pn, now
	default:
		r.fill(pn, now)
		outOfOrder = true
	}
	if !ackEliciting {
		return
	}
	r.pending++
	switch {
	case r.pending >= max(r.AckEvery, 1) || outOfOrder:
		// Reordering or loss: tell the sender at once (RFC 9000
		// section 13.2.1), so its loss detection starts early.
		r.deadline = now
	case r.deadline.IsZero():
		r.deadline = now.Add(r.MaxAckDelay)
	}
}

// fill takes pn out of the gap that holds it. A hole is filled only by
// the very packet that was missing, late (a resent frame travels in a new
// packet), so the time it took measures how far the path reorders.
func (r *Receiver) fill(pn uint64, now time.Time) {
	for i := range r.gaps {
		g := &r.gaps[i]
		if pn < g.start || pn >= g.end {
			continue
		}
		r.reorder = max(r.reorder, now.Sub(g.seen))
		switch {
		case g.end-g.start == 1:
			r.gaps = append(r.gaps[:i], r.gaps[i+1:]...)
		case pn == g.start:
			g.start++
		case pn == g.end-1:
			g.end--
		default:
			tail := gap{start: pn + 1, end: g.end, seen: g.seen, requested: g.requested}
			g.end = pn
			r.gaps = append(r.gaps[:i+1], append([]gap{tail}, r.gaps[i+1:]...)...)
		}
		return
	}
}

// AckDeadline returns when an ACK is due, or zero.
func (r *Receiver) AckDeadline() time.Time { return r.deadline }

// HasAck reports whether there is anything to acknowledge.
func (r *Receiver) HasAck() bool { return !r.got.Empty() }

// AppendAck appends an ACK frame of at most maxLen bytes, reporting the
// newest ranges that fit, and returns it with the largest number it
// acknowledges; ok is false when there is nothing to acknowledge or no
// room. It clears the ACK deadline.
func (r *Receiver) AppendAck(b []byte, now time.Time, maxLen int) (out []byte, largest uint64, ok bool) {
	if r.got.Empty() {
		r.pending, r.deadline = 0, time.Time{} // nothing to acknowledge: nothing is due
		return b, 0, false
	}
	rs := r.got.Ranges()
	r.ranges = r.ranges[:0]
	for i := len(rs) - 1; i >= 0 && len(r.ranges) < wire.MaxAckRanges; i-- {
		r.ranges = append(r.ranges, wire.AckRange{Smallest: rs[i].Start, Largest: rs[i].End - 1})
	}
	delay := now.Sub(r.largestAt)
	if r.got.Max() != r.largest {
		delay = 0 // the largest we report arrived later than largestAt knows
	}
	for len(r.ranges) > 0 && wire.AckLen(r.ranges, delay) > maxLen {
		r.ranges = r.ranges[:len(r.ranges)-1]
	}
	if len(r.ranges) == 0 {
		return b, 0, false
	}
	r.pending, r.deadline = 0, time.Time{}
	return wire.AppendAck(b, r.ranges, delay), r.ranges[0].Largest, true
}

// OnAckAcknowledged is told that the peer received an ACK of ours whose
// largest was largest: it has learnt everything up to there, so those
// numbers need not be reported again (RFC 9000 section 13.2.4).
func (r *Receiver) OnAckAcknowledged(largest uint64) {
	r.got.RemoveBelow(largest + 1)
	for len(r.gaps) > 0 && r.gaps[0].end <= largest+1 {
		r.gaps = r.gaps[1:]
	}
	if len(r.gaps) > 0 && r.gaps[0].start <= largest {
		r.gaps[0].start = largest + 1
	}
}

// requestAge is how long a hole must stay open before it is requested: a
// quarter of the RTT, and at least 2 ms, is more than reordering on one
// path usually explains and less than the sender's own time threshold
// (9/8 RTT after sending), so the request arrives while it still helps;
// and longer than the longest reordering seen (with the same 9/8 margin as
// the sender's), so a merely late packet is not requested.
func (r *Receiver) requestAge(rtt time.Duration) time.Duration {
	return max(rtt/4, 2*time.Millisecond, r.reorder*9/8)
}

// AppendRequest appends a REQUEST for the holes that have been open at
// least requestAge and were not requested within the last RTT, newest
// first, within maxLen bytes; ok is false when there is none.
func (r *Receiver) AppendRequest(b []byte, now time.Time, rtt time.Duration, maxLen int) (out []byte, ok bool) {
	var ranges [maxRequestRanges]wire.AckRange
	n := 0
	age := r.requestAge(rtt)
	for i := len(r.gaps) - 1; i >= 0 && n < maxRequestRanges; i-- {
		g := &r.gaps[i]
		if now.Sub(g.seen) < age || (!g.requested.IsZero() && now.Sub(g.requested) < rtt) {
			continue
		}
		ranges[n] = wire.AckRange{Smallest: g.start, Largest: g.end - 1}
		if wire.AckLen(ranges[:n+1], 0)-1 > maxLen {
			break
		}
		g.requested = now
		n++
	}
	if n == 0 {
		return b, false
	}
	return wire.AppendRequest(b, ranges[:n]), true
}

// RequestDeadline returns when the next hole becomes due for a REQUEST, or
// zero when there is none.
func (r *Receiver) RequestDeadline(rtt time.Duration) time.Time {
	var next time.Time
	age := r.requestAge(rtt)
	for _, g := range r.gaps {
		// Both conditions AppendRequest checks: the hole is old enough
		// (age grows with the reordering seen, so it may pass after the
		// last request's RTT) and was not requested within the RTT.
		t := g.seen.Add(age)
		if !g.requested.IsZero() {
			if again := g.requested.Add(rtt); again.After(t) {
				t = again
			}
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Largest returns the largest packet number received.
func (r *Receiver) Largest() (uint64, bool) { return r.largest, r.any }
