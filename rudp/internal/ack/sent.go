package ack

import (
	"errors"
	"sort"
	"time"

	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/cc"
)

// Packet is the record of one sent packet.
type Packet struct {
	PN           uint64
	Sent         time.Time
	Size         int          // bytes on the wire
	AckEliciting bool         // it holds a frame that must be acknowledged
	InFlight     bool         // it counts toward bytes in flight (congestion control)
	Frames       []wire.Sent  // what it carried, for the owners to learn its fate
	CC           cc.SendState // the rate sampler's snapshot at send, for congestion control
	Path         uint8        // the path it went on (the engine's numbering)
	done         bool         // acknowledged or declared lost
	lostAt       time.Time    // when it was declared lost; zero: it was not
	lostBehind   uint64       // how far behind the largest acknowledged it was then
}

// Handler learns the fate of sent packets. It must not keep p or p.Frames
// after the call: the records are reused.
type Handler interface {
	OnAcked(p *Packet)
	OnLost(p *Packet)
}

// Sender is the sender's side of loss recovery, after RFC 9002: the
// history of sent packets, ACK processing, RTT sampling, loss detection by
// packet and by time threshold, explicit REQUESTs, and the probe timeout.
// It is pure (now is a parameter) and not safe for concurrent use.
//
// RTT samples are never ambiguous: a retransmission travels in a new packet
// with a new number, so an acknowledgment names exactly the packet it
// acknowledges (the problem Karn's algorithm works around in TCP does not
// arise), and only the newly acknowledged largest packet gives a sample.
type Sender struct {
	RTT RTT
	// MaxAckDelay is how long the peer may hold an acknowledgment.
	MaxAckDelay time.Duration

	packets       []Packet // ascending PN; done records are trimmed from the front
	store         []Packet // the array packets is the tail of
	sentAny       bool
	largestSent   uint64
	largestAcked  uint64
	ackedAny      bool
	lossTime      time.Time // earliest time a packet will be deemed lost by time; zero: none
	lastEliciting time.Time
	ptoCount      int
	inFlight      int // bytes
	eliciting     int // ack-eliciting packets in flight
	lost          uint64
	spurious      uint64        // losses declared that were not
	reorderPkts   uint64        // packet threshold, grown by spurious losses
	reorderTime   time.Duration // longest a packet arrived after it was deemed lost
	pool          [][]wire.Sent
}

// threshold is the packet reordering threshold in use.
func (s *Sender) threshold() uint64 { return max(packetThreshold, s.reorderPkts) }

// NewFrames returns an empty frame list for a packet about to be sent,
// from the records freed earlier.
func (s *Sender) NewFrames() []wire.Sent {
	if n := len(s.pool); n > 0 {
		f := s.pool[n-1]
		s.pool = s.pool[:n-1]
		return f[:0]
	}
	return make([]wire.Sent, 0, 4)
}

// OnSent records a packet just sent. Packet numbers must increase.
func (s *Sender) OnSent(p Packet) {
	p.done = false
	if len(s.packets) == cap(s.packets) {
		s.grow()
	}
	s.packets = append(s.packets, p)
	s.largestSent, s.sentAny = p.PN, true
	if p.InFlight {
		s.inFlight += p.Size
	}
	if p.AckEliciting {
		s.eliciting++
		s.lastEliciting = p.Sent
	}
}

// errAckUnsent: an ACK for a packet never sent is a protocol violation (or
// an attack); the frame is ignored.
var errAckUnsent = errors.New("ack: acknowledgment of a packet never sent")

// find returns the index of the first record with PN >= pn.
func (s *Sender) find(pn uint64) int {
	return sort.Search(len(s.packets), func(i int) bool { return s.packets[i].PN >= pn })
}

// OnAck processes an ACK frame that arrived at now: it reports each newly
// acknowledged packet and then each packet this reveals as lost.
func (s *Sender) OnAck(f *wire.AckFrame, now time.Time, h Handler) error {
	if len(f.Ranges) == 0 {
		return nil
	}
	largest := f.Ranges[0].Largest
	if !s.sentAny || largest > s.largestSent {
		return errAckUnsent
	}
	var (
		newLargest   bool
		eliciting    bool
		largestSentT time.Time
	)
	for _, r := range f.Ranges {
		for i := s.find(r.Smallest); i < len(s.packets) && s.packets[i].PN <= r.Largest; i++ {
			p := &s.packets[i]
			if p.done {
				if !p.lostAt.IsZero() {
					s.onSpurious(p, now)
				}
				continue
			}
			if p.PN == largest {
				newLargest, largestSentT = true, p.Sent
			}
			eliciting = eliciting || p.AckEliciting
			s.retire(p)
			h.OnAcked(p)
			s.free(p)
		}
	}
	if !s.ackedAny || largest > s.largestAcked {
		s.largestAcked, s.ackedAny = largest, true
	}
	if newLargest && eliciting {
		s.RTT.Update(now.Sub(largestSentT), f.Delay, s.MaxAckDelay)
	}
	if newLargest || eliciting {
		// Progress: the path works, probes can start from scratch
		// (RFC 9002 section 6.2.1).
		s.ptoCount = 0
	}
	s.DetectLoss(now, h)
	s.trim(now)
	return nil
}

