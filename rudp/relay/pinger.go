package relay

import (
	"crypto/rand"
	"sync"
	"time"
)

// A pinger keeps one relay connection alive and proves the other side is
// still there, for the server and the client alike:
//
//	        interval                 timeout
//	idle ───────────► ping sent ───────────────► check
//	 ▲                   │ pong with its id          │ pong came: idle again for
//	 │                   ▼ (outstanding cleared)     │ interval − timeout
//	 └───────────────────────────────────────────────┘ no pong: expire()
//
// A pong that matches nothing is ignored (c-toxcore; tox-rs closes).
type pinger struct {
	interval, timeout time.Duration
	send              func(PingID) bool // queues a ping; false: the connection is gone
	expire            func()            // no pong within timeout

	mu          sync.Mutex // guards everything below
	timer       *time.Timer
	outstanding PingID // zero: no ping waits for its pong
	sentAt      time.Time
	waiting     bool // the timer is armed for a pong's deadline
	stopped     bool
	rtt         time.Duration // of the last answered ping
	sent, pongs uint64
}

// start arms the pinger. With now set it pings at once, before start
// returns (a client's first packet is a ping, as in toxcore), otherwise
// after one interval.
func (p *pinger) start(now bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now {
		p.timer = time.AfterFunc(time.Hour, p.tick)
		p.pingLocked()
		return
	}
	p.timer = time.AfterFunc(p.interval, p.tick)
}

func (p *pinger) tick() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	if p.waiting {
		if !p.outstanding.IsZero() {
			p.stopped = true
			p.mu.Unlock()
			p.expire()
			return
		}
		p.waiting = false
		p.timer.Reset(max(p.interval-p.timeout, 0))
		p.mu.Unlock()
		return
	}
	p.pingLocked()
	p.mu.Unlock()
}

func (p *pinger) pingLocked() {
	id := newPingID()
	if !p.send(id) {
		p.stopped = true
		return
	}
	p.outstanding, p.sentAt, p.waiting = id, time.Now(), true
	p.sent++
	p.timer.Reset(p.timeout)
}

// pong handles a pong and reports whether it answered the outstanding
// ping.
func (p *pinger) pong(id PingID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outstanding.IsZero() || id != p.outstanding {
		return false
	}
	p.outstanding = PingID{}
	p.rtt = time.Since(p.sentAt)
	p.pongs++
	return true
}

func (p *pinger) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

// stats returns the pings sent, pongs matched and the last round trip.
func (p *pinger) stats() (sent, pongs uint64, rtt time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.pongs, p.rtt
}

// newPingID returns a random non-zero ping id: zero is the value toxcore
// uses for "no ping outstanding", so no side may send it.
func newPingID() PingID {
	var id PingID
	rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24)
	if id.IsZero() {
		id[7] = 1
	}
	return id
}
