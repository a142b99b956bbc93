package cc

import (
	"math"
	"time"
)

// Constants of draft-ietf-ccwg-bbr-05 (BBRv3) unless said otherwise.
const (
	// bbrInitialWindowPackets is the initial window, ten datagrams (RFC
	// 9002 section 7.2; C.InitialCwnd, draft section 2.1).
	bbrInitialWindowPackets = 10
	// bbrStartupPacingGain, 4 ln 2 = 2.77, is the smallest gain that
	// doubles the sending rate every round trip (section 5.6.1). BBRv1
	// used 2/ln 2 = 2.89; BBRv3 lowered it to cut Startup's queue.
	bbrStartupPacingGain = 2.77
	// bbrDefaultCwndGain is the window gain of Startup and ProbeBW: two
	// BDPs leave room for delayed and aggregated ACKs (section 5.6.1).
	bbrDefaultCwndGain = 2.0
	// bbrDrainPacingGain empties Startup's queue within a round trip: any
	// gain at or below 1/bbrDefaultCwndGain does (section 5.6.1).
	bbrDrainPacingGain = 0.5
	// bbrMaxDrainRounds bounds Drain to three round trips (section
	// 5.3.2, BBR.drain_start_round).
	bbrMaxDrainRounds = 3
	// ProbeBW's pacing gains (section 5.6.1): DOWN sends below the
	// estimate to drain the queue UP made; UP sends 25 % above it to find
	// new bandwidth; CRUISE and REFILL send at it.
	bbrProbeDownGain = 0.9
	bbrProbeUpGain   = 1.25
	// bbrProbeUpCwndGain lets UP put the extra 25 % in flight (section
	// 5.6.1).
	bbrProbeUpCwndGain = 2.25
	// bbrProbeRTTCwndGain: ProbeRTT keeps half a BDP in flight, enough to
	// drain the queue and still move data (section 5.6.1; BBRv1 went down
	// to four packets).
	bbrProbeRTTCwndGain = 0.5
	// bbrProbeRTTDuration is how long ProbeRTT holds the low window: long
	// enough to see the queue drained across a few flows' ProbeRTTs
	// (section 2.13, 200 ms).
	bbrProbeRTTDuration = 200 * time.Millisecond
	// bbrProbeRTTInterval is how long a minimum RTT may go unrefreshed
	// before ProbeRTT. BBRv3 uses 5 s; we keep BBRv1's 10 s
	// (draft-cardwell-iccrg-bbr-congestion-control-00 section 4.1.2.3):
	// each ProbeRTT costs about a quarter of a BDP-round of throughput,
	// and halving its frequency is worth the slower refresh at the
	// 95 % utilisation this transport targets.
	bbrProbeRTTInterval = 10 * time.Second
	// bbrMinRTTFilterLen is the minimum RTT filter's window (section 2.13,
	// 10 s): long enough to contain a ProbeRTT of every flow of a
	// bottleneck, short enough to follow route changes.
	bbrMinRTTFilterLen = 10 * time.Second
	// bbrLossThresh is the loss rate per round trip beyond which BBRv3
	// takes the inflight as too high (section 2.13, 2 %). Here it is
	// measured above the path's own random loss (bbr_loss.go).
	bbrLossThresh = 0.02
	// bbrBeta is the multiplicative decrease of the short-term model on a
	// congested round (section 2.13, 0.7, CUBIC's beta).
	bbrBeta = 0.7
	// bbrHeadroom is the share of inflight_longterm left free while
	// cruising, for other flows to grow into (section 2.13, 15 %).
	bbrHeadroom = 0.15
	// bbrPacingMargin paces 1 % below the estimate so that a flow does not
	// build a queue from estimation noise (section 5.6.2).
	bbrPacingMargin = 0.01
	// Startup ends when three rounds in a row failed to grow the maximum
	// bandwidth by 25 %: the pipe is full (section 5.3.1.2).
	bbrFullBwThresh = 1.25
	bbrFullBwCount  = 3
	// bbrStartupFullLossCnt is how many packets a round must lose before
	// its loss rate can end Startup (Linux BBRv3's bbr_full_loss_cnt): a
	// rate from two or three losses is noise.
	bbrStartupFullLossCnt = 6
	// bbrExtraAckedFilterLen is the ACK-aggregation filter's window in
	// round trips (section 2.11).
	bbrExtraAckedFilterLen = 10
	// bbrMaxRenoRounds bounds the round trips between bandwidth probes to
	// what a Reno flow of the same BDP would take to grow back, capped at
	// 63 (section 5.3.3.5.1).
	bbrMaxRenoRounds = 63
	// The wall-clock wait between bandwidth probes is 2 s plus up to 1 s
	// at random (section 5.3.3.5.3): the time scale of CUBIC's growth
	// back to W_max on common paths, randomised so flows desynchronise.
	bbrProbeWaitBase = 2 * time.Second
	bbrProbeWaitRand = time.Second
	// bbrMaxProbeUpRounds caps the exponential growth of inflight_longterm
	// in ProbeBW_UP (section 5.3.3.6).
	bbrMaxProbeUpRounds = 30
)

