package rudp

import "sync"

// inQueue holds the datagrams the endpoint's reader found for one
// connection until its loop takes them. The reader appends under a lock
// and wakes the loop; the loop takes everything queued in one swap, so a
// batch read from the socket costs one lock and one wake-up per
// connection, not one channel operation per packet. An idle connection's
// queue holds no array at all.
type inQueue struct {
	mu     sync.Mutex
	items  []inbound
	closed bool // the loop has ended: the reader keeps its buffers
}

// push queues in and reports whether it was taken (false: the queue is
// full or closed, and in's buffer stays with the caller).
func (q *inQueue) push(in inbound) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.items) >= inboundQueue {
		return false
	}
	q.items = append(q.items, in)
	return true
}

// take swaps the queued datagrams for spare (emptied) and returns them.
func (q *inQueue) take(spare []inbound) []inbound {
	q.mu.Lock()
	defer q.mu.Unlock()
	got := q.items
	q.items = spare[:0]
	return got
}

// close refuses further datagrams and returns those still queued.
func (q *inQueue) close() []inbound {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	got := q.items
	q.items = nil
	return got
}
