package cc

import "time"

// NewReno is the congestion controller of RFC 9002 section 7: slow start,
// congestion avoidance (one datagram per window per round trip), and a
// halving of the window once per round trip of losses. It is the basic
// controller; it reads every loss as congestion.
type NewReno struct {
	maxDatagram   int
	window        int
	ssthresh      int
	ackedInCA     int       // bytes acknowledged toward the next one-datagram increase
	recoveryStart time.Time // losses of packets sent before this belong to the same event
	inRecovery    bool
}

// NewNewReno returns a NewReno controller for datagrams of up to
// maxDatagram bytes.
func NewNewReno(maxDatagram int) *NewReno {
	return &NewReno{
		maxDatagram: maxDatagram,
		window:      InitialWindow(maxDatagram),
		ssthresh:    int(^uint(0) >> 1),
	}
}

// InitialWindow is RFC 9002's initial window: ten datagrams, but at least
// 14720 bytes and two datagrams.
func InitialWindow(maxDatagram int) int {
	return min(10*maxDatagram, max(14720, 2*maxDatagram))
}

// MinWindow is RFC 9002's smallest window: two datagrams.
func MinWindow(maxDatagram int) int { return 2 * maxDatagram }

// OnSent implements Controller; NewReno needs nothing from it.
func (c *NewReno) OnSent(now time.Time, bytes int) {}

// OnAcked implements Controller.
func (c *NewReno) OnAcked(now time.Time, bytes int, sentAt time.Time) {
	if c.inRecovery && !sentAt.After(c.recoveryStart) {
		return // sent before the loss was noticed: says nothing new
	}
	c.inRecovery = false
	if c.window < c.ssthresh {
		c.window += bytes
		return
	}
	c.ackedInCA += bytes
	if c.ackedInCA >= c.window {
		c.ackedInCA -= c.window
		c.window += c.maxDatagram
	}
}

// OnLost implements Controller: the first loss of a round trip halves the
// window (RFC 9002's kLossReductionFactor, 0.5); later losses of packets
// sent before that moment are part of the same event.
func (c *NewReno) OnLost(now time.Time, bytes int, sentAt time.Time) {
	if c.inRecovery && !sentAt.After(c.recoveryStart) {
		return
	}
	c.inRecovery, c.recoveryStart = true, now
	c.window = max(c.window/2, MinWindow(c.maxDatagram))
	c.ssthresh = c.window
	c.ackedInCA = 0
}

// Window implements Controller.
func (c *NewReno) Window() int { return c.window }

// InRecovery implements Controller.
func (c *NewReno) InRecovery(now time.Time) bool { return c.inRecovery }

// PacingRate implements Controller: 1.25 windows per smoothed RTT (RFC
// 9002 section 7.7), so pacing never keeps the window from being used.
func (c *NewReno) PacingRate(srtt time.Duration) float64 {
	if srtt <= 0 {
		srtt = time.Millisecond
	}
	return 1.25 * float64(c.window) / srtt.Seconds()
}
