package cc

import (
	"math"
	"time"
)

// Sharing a queue with loss-based flows: the second thing this BBR adds
// to draft-ietf-ccwg-bbr-05.
//
// A CUBIC or Reno flow fills whatever buffer the bottleneck has, so next
// to one the queue never drains. BBRv3 then holds its inflight near
// inflight_longterm, the level at which its own probes met 2 % loss, and
// cuts its short-term bounds on loss by 30 % but never below what the
// last round delivered, which behind a standing queue is all it had in
// flight: it keeps most of the buffer, and CUBIC, which halves its share
// at every overflow, is squeezed (the coexistence problem measured for
// BBRv1 by Ware et al., "Modeling BBR's Interactions with Loss-Based
// Congestion Control", IMC 2019, and not solved by v3 in shallow
// buffers). Worse, ProbeRTT cannot see through the other flow's queue,
// so after 10 s min_rtt includes it and the BDP, and the window, grow
// with it.
//
// What changes here:
//
//   - A round behind a standing queue (its smallest RTT above baseRTT,
//     see below) that BBR cannot have built (queueIsNotOurs) means
//     another flow keeps the buffer filled: alone, BBR paces at its
//     estimate and drains what it queued while probing. From then on, for bbrSharingHold
//     after the last such round, BBR shares, starting from what it has
//     in flight:
//   - On a congested round behind the queue, inflight_shortterm is cut
//     by beta from what was in flight, with no floor at what the round
//     delivered (which was mostly queue), so BBR gives up its share of
//     the buffer as CUBIC does. Loss in a queue-free round is the path's
//     and cuts nothing.
//   - Neither a bandwidth probe nor the end of ProbeRTT lifts
//     inflight_shortterm; it grows by one packet per round trip instead,
//     Reno's additive increase (RFC 5681 section 3.1), which is also
//     CUBIC's pace in its Reno-friendly region at these BDPs. When the
//     other flow is gone, rounds stop losing, and bbrSharingHold later
//     the next probe lifts the bound as in BBRv3.
//   - baseRTT, the minimum RTT the loss model measures queues against,
//     does not expire while a queue it sees keeps dropping packets: a
//     queue that comes with congestive loss is a queue, not a longer
//     path. Without such loss it expires like min_rtt, after 10 s, so a
//     longer route is still learned.
//
// The queue must also be one a loss-based flow could keep standing on
// this path (foreignQueuePossible). Such a flow's window shrinks with the
// path's random loss, to about sqrt(3/(2p)) packets at loss rate p
// (Mathis et al., "The Macroscopic Behavior of the TCP Congestion
// Avoidance Algorithm", 1997; CUBIC's Reno-friendly region has the same
// response) on average and 4/3 of that, sqrt(8/(3p)), at the top of its
// sawtooth, so on a path that drops 1 % it holds at most 16 packets, far
// from the quarter of a BDP that counts as a standing queue here at 200
// Mbit/s. A queue BBR sees there is its own: the loss compensation of its
// bandwidth estimate (bbr_model.go) is right on average, but a path that
// loses in bursts loses less than average for a while, and the surplus
// queues until DOWN drains it. Taking that queue for another flow's made
// a lone flow share with nobody, at half its rate, for 10 s at a time
// (seen on the benchmark's bursty-loss link).
//
// The signal does not need the propagation delay, which BBR cannot
// measure through another flow's standing queue: a BBR flow that starts
// behind a full buffer takes that queue for path, and its min_rtt and
// window with it.

// bbrSharingHold is how long BBR keeps sharing after the last round that
// showed another flow's queue: the minimum RTT filter's 10 s, several of
// CUBIC's congestion epochs on common paths (K = cbrt(W_max(1-beta)/C),
// RFC 9438 section 4.2, is 4 s for a 100-packet window).
const bbrSharingHold = bbrMinRTTFilterLen

// bbrRenoWindow is the constant of the Mathis formula at the top of the
// sawtooth: a Reno or Reno-friendly CUBIC flow at loss rate p holds at
// most about bbrRenoWindow / sqrt(p) packets, just before a loss halves
// it (on average, 3/4 of that).
var bbrRenoWindow = math.Sqrt(8.0 / 3)

