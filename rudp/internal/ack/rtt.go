package ack

import "time"

// Constants of RFC 9002 (QUIC loss detection), used as QUIC uses them.
const (
	// InitialRTT is assumed before the first sample (RFC 9002 section
	// 6.2.2): long enough not to flood a slow path with probes.
	InitialRTT = 333 * time.Millisecond
	// Granularity is the timer granularity the estimates allow for (RFC
	// 9002 section 6.1.2).
	Granularity = time.Millisecond
	// packetThreshold: a packet is lost when a packet sent three later is
	// acknowledged, as in TCP's fast retransmit (RFC 9002 section 6.1.1).
	// It grows when the path proves to reorder more (see Sender).
	packetThreshold = 3
	// maxReorderPackets bounds the grown threshold: beyond it the time
	// threshold, which also grows, does the work.
	maxReorderPackets = 1024
	// MaxProbeInterval caps the probe timeout's backoff (unless the
	// path's own PTO is longer). Uncapped, a path that was quiet or down
	// for a while waits minutes between probes: a lossy link whose loss
	// comes in bursts of packets (as netem's Gilbert-Elliott model, or a
	// radio in a fade) then needs many probes to get one through, and a
	// path back from an outage is noticed a whole backoff late. A probe a
	// second costs nothing.
	MaxProbeInterval = time.Second
)

// RTT is the round-trip estimate of RFC 9002 section 5.
type RTT struct {
	Latest   time.Duration // the last sample
	Smoothed time.Duration // exponentially weighted mean (1/8 per sample)
	Var      time.Duration // mean deviation (1/4 per sample)
	Min      time.Duration // the smallest sample seen
	samples  int
}

// HasSample reports whether any sample has been taken.
func (r *RTT) HasSample() bool { return r.samples > 0 }

// Samples returns the number of samples taken.
func (r *RTT) Samples() int { return r.samples }

// Update takes a sample: latest is the time from sending the newest
// acknowledged packet to its acknowledgment, ackDelay the time the peer says
// it held the ack. The delay is subtracted only when that does not go below
// the minimum, so a peer cannot make the path look faster than it ever was.
func (r *RTT) Update(latest, ackDelay, maxAckDelay time.Duration) {
	if latest <= 0 {
		latest = Granularity
	}
	r.Latest = latest
	if r.samples == 0 {
		r.samples = 1
		r.Min, r.Smoothed, r.Var = latest, latest, latest/2
		return
	}
	r.samples++
	r.Min = min(r.Min, latest)
	ackDelay = min(ackDelay, maxAckDelay)
	adjusted := latest
	if latest >= r.Min+ackDelay {
		adjusted = latest - ackDelay
	}
	diff := r.Smoothed - adjusted
	if diff < 0 {
		diff = -diff
	}
	r.Var = (3*r.Var + diff) / 4
	r.Smoothed = (7*r.Smoothed + adjusted) / 8
}

// SmoothedOrInitial returns the smoothed RTT, or InitialRTT before any
// sample.
func (r *RTT) SmoothedOrInitial() time.Duration {
	if r.samples == 0 {
		return InitialRTT
	}
	return r.Smoothed
}

// PTO returns the probe timeout of RFC 9002 section 6.2.1, before backoff.
func (r *RTT) PTO(maxAckDelay time.Duration) time.Duration {
	if r.samples == 0 {
		return 2 * InitialRTT
	}
	return r.Smoothed + max(4*r.Var, Granularity) + maxAckDelay
}

// lossDelay is the time threshold of RFC 9002 section 6.1.2: 9/8 of the
// larger of the smoothed and latest RTT, at least the granularity, so
// ordinary jitter is not taken for loss; and at least 9/8 of the longest
// a packet has been seen to arrive after it was given up (reorder).
func (r *RTT) lossDelay(reorder time.Duration) time.Duration {
	d := max(r.SmoothedOrInitial(), r.Latest, reorder)
	return max(d*9/8, Granularity)
}
