package rudp

import (
	"time"

	"github.com/pydevts/pydevts/rudp/internal/ack"
	"github.com/pydevts/pydevts/rudp/internal/cc"
)

// ccEvent gathers what one received packet's ACK and REQUEST frames, or one
// run of the loss timer, settled, for one cc.AckEvent: the controller
// learns from a delivery-rate sample per event, not from single packets.
type ccEvent struct {
	acked, lost int
	lostPackets int
	newestAcked time.Time // send time of the newest packet acknowledged
	newestLost  time.Time // and of the newest declared lost
	oldestLost  time.Time
}

// controller returns the connection's congestion controller, made when
// first needed: a connection's loop releases it when it parks with nothing
// in flight (see releaseController).
//
// On a reliable path (direct TCP, a relay) the default is CUBIC, not BBR:
// nothing is lost on a TCP connection, so every loss there is a queue that
// overflowed (the carrier's, or the relay's queue for the peer), which is
// congestion, and BBR, which rightly ignores random loss on UDP, would
// keep those queues full: through our relay on loopback it lost a third
// of its packets where CUBIC lost under 1 %, at the same speed. The
// controller is made afresh on each path switch, so it follows the
// active path.
func (c *Conn) controller() cc.Algorithm {
	if c.cc == nil {
		// The name was checked by resolve; the random connection ID
		// seeds the controller's randomised probing.
		c.cc, _ = cc.NewAlgorithm(c.ccName(), c.maxSend, c.localID)
	}
	return c.cc
}

// ccName is the congestion controller the active path runs.
func (c *Conn) ccName() string {
	if c.cfg.CongestionControl == "" && c.active != nil && c.active.link.c.Reliable() {
		return "cubic"
	}
	return c.cfg.CongestionControl
}

// lossBased reports whether the active path's controller takes loss for
// congestion.
func (c *Conn) lossBased() bool { return c.ccName() == "cubic" }

// releaseController drops the controller of a connection about to park
// with nothing in flight. A parked connection has been idle for at least
// parkAfter (a second), longer than the RTO of most paths, and what the
// controller knew of the path is stale: TCP restarts from its initial
// window after such a pause too (RFC 5681 section 4.1, Linux's
// tcp_slow_start_after_idle). It also keeps an idle connection small:
// the BBR state is over a kilobyte.
func (c *Conn) releaseController() {
	if c.sender.BytesInFlight() == 0 {
		c.cc = nil // the rate sampler stays: late ACKs still carry its snapshots
	}
}

// ccAcked records an in-flight packet acknowledged.
func (c *Conn) ccAcked(p *ack.Packet) {
	c.sampler.OnPacketAcked(c.now, p.Size, p.CC)
	ev := &c.ccEvent
	ev.acked += p.Size
	if p.Sent.After(ev.newestAcked) {
		ev.newestAcked = p.Sent
	}
	c.ackedSent = append(c.ackedSent, p.Sent)
}

// ccLost records an in-flight packet declared lost.
func (c *Conn) ccLost(p *ack.Packet) {
	c.sampler.OnPacketLost(p.Size)
	ev := &c.ccEvent
	ev.lost += p.Size
	ev.lostPackets++
	if p.Sent.After(ev.newestLost) {
		ev.newestLost = p.Sent
	}
	if ev.oldestLost.IsZero() || p.Sent.Before(ev.oldestLost) {
		ev.oldestLost = p.Sent
	}
}

// ccReport hands the gathered event, if any, to the controller.
//
// Persistent congestion (RFC 9002 section 7.6): when one event declares
// lost packets sent over more than three probe timeouts, and no packet
// sent from the oldest of them to the newest was acknowledged (in this
// event or before), the path stopped delivering for that long (an outage,
// a collapsed bottleneck) and the controller starts over from its minimum
// window instead of sending at a rate measured before. The check is
// conservative: any packet acknowledged that was sent after the oldest
// loss, before this event, rules it out.
func (c *Conn) ccReport(now time.Time) {
	ev := c.ccEvent
	if ev.acked == 0 && ev.lost == 0 {
		return
	}
	c.ccEvent = ccEvent{}
	defer func() { c.ackedSent = c.ackedSent[:0] }()
	ackedBefore := c.newestAckedSent
	if ev.newestAcked.After(c.newestAckedSent) {
		c.newestAckedSent = ev.newestAcked
	}
	if c.cc == nil {
		// Late news of packets sent before the controller was released:
		// nothing to learn for the one that starts afresh.
		c.sampler.Sample(now, 0)
		return
	}
	rtt := &c.sender.RTT
	var minRTT, srtt time.Duration
	if rtt.HasSample() {
		minRTT, srtt = rtt.Min, rtt.Smoothed
	}
	c.cc.OnAckEvent(now, cc.AckEvent{
		Acked:           ev.acked,
		Lost:            ev.lost,
		LostPackets:     ev.lostPackets,
		NewestLostSent:  ev.newestLost,
		NewestAckedSent: ev.newestAcked,
		Sample:          c.sampler.Sample(now, minRTT),
		BytesInFlight:   c.sender.BytesInFlight(),
		MinRTT:          minRTT,
		SmoothedRTT:     srtt,
	})
	if ev.lostPackets >= 2 && srtt > 0 && ackedBefore.Before(ev.oldestLost) &&
		ev.newestLost.Sub(ev.oldestLost) > 3*rtt.PTO(c.sender.MaxAckDelay) &&
		!c.ackedBetween(ev.oldestLost, ev.newestLost) {
		c.cc.OnPersistentCongestion(now)
		c.stats.persistentCongestion++
	}
}

// ackedBetween reports whether the event being reported acknowledged a
// packet sent strictly between from and to.
func (c *Conn) ackedBetween(from, to time.Time) bool {
	for _, t := range c.ackedSent {
		if t.After(from) && t.Before(to) {
			return true
		}
	}
	return false
}
