package cc

import (
	"math"
	"time"
)

// The path model's updates (draft-ietf-ccwg-bbr-05 section 5.5) and the
// control parameters computed from it (section 5.6).

// startRound is BBRStartRound: the round trip ends when a packet sent
// from now on is acknowledged.
func (b *BBR) startRound() { b.nextRoundDelivered = b.delivered }

// updateRound is BBRUpdateRound (section 5.5.1): rounds are counted in
// delivered data, so one round is one flight, whatever the RTT does.
func (b *BBR) updateRound(rs *RateSample) {
	if rs.NewlyAcked > 0 && rs.PriorDelivered >= b.nextRoundDelivered {
		b.startRound()
		b.roundCount++
		b.roundsSinceBwProbe++
		b.roundStart = true
		b.cwndLimitedPrev, b.cwndLimitedNow = b.cwndLimitedNow, false
	} else {
		b.roundStart = false
	}
	b.cwndLimited = b.cwndLimitedPrev || b.cwndLimitedNow
}

// updateLatestDeliverySignals is BBRUpdateLatestDeliverySignals (section
// 5.5.10.3): the round's best rate and volume, and the start of a loss
// round.
func (b *BBR) updateLatestDeliverySignals(rs *RateSample) {
	b.lossRoundStart = false
	if rs.Valid {
		b.bwLatest = max(b.bwLatest, b.compensate(rs.DeliveryRate))
	}
	b.inflightLatest = max(b.inflightLatest, b.compensateBytes(rs.Delivered))
	if rs.NewlyAcked > 0 && rs.PriorDelivered >= b.lossRoundDelivered {
		b.lossRoundDelivered = b.delivered
		b.lossRoundStart = true
	}
}

// advanceLatestDeliverySignals is BBRAdvanceLatestDeliverySignals.
func (b *BBR) advanceLatestDeliverySignals(rs *RateSample) {
	if !b.lossRoundStart {
		return
	}
	b.bwLatest = 0
	if rs.Valid {
		b.bwLatest = b.compensate(rs.DeliveryRate)
	}
	b.inflightLatest = b.compensateBytes(rs.Delivered)
}

// updateCongestionSignals is BBRUpdateCongestionSignals: the bandwidth
// filter, and once per round the short-term model's response to a round
// that lost more than the path loses anyway.
func (b *BBR) updateCongestionSignals(now time.Time, rs *RateSample, appLimited bool) {
	b.updateMaxBw(rs, appLimited)
	b.loss.onAck(now, rs, b.baseRTT, b.state != bbrStartup)
	if !b.lossRoundStart {
		return
	}
	b.congestedInRound = b.loss.endRound(now, b.baseRTT)
	b.adaptLowerBounds(now)
	b.congestedInRound = false
}

// updateMaxBw is BBRUpdateMaxBw (section 5.5.2): a max filter over this
// and the previous ProbeBW cycle (BBR.MaxBwFilterLen = 2, section 2.10),
// of loss-compensated delivery rates. App-limited samples count only when
// they raise the maximum: they may underestimate, never overestimate.
func (b *BBR) updateMaxBw(rs *RateSample, appLimited bool) {
	b.updateRound(rs)
	if !rs.Valid {
		return
	}
	bw := b.compensate(rs.DeliveryRate)
	if bw >= b.maxBw || !appLimited {
		b.bwHi[1] = max(b.bwHi[1], bw)
		b.maxBw = max(b.bwHi[0], b.bwHi[1])
	}
}

// advanceMaxBwFilter starts a new cycle of the bandwidth filter.
func (b *BBR) advanceMaxBwFilter() {
	b.bwHi[0], b.bwHi[1] = b.bwHi[1], 0
	b.maxBw = b.bwHi[0]
}

// compensate turns a delivery rate into the rate that was sent to achieve
// it, given the path's random loss: on a path that drops a share p of
// packets before the bottleneck, filling the bottleneck takes sending
// 1/(1-p) times its rate (see doc.go, "Random loss").
func (b *BBR) compensate(rate float64) float64 {
	return rate / (1 - b.loss.compensation())
}

func (b *BBR) compensateBytes(n int64) int64 {
	return int64(float64(n) / (1 - b.loss.compensation()))
}

// resetCongestionSignals is BBRResetCongestionSignals.
func (b *BBR) resetCongestionSignals() {
	b.congestedInRound = false
	b.bwLatest, b.inflightLatest = 0, 0
}

// resetShortTermModel is BBRResetShortTermModel.
func (b *BBR) resetShortTermModel() {
	b.bwLo, b.inflightLo = math.Inf(1), noLimit
}

// boundBwForModel is BBRBoundBWForModel.
func (b *BBR) boundBwForModel() { b.bw = min(b.maxBw, b.bwLo) }

// inflightTooHigh is IsInflightTooHigh (section 5.5.10.2) measured above
// the path's random loss: the loss over the newest acknowledged packet's
// flight exceeds the random loss by more than BBRLossThresh and by more
// than sampling noise.
//
// Before anything is learned (Startup learns nothing, see lossModel.onAck)
// the draft's own rule applies: loss above BBRLossThresh.
func (b *BBR) inflightTooHigh(rs *RateSample) bool {
	if rs.Lost <= 0 || rs.TxInFlight <= 0 {
		return false
	}
	if b.loss.total == 0 {
		return float64(rs.Lost) > bbrLossThresh*float64(rs.TxInFlight)
	}
	return b.loss.exceeds(rs.Lost, rs.TxInFlight, bbrLossThresh)
}

