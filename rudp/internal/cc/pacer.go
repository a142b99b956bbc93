package cc

import "time"

// Pacer releases packets at a rate, with a small burst allowance: a leaky
// bucket of bytes that refills at the rate. It keeps a full window from
// leaving in one burst that the bottleneck queue (or the receiver's socket
// buffer) would drop.
type Pacer struct {
	// Burst is how many bytes may leave back to back after a quiet spell.
	Burst   int
	budget  float64
	last    time.Time
	started bool
}

// DefaultBurst is the least burst a pacer allows: ten 1200-byte packets,
// RFC 9002's initial window, which any path must absorb anyway.
const DefaultBurst = 10 * 1200

// TimerGranularity is how late a wait for a pacing deadline may end. Go's
// timers on Linux sleep in epoll_wait, whose timeout is in milliseconds:
// a wait of 50 µs becomes a millisecond or more. A pacer whose burst holds
// less than that at its rate loses the difference at every wait, and a
// flow paced at 200 Mbit/s then moves about 100. So the burst is at least
// what the rate sends in TimerGranularity, as quic-go's pacer does for the
// same reason; at 200 Mbit/s that is 50 KB, a tenth of a 20 ms path's
// bandwidth-delay product.
const TimerGranularity = 2 * time.Millisecond

// Delay returns how long to wait before a packet of size bytes may leave
// at rate bytes per second; zero means now.
func (p *Pacer) Delay(now time.Time, rate float64, size int) time.Duration {
	b := p.refill(now, rate)
	if b >= float64(size) || rate <= 0 {
		return 0
	}
	return time.Duration((float64(size) - b) / rate * float64(time.Second))
}

// OnSent takes a sent packet's size from the budget.
func (p *Pacer) OnSent(now time.Time, rate float64, size int) {
	p.budget = p.refill(now, rate) - float64(size)
	p.last = now
}

func (p *Pacer) refill(now time.Time, rate float64) float64 {
	burst := float64(p.Burst)
	if burst <= 0 {
		burst = DefaultBurst
	}
	burst = max(burst, rate*TimerGranularity.Seconds())
	if !p.started {
		p.started, p.budget, p.last = true, burst, now
	}
	if elapsed := now.Sub(p.last); elapsed > 0 {
		return min(burst, p.budget+elapsed.Seconds()*rate)
	}
	return p.budget
}
