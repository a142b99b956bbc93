package stream

// fifo is a queue that reuses its array: popping from the front and
// pushing at the back of a plain slice reallocates it over and over, once
// per packet on a busy stream.
type fifo[T any] struct {
	s    []T
	head int
}

func (q *fifo[T]) len() int { return len(q.s) - q.head }

func (q *fifo[T]) push(v T) {
	if len(q.s) == cap(q.s) && q.head > 0 {
		q.s = q.s[:copy(q.s, q.s[q.head:])]
		clear(q.s[len(q.s):cap(q.s)])
		q.head = 0
	}
	q.s = append(q.s, v)
}

// pop removes and returns the front; the queue must not be empty.
func (q *fifo[T]) pop() T {
	v := q.s[q.head]
	var zero T
	q.s[q.head] = zero
	q.head++
	if q.head == len(q.s) {
		q.s, q.head = q.s[:0], 0
	}
	return v
}

func (q *fifo[T]) reset() { q.s, q.head = nil, 0 }