// bbrState is BBR.state, with ProbeBW's phases as states of their own
// (section 5.3).
type bbrState uint8

const (
	bbrStartup bbrState = iota
	bbrDrain
	bbrProbeBWDown
	bbrProbeBWCruise
	bbrProbeBWRefill
	bbrProbeBWUp
	bbrProbeRTT
)

func (s bbrState) String() string {
	switch s {
	case bbrStartup:
		return "startup"
	case bbrDrain:
		return "drain"
	case bbrProbeRTT:
		return "probe_rtt"
	}
	return "probe_bw"
}

// phase names the ProbeBW phase, "" outside ProbeBW.
func (s bbrState) phase() string {
	switch s {
	case bbrProbeBWDown:
		return "down"
	case bbrProbeBWCruise:
		return "cruise"
	case bbrProbeBWRefill:
		return "refill"
	case bbrProbeBWUp:
		return "up"
	}
	return ""
}

// probingBandwidthCycle reports whether s is one of ProbeBW's phases.
func (s bbrState) probingBandwidthCycle() bool {
	return s >= bbrProbeBWDown && s <= bbrProbeBWUp
}

// probingBW is BBRIsProbingBW: the states that deliberately send above
// the estimate, whose losses the short-term model must not punish.
func (s bbrState) probingBW() bool {
	return s == bbrStartup || s == bbrProbeBWRefill || s == bbrProbeBWUp
}

// ackPhase is BBR.ack_phase (section 5.3.3.6): where the ACKs now
// arriving stand relative to the last bandwidth probe.
type ackPhase uint8

const (
	acksInit ackPhase = iota
	acksRefilling
	acksProbeStarting
	acksProbeFeedback
	acksProbeStopping
)

// setInitialPacingRate is BBRInitPacingRate (section 5.6.2): the initial
// window over the RTT, or over 1 ms when no RTT is known, so the first
// window is barely paced.
func (b *BBR) setInitialPacingRate() {
	srtt := b.srtt
	if srtt <= 0 {
		srtt = time.Millisecond
	}
	b.pacingRate = bbrStartupPacingGain * float64(b.initialCwnd) / srtt.Seconds()
}

func (b *BBR) enterStartup() {
	b.setState(bbrStartup)
	b.pacingGain = bbrStartupPacingGain
	b.cwndGain = bbrDefaultCwndGain
}

// resetFullBw is BBRResetFullBW (section 5.3.1.2).
func (b *BBR) resetFullBw() {
	b.fullBw, b.fullBwCount, b.fullBwNow = 0, 0, false
}

// checkFullBwReached is BBRCheckFullBWReached (section 5.3.1.2): the pipe
// is full when three non-app-limited rounds in a row did not raise the
// maximum bandwidth by a quarter.
func (b *BBR) checkFullBwReached(rs *RateSample, appLimited bool) {
	if b.fullBwNow || !b.roundStart || appLimited {
		return
	}
	if b.maxBw >= b.fullBw*bbrFullBwThresh {
		b.resetFullBw()
		b.fullBw = b.maxBw
		return
	}
	b.fullBwCount++
	b.fullBwNow = b.fullBwCount >= bbrFullBwCount
	if b.fullBwNow {
		b.fullBwReached = true
	}
}

// checkStartupDone is BBRCheckStartupDone with BBRCheckStartupHighLoss
// (section 5.3.1.3): Startup also ends when a round loses too much, with
// inflight_longterm set to what the round had in flight. As in Linux
// BBRv3 that takes bbrStartupFullLossCnt losses in the round, and here
// also a queue (the newest RTT above the minimum): on a path that drops
// packets at random Startup must go on until the pipe is full, and a
// queue that overflows is what makes loss congestive.
func (b *BBR) checkStartupDone(rs *RateSample, appLimited bool) {
	if b.state != bbrStartup {
		return
	}
	if !b.fullBwReached && b.lossRoundStart && b.inflightTooHigh(rs) &&
		b.loss.lastRoundLost >= bbrStartupFullLossCnt*b.mss &&
		b.minRTT > 0 && rs.RTT > 0 && !queueFree(rs.RTT, b.minRTT) {
		b.inflightHi = max(b.bdp, b.inflightLatest)
		b.fullBwReached = true
	}
	if b.fullBwReached {
		b.setState(bbrDrain)
		b.pacingGain = bbrDrainPacingGain
		b.cwndGain = bbrDefaultCwndGain
		b.drainStartRound = b.roundCount
	}
}