// onSpurious learns from a packet that arrived after it was declared lost:
// the path reorders at least that far and that long, so loss detection
// waits longer from now on (after RACK, RFC 8985, which likewise widens
// its reordering window when a retransmission proves unnecessary). The
// frames were resent already; their owners ignore the duplicate.
func (s *Sender) onSpurious(p *Packet, now time.Time) {
	p.lostAt = time.Time{} // count it once
	s.spurious++
	s.reorderPkts = min(max(s.reorderPkts, p.lostBehind+1), maxReorderPackets)
	s.reorderTime = max(s.reorderTime, now.Sub(p.Sent))
}

// OnRequest handles a REQUEST: the peer lacks these packets while it has
// later ones. Each listed packet still outstanding and below the largest
// acknowledged is lost now, without waiting for the thresholds.
func (s *Sender) OnRequest(f *wire.AckFrame, h Handler) {
	for _, r := range f.Ranges {
		for i := s.find(r.Smallest); i < len(s.packets) && s.packets[i].PN <= r.Largest; i++ {
			p := &s.packets[i]
			if p.done || !s.ackedAny || p.PN >= s.largestAcked {
				continue
			}
			s.declareLost(p, h, time.Time{})
		}
	}
}

// DetectLoss declares lost every outstanding packet below the largest
// acknowledged that is three packets or 9/8 RTT behind it, and sets the
// loss timer for the rest (RFC 9002 section 6.1).
func (s *Sender) DetectLoss(now time.Time, h Handler) {
	s.lossTime = time.Time{}
	if !s.ackedAny {
		return
	}
	delay := s.RTT.lossDelay(s.reorderTime)
	lostBefore := now.Add(-delay)
	threshold := s.threshold()
	for i := range s.packets {
		p := &s.packets[i]
		if p.PN > s.largestAcked {
			break
		}
		if p.done {
			continue
		}
		if !p.Sent.After(lostBefore) || s.largestAcked >= p.PN+threshold {
			s.declareLost(p, h, now)
			continue
		}
		if t := p.Sent.Add(delay); s.lossTime.IsZero() || t.Before(s.lossTime) {
			s.lossTime = t
		}
	}
	s.trim(now)
}

// LosePath declares lost every outstanding packet sent on path: the
// engine found the path down, and what the packets carried is to go
// again on another. Like a REQUEST, it does not count as reordering if
// one arrives after all.
func (s *Sender) LosePath(path uint8, h Handler) {
	for i := range s.packets {
		if p := &s.packets[i]; !p.done && p.Path == path {
			s.declareLost(p, h, time.Time{})
		}
	}
	s.ptoCount = 0
}

// ResetRTT starts the RTT estimate over, from rtt if it is not zero: the
// connection moved to a path whose RTT it knows (or not) from its probes.
func (s *Sender) ResetRTT(rtt time.Duration) {
	s.RTT = RTT{}
	if rtt > 0 {
		s.RTT.Update(rtt, 0, s.MaxAckDelay)
	}
	s.ptoCount = 0
}

// declareLost reports p lost. Its record stays a while (see trim), so that
// an acknowledgment arriving for it after all reveals the reordering. A
// packet the peer REQUESTed (now is zero) is known missing, not late.
func (s *Sender) declareLost(p *Packet, h Handler, now time.Time) {
	s.retire(p)
	s.lost++
	p.lostAt = now
	p.lostBehind = s.largestAcked - min(s.largestAcked, p.PN)
	h.OnLost(p)
	s.free(p)
}

// retire takes p out of flight.
func (s *Sender) retire(p *Packet) {
	p.done = true
	if p.InFlight {
		s.inFlight -= p.Size
	}
	if p.AckEliciting {
		s.eliciting--
	}
}

func (s *Sender) free(p *Packet) {
	if p.Frames != nil {
		s.pool = append(s.pool, p.Frames[:0])
		p.Frames = nil
	}
}

