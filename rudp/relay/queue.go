package relay

import (
	"sync"
	"sync/atomic"
)

// bufPool holds packet buffers of MaxPlaintext capacity: a queued packet
// lives in one from the moment it is built (by the reader that forwards
// it, or by a Send call) until the writer has sealed it.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, MaxPlaintext)
	return &b
}}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	*b = (*b)[:0]
	bufPool.Put(b)
}

// A sendQueue holds the packets waiting for one connection's writer, in
// two classes, as toxcore's relay has them (research/tox.md, section 2):
//
//   - priority packets (route responses, notifications, pings, pongs,
//     route requests) are never dropped; there may be at most maxPrio of
//     them, and a connection that lets more pile up is not reading and is
//     closed by whoever queues the next one;
//   - other packets (Data, OOB) take at most maxBytes; past that the
//     queue drops, the newest packet (a server: never stall on a slow
//     client) or the oldest ones (a client, like every carrier: the newest
//     packet is the one the engine most wants delivered).
//
// Pushing never blocks. The writer takes everything at once, in the order
// it was queued: a DisconnectNotification must not overtake the Data that
// came before it (toxcore never queues Data, it writes or drops it, so
// there the order holds too), or the peer drops the last packets of a
// link that closed, a connection's CLOSE among them.
type sendQueue struct {
	mu        sync.Mutex // guards everything below
	pkts      []queued   // in the order pushed
	nPrio     int        // priority packets in pkts
	dataBytes int        // bytes of the other packets in pkts
	closed    bool
	writing   bool // take handed packets to the writer, which has not called written yet

	maxPrio, maxBytes int
	dropOldest        bool

	wake  chan struct{} // capacity 1: something was queued
	drops atomic.Uint64 // data packets dropped
}

// queued is one packet in a sendQueue.
type queued struct {
	b    *[]byte
	prio bool
}

func newSendQueue(maxPrio, maxBytes int, dropOldest bool) *sendQueue {
	return &sendQueue{maxPrio: maxPrio, maxBytes: maxBytes, dropOldest: dropOldest, wake: make(chan struct{}, 1)}
}

// pushResult says what push did with a packet.
type pushResult uint8

const (
	pushed   pushResult = iota
	dropped             // a data packet was dropped: the new one, or (dropOldest) older ones to make room
	overflow            // the priority bound was reached: the packet was not queued
	closedQ             // the queue is closed: the packet was not queued
)

// push queues b, or returns it to the pool when it is not queued. With
// dropOldest, dropped means the packet was queued and older ones went.
func (q *sendQueue) push(b *[]byte, priority bool) pushResult {
	q.mu.Lock()
	r := q.pushLocked(b, priority)
	q.mu.Unlock()
	if r == pushed || (r == dropped && q.dropOldest) {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return r
}

func (q *sendQueue) pushLocked(b *[]byte, priority bool) pushResult {
	switch {
	case q.closed:
		putBuf(b)
		return closedQ
	case priority:
		if q.nPrio >= q.maxPrio {
			putBuf(b)
			return overflow
		}
		q.pkts = append(q.pkts, queued{b, true})
		q.nPrio++
		return pushed
	}
	n := len(*b)
	if q.dataBytes+n <= q.maxBytes {
		q.pkts = append(q.pkts, queued{b, false})
		q.dataBytes += n
		return pushed
	}
	if !q.dropOldest || n > q.maxBytes {
		putBuf(b)
		q.drops.Add(1)
		return dropped
	}
	// Drop the oldest data packets, keeping the priority ones in place.
	kept := q.pkts[:0]
	for _, p := range q.pkts {
		if !p.prio && q.dataBytes+n > q.maxBytes {
			q.dataBytes -= len(*p.b)
			putBuf(p.b)
			q.drops.Add(1)
			continue
		}
		kept = append(kept, p)
	}
	clear(q.pkts[len(kept):])
	q.pkts = append(kept, queued{b, false})
	q.dataBytes += n
	return dropped
}

// take appends every queued packet to dst, in the order they were
// pushed, and empties the queue.
func (q *sendQueue) take(dst []*[]byte) []*[]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.pkts {
		dst = append(dst, p.b)
	}
	clear(q.pkts)
	q.pkts, q.nPrio, q.dataBytes = q.pkts[:0], 0, 0
	q.writing = len(dst) > 0
	return dst
}

// written tells the queue that the writer has written what take gave it.
func (q *sendQueue) written() {
	q.mu.Lock()
	q.writing = false
	q.mu.Unlock()
}

// idle reports whether nothing waits and nothing is being written.
func (q *sendQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return !q.writing && len(q.pkts) == 0
}

// close empties the queue for good; later pushes return closedQ.
func (q *sendQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, p := range q.pkts {
		putBuf(p.b)
	}
	q.pkts, q.nPrio, q.dataBytes = nil, 0, 0
}
