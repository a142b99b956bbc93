package cc

import "time"

// ProbeBW (draft-ietf-ccwg-bbr-05 section 5.3.3) cycles through four
// phases:
//
//	DOWN:   pace at 0.9 x bw until the queue UP built is gone
//	CRUISE: pace at bw, leaving headroom below inflight_longterm
//	REFILL: pace at bw for a round trip, the short-term bounds lifted
//	UP:     pace at 1.25 x bw, raising inflight_longterm, until the
//	        bandwidth stops growing or loss rises
//
// A cycle starts a new bandwidth probe after 2-3 s, or after as many
// round trips as Reno would take to regrow the BDP (at most 63), which
// ever comes first: BBRv3's time scale for sharing with Reno and CUBIC.

func (b *BBR) enterProbeBW(now time.Time) {
	b.cwndGain = bbrDefaultCwndGain
	b.startProbeBWDown(now)
}

// startProbeBWDown is BBRStartProbeBW_DOWN (section 5.3.3.6).
func (b *BBR) startProbeBWDown(now time.Time) {
	b.resetCongestionSignals()
	b.probeUpCnt = noLimit
	b.pickProbeWait()
	b.cycleStamp = now
	b.ackPhase = acksProbeStopping
	b.startRound()
	b.setState(bbrProbeBWDown)
	b.pacingGain, b.cwndGain = bbrProbeDownGain, bbrDefaultCwndGain
}

func (b *BBR) startProbeBWCruise() {
	b.setState(bbrProbeBWCruise)
	b.pacingGain, b.cwndGain = 1, bbrDefaultCwndGain
}

// startProbeBWRefill is BBRStartProbeBW_REFILL: the short-term bounds are
// lifted a round before probing, so that the probe measures the path, not
// the bounds of the last congestion.
func (b *BBR) startProbeBWRefill(now time.Time) {
	b.liftShortTermModel(now)
	b.bwProbeUpRounds, b.bwProbeUpAcks = 0, 0
	b.ackPhase = acksRefilling
	b.startRound()
	b.setState(bbrProbeBWRefill)
	b.pacingGain, b.cwndGain = 1, bbrDefaultCwndGain
}

func (b *BBR) startProbeBWUp(rs *RateSample) {
	b.ackPhase = acksProbeStarting
	b.startRound()
	b.resetFullBw()
	b.fullBw = b.compensate(rs.DeliveryRate)
	b.setState(bbrProbeBWUp)
	b.pacingGain, b.cwndGain = bbrProbeUpGain, bbrProbeUpCwndGain
	b.raiseInflightHiSlope()
}

// updateProbeBWCyclePhase is BBRUpdateProbeBWCyclePhase (section
// 5.3.3.6).
func (b *BBR) updateProbeBWCyclePhase(now time.Time, rs *RateSample, appLimited bool) {
	if !b.fullBwReached {
		return
	}
	b.adaptUpperBounds(now, rs, appLimited)
	switch b.state {
	case bbrProbeBWDown:
		if b.isTimeToProbeBW(now) {
			return
		}
		if b.isTimeToCruise() {
			b.startProbeBWCruise()
		}
	case bbrProbeBWCruise:
		b.isTimeToProbeBW(now)
	case bbrProbeBWRefill:
		// After a round of refilling, start probing: the ACKs now
		// arriving are for data sent at the refilled rate.
		if b.roundStart {
			b.bwProbeSamples = true
			b.startProbeBWUp(rs)
		}
	case bbrProbeBWUp:
		if b.isTimeToGoDown(rs) {
			b.startProbeBWDown(now)
		}
	}
}

// isTimeToCruise is BBRIsTimeToCruise: DOWN is over when inflight is
// below both the headroom and the estimated BDP.
func (b *BBR) isTimeToCruise() bool {
	if b.inflight > b.inflightWithHeadroom() {
		return false
	}
	return b.inflight <= b.inflightFor(b.maxBw, 1)
}

// isTimeToGoDown is BBRIsTimeToGoDown: UP ends once the bandwidth has
// stopped growing (the full-bandwidth test again); while the window is
// held at inflight_longterm the test restarts, since the window, not the
// path, limits the rate.
func (b *BBR) isTimeToGoDown(rs *RateSample) bool {
	if b.cwndLimited && b.cwnd >= b.inflightHi {
		b.resetFullBw()
		b.fullBw = b.compensate(rs.DeliveryRate)
		return false
	}
	return b.fullBwNow
}

