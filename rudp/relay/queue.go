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
// Pushing never blocks. The writer takes everything at once, priority
// packets first.
type sendQueue struct {
	mu         sync.Mutex // guards everything below
	prio, data []*[]byte
	dataBytes  int
	closed     bool
	writing    bool // take handed packets to the writer, which has not called written yet

	maxPrio, maxBytes int
	dropOldest        bool

	wake  chan struct{} // capacity 1: something was queued
	drops atomic.Uint64 // data packets dropped
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
		if len(q.prio) >= q.maxPrio {
			putBuf(b)
			return overflow
		}
		q.prio = append(q.prio, b)
		return pushed
	}
	n := len(*b)
	if q.dataBytes+n <= q.maxBytes {
		q.data = append(q.data, b)
		q.dataBytes += n
		return pushed
	}
	if !q.dropOldest || n > q.maxBytes {
		putBuf(b)
		q.drops.Add(1)
		return dropped
	}
	for q.dataBytes+n > q.maxBytes {
		old := q.data[0]
		q.data[0] = nil
		q.data = q.data[1:]
		q.dataBytes -= len(*old)
		putBuf(old)
		q.drops.Add(1)
	}
	q.data = append(q.data, b)
	q.dataBytes += n
	return dropped
}

// take appends every queued packet to dst, priority ones first, and
// empties the queue.
func (q *sendQueue) take(dst []*[]byte) []*[]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst, q.prio...)
	dst = append(dst, q.data...)
	clear(q.prio)
	clear(q.data)
	q.prio, q.data, q.dataBytes = q.prio[:0], q.data[:0], 0
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
	return !q.writing && len(q.prio) == 0 && len(q.data) == 0
}

// close empties the queue for good; later pushes return closedQ.
func (q *sendQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, b := range q.prio {
		putBuf(b)
	}
	for _, b := range q.data {
		putBuf(b)
	}
	q.prio, q.data, q.dataBytes = nil, nil, 0
}
