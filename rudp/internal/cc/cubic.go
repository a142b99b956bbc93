package cc

import (
	"math"
	"time"
)

// Constants of RFC 9438 (CUBIC).
const (
	// cubicC scales the cubic function (RFC 9438 section 4.1.1: C = 0.4,
	// in segments and seconds); it sets how fast the window returns to
	// W_max and probes beyond it.
	cubicC = 0.4
	// cubicBeta is the multiplicative decrease (RFC 9438 section 4.6:
	// beta_cubic = 0.7): gentler than Reno's 0.5, which is what makes
	// CUBIC keep high-BDP paths busy.
	cubicBeta = 0.7
	// cubicAlpha is the Reno-friendly additive increase per RTT, in
	// segments, while the Reno estimate is below the window before the
	// last reduction (RFC 9438 section 4.3: 3(1-beta)/(1+beta)), so that
	// CUBIC's average rate equals Reno's with its 0.5 decrease.
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
	// cubicMaxGrowth caps the target at 1.5 times the window (RFC 9438
	// section 4.2): the window never grows faster than slow start's
	// halving of the gap would.
	cubicMaxGrowth = 1.5
	// Pacing ratios of Linux (net.ipv4.tcp_pacing_ss_ratio = 200,
	// tcp_pacing_ca_ratio = 120): slow start may double per round trip,
	// so it paces at twice the window per RTT; avoidance paces a little
	// above the window per RTT so that pacing never limits it.
	cubicPacingSS = 2.0
	cubicPacingCA = 1.2
)

// InitialWindow is RFC 9002's initial window: ten datagrams, but at least
// 14720 bytes and two datagrams.
func InitialWindow(maxDatagram int) int {
	return min(10*maxDatagram, max(14720, 2*maxDatagram))
}

// MinWindow is RFC 9002's smallest window for a loss-based controller:
// two datagrams.
func MinWindow(maxDatagram int) int { return 2 * maxDatagram }

// Cubic is the CUBIC congestion controller of RFC 9438: slow start, then a
// window that follows W_cubic(t) = C(t-K)^3 + W_max after each reduction,
// concave back to the last maximum and convex beyond it, never slower than
// the Reno-friendly estimate (section 4.3), with fast convergence (section
// 4.7) and one reduction by beta per round trip of losses (the recovery
// period of RFC 9002 section 7.3.2). It reads every loss as congestion;
// it is the option for paths shared with loss-based TCP, and the stand-in
// for kernel TCP in this package's simulations.
type Cubic struct {
	mss       float64
	cwnd      float64 // bytes
	ssthresh  float64 // bytes
	wMax      float64 // segments: window before the last reduction (after fast convergence)
	cwndPrior float64 // segments: window at the last reduction
	k         float64 // seconds from the epoch start to W_max
	wEst      float64 // segments: the Reno-friendly estimate (section 4.3)
	epoch     time.Time
	inEpoch   bool
	srtt      time.Duration

	recoveryStart time.Time
	inRecovery    bool
	maxInFlight   int // since the last ACK event: was the window used?
}

// NewCubic returns a CUBIC controller for datagrams of up to maxDatagram
// bytes, with RFC 9002's initial window.
func NewCubic(maxDatagram int) *Cubic {
	return &Cubic{
		mss:      float64(maxDatagram),
		cwnd:     float64(InitialWindow(maxDatagram)),
		ssthresh: math.Inf(1),
	}
}

// OnPacketSent implements Algorithm.
func (c *Cubic) OnPacketSent(now time.Time, bytes, bytesInFlight int) {
	c.maxInFlight = max(c.maxInFlight, bytesInFlight)
}

// OnAckEvent implements Algorithm.
func (c *Cubic) OnAckEvent(now time.Time, ev AckEvent) {
	if ev.SmoothedRTT > 0 {
		c.srtt = ev.SmoothedRTT
	}
	limited := c.cwndLimited()
	c.maxInFlight = ev.BytesInFlight
	if c.inRecovery && !ev.NewestAckedSent.IsZero() && ev.NewestAckedSent.After(c.recoveryStart) {
		c.inRecovery = false // a packet sent after the reduction arrived
	}
	if ev.Lost > 0 && (!c.inRecovery || ev.NewestLostSent.After(c.recoveryStart)) {
		c.onCongestion(now)
	}
	if ev.Acked == 0 || c.inRecovery || !limited {
		// No growth in recovery (RFC 9002 section 7.3.2), nor while the
		// application, not the window, limits the rate (RFC 9438 section
		// 5.8: the window must not grow unvalidated).
		return
	}
	if c.cwnd < c.ssthresh {
		c.cwnd += float64(ev.Acked) // slow start (RFC 9438 section 4.10)
		return
	}
	c.avoid(now, float64(ev.Acked))
}