// checkDrainDone is BBRCheckDrainDone (section 5.3.2): Drain ends when the
// estimated queue is gone, or after bbrMaxDrainRounds: a queue that
// another flow keeps full never drains, and Startup may have
// overestimated the bandwidth.
func (b *BBR) checkDrainDone(now time.Time) {
	if b.state == bbrDrain && (b.inflight <= b.inflightFor(b.maxBw, 1) ||
		b.roundCount > b.drainStartRound+bbrMaxDrainRounds) {
		b.enterProbeBW(now)
	}
}

// updateMinRTT is BBRUpdateMinRTT (section 5.5.3), with ProbeRTT's
// shorter-lived estimate feeding the 10 s filter.
func (b *BBR) updateMinRTT(now time.Time, rs *RateSample) {
	b.probeRTTExpired = now.After(b.probeRTTMinStamp.Add(bbrProbeRTTInterval))
	if rs.RTT > 0 && (b.probeRTTMinDelay == 0 || rs.RTT < b.probeRTTMinDelay || b.probeRTTExpired) {
		b.probeRTTMinDelay = rs.RTT
		b.probeRTTMinStamp = now
	}
	expired := now.After(b.minRTTStamp.Add(bbrMinRTTFilterLen))
	if b.probeRTTMinDelay > 0 && (b.minRTT == 0 || b.probeRTTMinDelay < b.minRTT || expired) {
		b.minRTT = b.probeRTTMinDelay
		b.minRTTStamp = b.probeRTTMinStamp
	}
	b.updateBaseRTT(now, rs)
}

// checkProbeRTT is BBRCheckProbeRTT (section 5.3.4): enter ProbeRTT when
// the minimum RTT has not been refreshed for bbrProbeRTTInterval, hold
// the window low for bbrProbeRTTDuration and a round trip, then resume.
func (b *BBR) checkProbeRTT(now time.Time, rs *RateSample) {
	if b.state != bbrProbeRTT && b.probeRTTExpired && !b.idleRestart {
		b.saveCwnd()
		b.setState(bbrProbeRTT)
		b.pacingGain, b.cwndGain = 1, bbrProbeRTTCwndGain
		b.probeRTTDoneStamp = time.Time{}
		b.ackPhase = acksProbeStopping
		b.startRound()
		b.appLimitedFrom = b.delivered
	}
	if b.state == bbrProbeRTT {
		b.handleProbeRTT(now)
	}
	if rs.Delivered > 0 {
		b.idleRestart = false
	}
}

// handleProbeRTT is BBRHandleProbeRTT (section 5.3.4.3).
func (b *BBR) handleProbeRTT(now time.Time) {
	b.appLimitedUntil = max(b.delivered+b.inflight, 1)
	if b.probeRTTDoneStamp.IsZero() && b.inflight <= b.probeRTTCwnd() {
		b.probeRTTDoneStamp = now.Add(bbrProbeRTTDuration)
		b.probeRTTRoundDone = false
		b.startRound()
		return
	}
	if !b.probeRTTDoneStamp.IsZero() {
		if b.roundStart {
			b.probeRTTRoundDone = true
		}
		if b.probeRTTRoundDone {
			b.checkProbeRTTDone(now)
		}
	}
}

// checkProbeRTTDone is BBRCheckProbeRTTDone and BBRExitProbeRTT
// (sections 5.3.4.3 and 5.3.4.4).
func (b *BBR) checkProbeRTTDone(now time.Time) {
	if b.probeRTTDoneStamp.IsZero() || !now.After(b.probeRTTDoneStamp) {
		return
	}
	b.probeRTTMinStamp = now // the next ProbeRTT is due an interval from now
	b.cwnd = max(b.cwnd, b.priorCwnd)
	b.liftShortTermModel(now)
	if b.fullBwReached {
		b.startProbeBWDown(now)
		b.startProbeBWCruise()
	} else {
		b.enterStartup()
	}
}

// probeRTTCwnd is BBRProbeRTTCwnd (section 5.6.4.5).
func (b *BBR) probeRTTCwnd() int64 {
	return max(b.bdpMultiple(b.bw, bbrProbeRTTCwndGain), b.minPipe())
}

// saveCwnd is BBRSaveCwnd (section 5.6.4.4).
func (b *BBR) saveCwnd() {
	if b.state != bbrProbeRTT {
		b.priorCwnd = b.cwnd
	} else {
		b.priorCwnd = max(b.priorCwnd, b.cwnd)
	}
}

// infinite reports whether a float bound is unset.
func infinite(x float64) bool { return math.IsInf(x, 1) }

// setState moves to state s.
func (b *BBR) setState(s bbrState) {
	b.state = s
	b.stateStartRound = b.roundCount
}
