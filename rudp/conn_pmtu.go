package rudp

import (
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/ack"
)

// Path MTU discovery, after RFC 8899 (DPLPMTUD) in the shape QUIC uses it
// (RFC 9000 section 14.3). A connection sends baseDatagram-byte packets,
// which every path carries, and probes for larger ones with packets of a
// PING and PADDING: a probe that is acknowledged proves its size, one
// lost pmtuTries times in a row disproves it. The first probe asks for the
// largest size both sides allow (by default what a 1500-byte Ethernet MTU
// carries: 1472 bytes over IPv4, 1452 over IPv6), which most paths carry;
// if that fails,
// a binary search finds the largest that passes, to within pmtuStep.
// The carrier sets the don't-fragment bit, so a probe too large for a
// link is dropped rather than fragmented.
//
// Probes do not count toward congestion control (their loss says nothing
// of congestion), go only while data is moving (an idle connection sends
// nothing for this), and at most one is outstanding. Three probe timeouts
// in a row while packets are larger than baseDatagram mean the path may
// have shrunk (a route change, a tunnel): the connection falls back to
// baseDatagram and searches again after pmtuRetry.
const (
	baseDatagram = 1200
	pmtuTries    = 3
	pmtuStep     = 16
	pmtuRetry    = time.Minute
)

// pmtuState is a connection's search.
type pmtuState struct {
	limit    int       // the largest size both sides allow
	triedMax bool      // limit itself was probed
	lo, hi   int       // lo is known to pass; sizes above hi are known to fail
	probing  int       // the size of the probe in flight; 0: none
	fails    int       // losses of probes of this size in a row
	next     time.Time // no probe before then
}

// pmtuStart begins the search up to limit, the largest size both sides
// allow.
func (c *Conn) pmtuStart(limit int) {
	c.maxSend = min(baseDatagram, limit)
	c.pmtu = pmtuState{limit: limit, lo: c.maxSend, hi: limit}
}

// nextSize returns the size to probe next, or 0 when the search is over:
// the limit first, then halfway between what passed and what failed.
func (p *pmtuState) nextSize() int {
	switch {
	case p.hi-p.lo < pmtuStep:
		return 0
	case !p.triedMax:
		return p.hi
	}
	return (p.lo + p.hi + 1) / 2
}

// pmtuProbeDue reports whether a probe should go now.
func (c *Conn) pmtuProbeDue(now time.Time) bool {
	p := &c.pmtu
	if p.probing != 0 || now.Before(p.next) || !c.confirmed {
		return false
	}
	if !c.streams.HasData() && !c.msgs.HasData() && c.sender.BytesInFlight() == 0 {
		return false // idle: probing can wait for data
	}
	return p.nextSize() != 0
}

// appendProbe builds a probe packet into c.outRaw.
func (c *Conn) appendProbe(now time.Time) {
	size := c.pmtu.nextSize()
	buf := c.e.getBuf()
	if cap(*buf) < size {
		c.e.putBuf(buf)
		c.pmtu.hi = cap(*buf) // cannot happen: buffers hold MaxDatagram
		return
	}
	b := (*buf)[:0]
	pn := c.nextPN
	b = wire.AppendHeader(b, wire.Header{KeyPhase: c.sess.Send.Phase(now), ConnID: c.peerID, PN: pn})
	start := len(b)
	b = wire.AppendPing(b)
	b = append(b, make([]byte, size-handshake.TagSize-len(b))...) // PADDING
	ct := c.sess.Send.Seal(b[start:start], b[start:], pn, b[:start])
	b = b[:start+len(ct)]
	c.nextPN++
	frames := append(c.sender.NewFrames(), wire.Sent{Type: wire.FramePing, Offset: uint64(size)})
	c.sender.OnSent(ack.Packet{PN: pn, Sent: now, Size: len(b), AckEliciting: true, Frames: frames, Path: c.active.id})
	c.pmtu.probing = size
	c.stats.packetsSent++
	c.stats.bytesSent += uint64(len(b))
	c.stats.pmtuProbes++
	*buf = b[:cap(b)]
	c.outBufs = append(c.outBufs, buf)
	c.outRaw = append(c.outRaw, b)
}

// pmtuAcked: a probe of size arrived, so the path carries it.
func (c *Conn) pmtuAcked(size int) {
	p := &c.pmtu
	if size != p.probing {
		return // a probe from before a fallback
	}
	p.probing, p.fails, p.triedMax = 0, 0, true
	p.lo = max(p.lo, size)
	c.maxSend = max(c.maxSend, size)
}

// pmtuLost: a probe of size was lost.
func (c *Conn) pmtuLost(size int, now time.Time) {
	p := &c.pmtu
	if size != p.probing {
		return
	}
	p.probing = 0
	if p.fails++; p.fails >= pmtuTries {
		p.hi, p.fails, p.triedMax = size-1, 0, true
	}
	// Space probes by an RTT, so a burst of loss does not take all tries.
	p.next = now.Add(c.sender.RTT.SmoothedOrInitial())
}

// pmtuOnPTO falls back to baseDatagram when probe timeouts repeat while
// packets are larger: a black hole for large packets looks just like that.
func (c *Conn) pmtuOnPTO(now time.Time) {
	if c.sender.PTOCount() < pmtuTries || c.maxSend <= baseDatagram {
		return
	}
	c.pmtuStart(c.pmtu.limit)
	c.pmtu.next = now.Add(pmtuRetry)
	c.stats.pmtuFallbacks++
}