// cwndLimited reports whether the window was (nearly) full since the last
// ACK event: the two datagrams' slack covers pacing and packet sizes. In
// slow start half a window counts, as in Linux's tcp_is_cwnd_limited,
// since the window doubles faster than a paced sender fills it.
func (c *Cubic) cwndLimited() bool {
	if c.cwnd < c.ssthresh && float64(c.maxInFlight) >= c.cwnd/2 {
		return true
	}
	return float64(c.maxInFlight)+2*c.mss >= c.cwnd
}

// onCongestion is RFC 9438 section 4.6: remember the window, reduce it by
// beta, and start a recovery period so the rest of this round's losses
// count as the same event.
func (c *Cubic) onCongestion(now time.Time) {
	c.inRecovery, c.recoveryStart = true, now
	w := c.cwnd / c.mss
	c.cwndPrior = w
	if w < c.wMax {
		// Fast convergence (section 4.7): a flow whose maximum shrinks
		// is losing share to a newcomer; release some more of it.
		c.wMax = w * (1 + cubicBeta) / 2
	} else {
		c.wMax = w
	}
	c.cwnd = max(c.cwnd*cubicBeta, float64(MinWindow(int(c.mss))))
	c.ssthresh = c.cwnd
	c.inEpoch = false
}

// avoid is congestion avoidance (RFC 9438 sections 4.2 to 4.5) for acked
// bytes.
func (c *Cubic) avoid(now time.Time, acked float64) {
	w := c.cwnd / c.mss
	if !c.inEpoch {
		// The epoch starts at the first ACK of avoidance (section 4.2).
		c.inEpoch, c.epoch = true, now
		if w < c.wMax {
			c.k = math.Cbrt((c.wMax - w) / cubicC)
		} else {
			c.k, c.wMax = 0, w
		}
		c.wEst = w
	}
	t := now.Sub(c.epoch).Seconds()
	rtt := c.srtt.Seconds()
	// Reno-friendly estimate (section 4.3).
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * acked / c.cwnd
	if cubic := c.wCubic(t); cubic < c.wEst {
		c.cwnd = c.wEst * c.mss // Reno-friendly region
		return
	}
	// Concave and convex regions (sections 4.4 and 4.5): move a share of
	// the way to the target one RTT ahead per window acknowledged.
	target := min(max(c.wCubic(t+rtt), w), cubicMaxGrowth*w)
	c.cwnd += (target - w) * c.mss * acked / c.cwnd
}

// wCubic is RFC 9438's equation 1, in segments: C(t-K)^3 + W_max.
func (c *Cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d + c.wMax
}

// OnPersistentCongestion implements Algorithm: the window collapses to
// the minimum (RFC 9002 section 7.6.2, the QUIC form of RFC 9438 section
// 4.8's timeout) and slow start resumes up to half of what it was.
func (c *Cubic) OnPersistentCongestion(now time.Time) {
	c.ssthresh = max(c.cwnd/2, float64(MinWindow(int(c.mss))))
	c.cwnd = float64(MinWindow(int(c.mss)))
	c.inEpoch, c.inRecovery = false, false
}

// Window implements Algorithm.
func (c *Cubic) Window() int { return int(c.cwnd) }

// InRecovery implements Algorithm.
func (c *Cubic) InRecovery() bool { return c.inRecovery }

// PacingRate implements Algorithm: the window per smoothed RTT, times the
// Linux pacing ratio for the phase.
func (c *Cubic) PacingRate() float64 {
	srtt := c.srtt
	if srtt <= 0 {
		srtt = time.Millisecond // no RTT yet: the pacer's burst governs
	}
	gain := cubicPacingCA
	if c.cwnd < c.ssthresh {
		gain = cubicPacingSS
	}
	return gain * c.cwnd / srtt.Seconds()
}

// State implements Algorithm.
func (c *Cubic) State() string {
	switch {
	case c.inRecovery:
		return "recovery"
	case c.cwnd < c.ssthresh:
		return "slow_start"
	}
	return "congestion_avoidance"
}

var _ Algorithm = (*Cubic)(nil)