// updateAckAggregation is BBRUpdateACKAggregation (section 5.5.9): how
// much more than the estimated rate arrived in a burst of ACKs, so the
// window can cover aggregation (Wi-Fi, GRO, ACK thinning).
func (b *BBR) updateAckAggregation(now time.Time, rs *RateSample) {
	// Compare with the delivery rate, not the compensated sending rate:
	// ACKs only come for what arrives.
	rate := b.bw * (1 - b.loss.compensation())
	expected := rate * now.Sub(b.extraAckedStart).Seconds()
	if float64(b.extraAckedDelivered) <= expected {
		b.extraAckedDelivered = 0
		b.extraAckedStart = now
		expected = 0
	}
	b.extraAckedDelivered += rs.NewlyAcked
	extra := min(float64(b.extraAckedDelivered)-expected, float64(b.cwnd))
	window := int64(1)
	if b.fullBwReached {
		window = bbrExtraAckedFilterLen
	}
	b.extraAcked = int64(b.extraAckedFilter.update(b.roundCount, extra, window))
}

// bdpMultiple is BBRBDPMultiple (section 5.6.4.2): gain times the
// estimated BDP, or the initial window before any RTT is known.
func (b *BBR) bdpMultiple(bw, gain float64) int64 {
	if b.minRTT == 0 {
		return b.initialCwnd
	}
	return int64(gain * bw * b.minRTT.Seconds())
}

// inflightFor is BBRInflight: gain BDPs, plus the quantization budget.
func (b *BBR) inflightFor(bw, gain float64) int64 {
	return b.quantizationBudget(b.bdpMultiple(bw, gain))
}

// quantizationBudget is BBRQuantizationBudget (section 5.6.4.2): room for
// the sender's send quantum and the receiver's delayed ACKs, at least the
// minimum pipe, and two more packets in UP so that the probe always has
// something extra in flight.
func (b *BBR) quantizationBudget(inflight int64) int64 {
	inflight = max(inflight, 3*b.sendQuantum(), b.minPipe())
	if b.state == bbrProbeBWUp {
		inflight += 2 * b.mss
	}
	return inflight
}

// sendQuantum is BBRSetSendQuantum (section 5.6.3): a millisecond at the
// pacing rate, between two packets and 64 KiB.
func (b *BBR) sendQuantum() int64 {
	q := int64(b.pacingRate * time.Millisecond.Seconds())
	return min(max(q, 2*b.mss), 64<<10)
}

// setPacingRateWithGain is BBRSetPacingRateWithGain (section 5.6.2). In
// Startup the rate never drops: an early low sample must not stall the
// exponential growth.
func (b *BBR) setPacingRateWithGain(gain float64) {
	rate := gain * b.bw * (1 - bbrPacingMargin)
	if b.fullBwReached || rate > b.pacingRate {
		b.pacingRate = rate
	}
}

func (b *BBR) setPacingRate() {
	if b.bw > 0 {
		b.setPacingRateWithGain(b.pacingGain)
	}
}

// setCwnd is BBRSetCwnd (section 5.6.4): grow toward cwnd_gain BDPs plus
// the ACK-aggregation allowance, then apply ProbeRTT's and the model's
// bounds. There is no packet conservation in recovery (see doc.go).
func (b *BBR) setCwnd(rs *RateSample) {
	if b.minRTT > 0 {
		b.bdp = int64(b.maxBw * b.minRTT.Seconds())
	}
	maxInflight := b.quantizationBudget(b.bdpMultiple(b.maxBw, b.cwndGain) + b.extraAcked)
	switch {
	case b.fullBwReached:
		b.cwnd = min(b.cwnd+rs.NewlyAcked, maxInflight)
	case b.cwnd < maxInflight || b.delivered < b.initialCwnd:
		b.cwnd += rs.NewlyAcked
	}
	b.cwnd = max(b.cwnd, b.minPipe())
	if b.state == bbrProbeRTT {
		b.cwnd = min(b.cwnd, b.probeRTTCwnd())
	}
	b.boundCwndForModel()
}

// boundCwndForModel is BBRBoundCwndForModel (section 5.6.4.6): the
// long-term bound while probing or draining, with headroom while cruising
// or in ProbeRTT; the short-term bound always.
func (b *BBR) boundCwndForModel() {
	limit := int64(noLimit)
	switch {
	case b.state.probingBandwidthCycle() && b.state != bbrProbeBWCruise:
		limit = b.inflightHi
	case b.state == bbrProbeRTT || b.state == bbrProbeBWCruise:
		limit = b.inflightWithHeadroom()
	}
	limit = max(min(limit, b.inflightLo), b.minPipe())
	b.cwnd = min(b.cwnd, limit)
}

// minPipe is BBR.MinPipeCwnd in bytes.
func (b *BBR) minPipe() int64 { return 4 * b.mss }