// isTimeToProbeBW is BBRIsTimeToProbeBW (section 5.3.3.5.3).
func (b *BBR) isTimeToProbeBW(now time.Time) bool {
	if now.Sub(b.cycleStamp) > b.bwProbeWait || b.isRenoCoexistenceProbeTime() {
		b.startProbeBWRefill(now)
		return true
	}
	return false
}

// pickProbeWait is BBRPickProbeWait (section 5.3.3.5.3): randomised so
// that flows sharing a bottleneck do not probe in lockstep.
func (b *BBR) pickProbeWait() {
	b.roundsSinceBwProbe = int64(b.rng.IntN(2))
	b.bwProbeWait = bbrProbeWaitBase + time.Duration(b.rng.Int64N(int64(bbrProbeWaitRand)))
}

// isRenoCoexistenceProbeTime is BBRIsRenoCoexistenceProbeTime (section
// 5.3.3.5.1): probe at least as often as Reno would regrow the target
// inflight, one packet per round.
func (b *BBR) isRenoCoexistenceProbeTime() bool {
	renoRounds := min(b.bdp, b.cwnd) / b.mss
	return b.roundsSinceBwProbe >= min(renoRounds, bbrMaxRenoRounds)
}

// inflightWithHeadroom is BBRInflightWithHeadroom: inflight_longterm less
// 15 %, the room left for other flows.
func (b *BBR) inflightWithHeadroom() int64 {
	if b.inflightHi == noLimit {
		return noLimit
	}
	headroom := max(b.mss, int64(bbrHeadroom*float64(b.inflightHi)))
	return max(b.inflightHi-headroom, b.minPipe())
}

// raiseInflightHiSlope is BBRRaiseInflightLongtermSlope: each round of UP
// doubles how fast inflight_longterm grows.
func (b *BBR) raiseInflightHiSlope() {
	growth := b.mss << b.bwProbeUpRounds
	b.bwProbeUpRounds = min(b.bwProbeUpRounds+1, bbrMaxProbeUpRounds)
	b.probeUpCnt = max(b.cwnd/growth, 1)
}

// probeInflightHiUpward is BBRProbeInflightLongtermUpward.
func (b *BBR) probeInflightHiUpward(rs *RateSample) {
	if !b.cwndLimited || b.cwnd < b.inflightHi {
		return // inflight_longterm is not what limits us
	}
	b.bwProbeUpAcks += rs.NewlyAcked
	if b.bwProbeUpAcks >= b.probeUpCnt {
		delta := b.bwProbeUpAcks / b.probeUpCnt
		b.bwProbeUpAcks -= delta * b.probeUpCnt
		b.inflightHi += delta * b.mss
	}
	if b.roundStart {
		b.raiseInflightHiSlope()
	}
}

// adaptUpperBounds is BBRAdaptLongTermModel (section 5.3.3.6): advance
// the bandwidth filter once per probe cycle, lower inflight_longterm when
// a probe met too much loss, and raise it while probes meet none.
func (b *BBR) adaptUpperBounds(now time.Time, rs *RateSample, appLimited bool) {
	if b.ackPhase == acksProbeStarting && b.roundStart {
		b.ackPhase = acksProbeFeedback // ACKs for the probe's data begin
	}
	if b.ackPhase == acksProbeStopping && b.roundStart {
		// The probe's ACKs are over. The samples just taken are the best
		// chance to see the bandwidth now available, so this is when the
		// previous cycle's samples are forgotten (as Linux BBRv3's
		// bbr_adapt_upper_bounds does).
		b.bwProbeSamples = false
		b.ackPhase = acksInit
		if b.state.probingBandwidthCycle() && !appLimited {
			b.advanceMaxBwFilter()
		}
	}
	if b.inflightTooHigh(rs) {
		if b.bwProbeSamples {
			b.handleInflightTooHigh(now, rs, appLimited)
		}
		return
	}
	if b.inflightHi == noLimit {
		return
	}
	if rs.TxInFlight > b.inflightHi {
		b.inflightHi = rs.TxInFlight
	}
	if b.state == bbrProbeBWUp {
		b.probeInflightHiUpward(rs)
	}
}

// handleInflightTooHigh is BBRHandleInflightTooHigh (section 5.5.10.2):
// once per probe, cap inflight_longterm at what was in flight when loss
// rose, and stop probing.
func (b *BBR) handleInflightTooHigh(now time.Time, rs *RateSample, appLimited bool) {
	b.bwProbeSamples = false
	if !appLimited {
		target := min(b.bdp, b.cwnd)
		b.inflightHi = max(rs.TxInFlight, int64(float64(target)*bbrBeta))
	}
	if b.state == bbrProbeBWUp {
		b.startProbeBWDown(now)
	}
}