// trim drops finished records from the front, and compacts the slice when
// most of it is dead so that memory follows what is in flight. A lost
// packet's record stays until two loss delays after it was given up: long
// enough for a merely late packet to be acknowledged and so tell of the
// reordering.
func (s *Sender) trim(now time.Time) {
	keep := now.Add(-2 * s.RTT.lossDelay(s.reorderTime))
	i := 0
	for i < len(s.packets) && s.packets[i].done {
		if p := &s.packets[i]; !p.lostAt.IsZero() && p.lostAt.After(keep) {
			break
		}
		i++
	}
	if i == 0 {
		return
	}
	clear(s.packets[:i])
	s.packets = s.packets[i:]
	switch {
	case len(s.packets) == 0 && cap(s.store) <= 64:
		// Nothing outstanding: an idle connection holds no history (a
		// busy one rarely gets here, and then allocates a little).
		s.store, s.packets = nil, nil
	case cap(s.store) > 64 && len(s.packets) < cap(s.store)/8:
		s.realloc(2*len(s.packets) + 16) // memory follows what is in flight
	}
}

// grow makes room at the end of packets: by moving the records to the
// front of their array when trimming freed at least half of it, else in a
// new array twice the size. Records then move O(1) times each on average,
// and a steady flow stops allocating.
func (s *Sender) grow() {
	if n := len(s.packets); n > 0 && cap(s.store)-cap(s.packets) >= n {
		copy(s.store[:n], s.packets)
		clear(s.store[n:cap(s.store)])
		s.packets = s.store[:n]
		return
	}
	s.realloc(2*len(s.packets) + 16)
}

func (s *Sender) realloc(size int) {
	s.store = make([]Packet, size)
	s.packets = s.store[:copy(s.store, s.packets)]
}

// LossTimer returns when DetectLoss should next run, or zero.
func (s *Sender) LossTimer() time.Time { return s.lossTime }

// PTODeadline returns when the probe timeout fires, or zero when no
// ack-eliciting packet is in flight. The timeout doubles with each probe
// that goes unanswered (RFC 9002 section 6.2.1).
func (s *Sender) PTODeadline() time.Time {
	if s.eliciting == 0 {
		return time.Time{}
	}
	pto := s.RTT.PTO(s.MaxAckDelay)
	backoff := time.Duration(1) << min(s.ptoCount, 16)
	return s.lastEliciting.Add(min(pto*backoff, max(pto, MaxProbeInterval)))
}

// OnPTO records that the probe timeout fired; the caller sends probes.
func (s *Sender) OnPTO() { s.ptoCount++ }

// PTOCount returns how many probe timeouts in a row went unanswered.
func (s *Sender) PTOCount() int { return s.ptoCount }

// BytesInFlight returns the bytes of in-flight packets not yet
// acknowledged or lost.
func (s *Sender) BytesInFlight() int { return s.inFlight }

// AckElicitingInFlight returns how many ack-eliciting packets are
// outstanding.
func (s *Sender) AckElicitingInFlight() int { return s.eliciting }

// Lost returns how many packets have been declared lost.
func (s *Sender) Lost() uint64 { return s.lost }

// Spurious returns how many packets declared lost were acknowledged later.
func (s *Sender) Spurious() uint64 { return s.spurious }

// Reordering returns the packet and time reordering thresholds in use.
func (s *Sender) Reordering() (packets uint64, window time.Duration) {
	return s.threshold(), s.RTT.lossDelay(s.reorderTime)
}

// Outstanding calls f for every packet neither acknowledged nor lost, in
// order; it stops when f returns false.
func (s *Sender) Outstanding(f func(p *Packet) bool) {
	for i := range s.packets {
		if !s.packets[i].done && !f(&s.packets[i]) {
			return
		}
	}
}

// ReleaseIdle frees the history of a sender with nothing ack-eliciting
// outstanding, for a connection about to sit idle. What remains then are
// packets nobody acknowledges on their own (pure ACKs), whose records only
// tell that the peer saw our ACK; and lost packets kept to learn of
// reordering. Forgetting them costs nothing but that, while keeping them
// would hold the history's array (kilobytes) for as long as the
// connection idles. It reports whether it released anything.
func (s *Sender) ReleaseIdle() bool {
	if s.eliciting > 0 || (s.store == nil && s.pool == nil) {
		return false
	}
	for i := range s.packets {
		if p := &s.packets[i]; !p.done {
			s.retire(p)
		}
	}
	s.packets, s.store, s.pool = nil, nil, nil
	s.lossTime = time.Time{}
	return true
}