// foreignQueuePossible reports whether a loss-based flow could keep a
// queue standing that BBR counts as one, given the path's random loss
// (see above): whether its window is at least that queue.
func (b *BBR) foreignQueuePossible() bool {
	p := b.loss.rate
	if p <= 0 || b.minRTT == 0 || infinite(b.maxBw) {
		return true
	}
	window := bbrRenoWindow / math.Sqrt(p) * float64(b.mss)
	queue := b.maxBw * max(b.minRTT/lossCleanQueue, lossCleanSlack).Seconds()
	return window >= queue
}

// bbrMaxDownRounds is how long DOWN takes at most to drain BBR's own
// queue (see queueIsNotOurs): 1.25 BDPs at 0.1 BDP per round, and one
// round of lag.
const bbrMaxDownRounds = 14 // ceil((2.25-1)/(1-0.9)) + 1

// updateBaseRTT tracks baseRTT (see above).
func (b *BBR) updateBaseRTT(now time.Time, rs *RateSample) {
	switch {
	case rs.RTT > 0 && (b.baseRTT == 0 || rs.RTT <= b.baseRTT):
		b.baseRTT, b.baseRTTStamp = rs.RTT, now
	case now.Sub(b.baseRTTStamp) > bbrMinRTTFilterLen:
		b.baseRTT, b.baseRTTStamp = b.minRTT, now
	}
}

// queueIsNotOurs reports whether a standing queue seen now cannot be one
// BBR built. BBR sends above its estimate only in Startup, REFILL and UP;
// Drain and DOWN send below it until the queue is gone, and CRUISE and
// ProbeRTT start only once it is (inflight at most the BDP). So a queue
// is another flow's when it stands a round into CRUISE or ProbeRTT (the
// RTT samples of a round are for data sent the round before), or when
// DOWN has not drained it in the time it takes to drain the most UP can
// queue: (bbrProbeUpCwndGain - 1) BDPs at a tenth of a BDP per round,
// plus that round.
func (b *BBR) queueIsNotOurs() bool {
	switch b.state {
	case bbrProbeBWCruise, bbrProbeRTT:
		return b.roundCount > b.stateStartRound+1
	case bbrProbeBWDown:
		return b.roundCount > b.stateStartRound+bbrMaxDownRounds
	}
	return false
}

// sharing reports whether BBR shares the bottleneck with a loss-based
// flow.
func (b *BBR) sharing(now time.Time) bool { return now.Before(b.sharingUntil) }

// adaptLowerBounds is BBRAdaptLowerBoundsFromCongestion (draft section
// 5.5.10.3), once per round: on a congested round outside a probe, cut
// the short-term bounds by beta. While sharing, the inflight bound is cut
// from what is in flight, and between cuts grows by a packet per round.
func (b *BBR) adaptLowerBounds(now time.Time) {
	queued := b.loss.queued
	if queued && b.congestedInRound {
		b.baseRTTStamp = now // the queue drops packets: it is not a longer path
	}
	if queued && b.queueIsNotOurs() && b.foreignQueuePossible() {
		if !b.sharing(now) && b.inflightLo == noLimit {
			b.inflightLo = max(min(b.cwnd, b.inflight), b.minPipe())
		}
		b.sharingUntil = now.Add(bbrSharingHold)
	}
	sharing := b.sharing(now)
	if !b.congestedInRound {
		// While sharing, only loss behind the queue counts: drops of a
		// queue-free round are the path's, whatever the estimate says.
		if sharing && b.inflightLo != noLimit {
			b.inflightLo += b.mss
		}
		return
	}
	if b.state.probingBW() {
		return // probes are meant to meet loss; adaptUpperBounds judges them
	}
	if infinite(b.bwLo) {
		b.bwLo = b.maxBw
	}
	b.bwLo = max(b.bwLatest, bbrBeta*b.bwLo)
	floor := b.inflightLatest
	if sharing {
		floor = b.minPipe()
		if b.inflightLo == noLimit {
			b.inflightLo = min(b.cwnd, max(b.inflightLatest, b.inflight))
		}
	} else if b.inflightLo == noLimit {
		b.inflightLo = b.cwnd
	}
	b.inflightLo = max(floor, int64(bbrBeta*float64(b.inflightLo)))
}

// liftShortTermModel is BBRResetShortTermModel as a bandwidth probe or
// the end of ProbeRTT does it, except that while sharing the inflight
// bound stays (see above).
func (b *BBR) liftShortTermModel(now time.Time) {
	lo := b.inflightLo
	b.resetShortTermModel()
	if b.sharing(now) {
		b.inflightLo = lo
	}
}
