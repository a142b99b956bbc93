package linkemu

import (
	"sync"
	"time"
)

// memLink is one direction of a MemPair: the model, and the datagrams in
// flight ordered by delivery time. It starts no goroutine: one
// time.AfterFunc timer, armed for the earliest datagram, delivers what is
// due when it fires, so under testing/synctest the bubble's virtual clock
// drives deliveries, and a link with nothing in flight has nothing pending.
//
// mu guards every field, the model included. Lock order: a memLink's mu
// before a MemConn's mu, never the reverse (delivery holds the link's mu
// while it puts the datagram in the receiver's inbox, so that two firings
// of the timer cannot deliver out of order).
type memLink struct {
	mu          sync.Mutex
	model       *Model
	mtu         int
	dst         *MemConn   // the receiving end
	flight      packetHeap // datagrams in flight, earliest first
	seq         uint64     // next send sequence number, the heap's tie-break
	timer       *time.Timer
	armed       bool      // timer is set to fire at armedAt
	armedAt     time.Time //
	mtuDrops    uint64
	inboxDrops  uint64
	closedDrops uint64
}

// packet is a datagram in flight or in an inbox. Packets are pooled, so the
// steady state allocates nothing per datagram.
type packet struct {
	at   time.Time // delivery time
	seq  uint64    // send order, to keep equal delivery times in order
	data []byte
}

var packetPool = sync.Pool{New: func() any { return new(packet) }}

// newPacket returns a pooled packet holding a copy of p.
func newPacket(p []byte) *packet {
	pk := packetPool.Get().(*packet)
	pk.data = append(pk.data[:0], p...)
	return pk
}

// free returns pk to the pool.
func (pk *packet) free() {
	if cap(pk.data) > DefaultMTU {
		// Only a pair with a larger MTU makes such buffers; do not let
		// the pool keep them.
		pk.data = nil
	}
	*pk = packet{data: pk.data[:0]}
	packetPool.Put(pk)
}

// send plans datagram p sent at now and puts its copies in flight.
// It reports nothing: loss is the link's business, not the sender's.
func (l *memLink) send(p []byte, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(p) > l.mtu {
		l.mtuDrops++
		return
	}
	f := l.model.Plan(len(p), now)
	if f.Copies == 0 {
		return
	}
	if l.dst.isClosed() {
		// Nobody will read it: a datagram to a closed port. Count it
		// and schedule nothing.
		l.closedDrops += uint64(f.Copies)
		return
	}
	for i := range f.Copies {
		pk := newPacket(p)
		if f.Corrupt {
			pk.data[f.Bit/8] ^= 1 << (f.Bit % 8)
		}
		pk.at, pk.seq = f.At[i], l.seq
		l.seq++
		l.flight.push(pk)
	}
	// A zero-delay datagram is delivered here, behind anything due at the
	// same instant, rather than by a timer: same order, no wake-up.
	l.deliverDue(now)
	l.arm(now)
}

// fire is the timer's function.
func (l *memLink) fire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = false
	now := time.Now()
	l.deliverDue(now)
	l.arm(now)
}

// deliverDue moves every datagram due by now into the receiver's inbox, in
// (time, sequence) order.
func (l *memLink) deliverDue(now time.Time) {
	for len(l.flight) > 0 && !l.flight[0].at.After(now) {
		if ok, closed := l.dst.deliver(l.flight.pop()); closed {
			l.closedDrops++
		} else if !ok {
			l.inboxDrops++
		}
	}
}

// arm sets the timer for the earliest datagram in flight, if it is not
// already set for it or earlier (an early firing delivers nothing and
// re-arms).
func (l *memLink) arm(now time.Time) {
	if len(l.flight) == 0 {
		if l.armed {
			l.timer.Stop()
			l.armed = false
		}
		return
	}
	next := l.flight[0].at
	if l.armed && !next.Before(l.armedAt) {
		return
	}
	d := next.Sub(now)
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.fire)
	} else {
		l.timer.Reset(d)
	}
	l.armed, l.armedAt = true, next
}

// discard drops everything in flight, because the receiver closed, and
// stops the timer, so a closed pair leaves nothing pending.
func (l *memLink) discard() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.flight) > 0 {
		l.flight.pop().free()
		l.closedDrops++
	}
	if l.armed {
		l.timer.Stop()
		l.armed = false
	}
}

// setSpec changes the model's Spec for later datagrams.
func (l *memLink) setSpec(s Spec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.model.SetSpec(s)
}

// stats returns the model's counters and the link's own.
func (l *memLink) stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.model.Stats()
	st.MTUDrops, st.InboxDrops, st.ClosedDrops = l.mtuDrops, l.inboxDrops, l.closedDrops
	return st
}

// packetHeap is a binary min-heap of packets by (at, seq). It is written
// out rather than using container/heap, whose interface{} Push would
// allocate per datagram.
type packetHeap []*packet

func (h packetHeap) less(i, j int) bool {
	if c := h[i].at.Compare(h[j].at); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}

func (h *packetHeap) push(pk *packet) {
	*h = append(*h, pk)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *packetHeap) pop() *packet {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		min, l, r := i, 2*i+1, 2*i+2
		if l < len(s) && s.less(l, min) {
			min = l
		}
		if r < len(s) && s.less(r, min) {
			min = r
		}
		if min == i {
			break
		}
		s[i], s[min] = s[min], s[i]
		i = min
	}
	*h = s
	return top
}
