package cc

import (
	"math"
	"math/rand/v2"
	"time"
)

// BBR is the default congestion controller: BBRv3 as specified by
// draft-ietf-ccwg-bbr-05, made tolerant of random loss. It keeps a model
// of the path (bottleneck bandwidth, minimum RTT, and the volume in flight
// at which loss rose), paces at the bandwidth estimate and bounds what is
// in flight by the model. Losses count against the model only when they
// exceed the loss the path shows without a queue, so a lossy path keeps
// its full rate while a competing flow's queue still makes BBR yield. The
// package comment (doc.go) lists where and why this departs from the
// draft.
//
// The state machine (draft section 5.3):
//
//	        |
//	        V
//	+---> Startup ---------------+
//	|       | (pipe full, or     |
//	|       V  too much loss)    |
//	|     Drain -----------------+
//	|       | (inflight <= BDP)  |
//	|       V                    |
//	+---> ProbeBW: DOWN -> CRUISE -> REFILL -> UP -+
//	|       ^                                      |
//	|       +--------------------------------------+
//	|                            |
//	+---- ProbeRTT <-------------+ (min RTT not refreshed for 10 s)
type BBR struct {
	mss         int64
	initialCwnd int64
	rng         *rand.Rand
	started     bool

	state      bbrState
	pacingGain float64
	cwndGain   float64
	cwnd       int64
	pacingRate float64
	inflight   int64 // C.inflight after the last event
	delivered  int64 // C.delivered after the last event
	srtt       time.Duration

	// Round counting (section 5.5.1).
	roundCount         int64
	roundStart         bool
	nextRoundDelivered int64

	// The long-term model.
	bwHi             [2]float64 // max delivery rate of the last and this probe cycle
	maxBw            float64
	bw               float64 // min(maxBw, bwLo): what pacing and the BDP use
	minRTT           time.Duration
	minRTTStamp      time.Time
	probeRTTMinDelay time.Duration
	probeRTTMinStamp time.Time
	probeRTTExpired  bool
	bdp              int64
	baseRTT          time.Duration // the propagation delay, for telling queues apart (bbr_share.go)
	baseRTTStamp     time.Time
	sharingUntil     time.Time // a loss-based flow shares the queue until then (bbr_share.go)
	inflightHi       int64     // inflight_longterm; noLimit when unknown

	// ACK aggregation (section 5.5.9).
	extraAcked          int64
	extraAckedFilter    maxFilter
	extraAckedStart     time.Time
	extraAckedDelivered int64

	// The short-term model and the loss signals of a round (section
	// 5.5.10).
	bwLo               float64 // bw_shortterm; +Inf when unknown
	inflightLo         int64   // inflight_shortterm; noLimit when unknown
	bwLatest           float64
	inflightLatest     int64
	lossRoundDelivered int64
	lossRoundStart     bool
	congestedInRound   bool // this round's loss exceeded what the path loses anyway
	loss               lossModel

	// Startup (section 5.3.1).
	fullBwReached   bool
	fullBwNow       bool
	fullBw          float64
	fullBwCount     int
	drainStartRound int64

	// ProbeBW (section 5.3.3).
	cycleStamp         time.Time
	ackPhase           ackPhase
	bwProbeWait        time.Duration
	roundsSinceBwProbe int64
	bwProbeUpRounds    int
	bwProbeUpAcks      int64
	probeUpCnt         int64
	bwProbeSamples     bool
	cwndLimited        bool // C.is_cwnd_limited: the window was full this round or the last
	cwndLimitedNow     bool
	stateStartRound    int64 // the round the current state began
	cwndLimitedPrev    bool

	// ProbeRTT (section 5.3.4).
	probeRTTDoneStamp time.Time
	probeRTTRoundDone bool
	priorCwnd         int64
	idleRestart       bool
	appLimitedFrom    int64 // samples of packets sent with delivered in [from, until]
	appLimitedUntil   int64 // are app-limited: ProbeRTT's own bubble

	// Loss recovery, for InRecovery.
	inRecovery    bool
	recoveryStart time.Time
}

// noLimit stands for an infinite byte count (the draft's "Infinity").
const noLimit = math.MaxInt64

// NewBBR returns a BBR controller for datagrams of up to maxDatagram
// bytes. seed drives the randomised wait between bandwidth probes (draft
// section 5.3.3.5.3), which keeps flows that share a bottleneck from
// probing in lockstep.
func NewBBR(maxDatagram int, seed uint64) *BBR {
	mss := int64(maxDatagram)
	b := &BBR{
		mss:         mss,
		initialCwnd: bbrInitialWindowPackets * mss,
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		inflightHi:  noLimit,
		loss:        lossModel{mss: mss},
	}
	b.cwnd = b.initialCwnd
	b.resetShortTermModel()
	b.resetCongestionSignals()
	b.resetFullBw()
	b.enterStartup()
	b.setInitialPacingRate()
	return b
}

// init runs at the first event, when a time is known.
func (b *BBR) init(now time.Time) {
	if b.started {
		return
	}
	b.started = true
	b.minRTTStamp, b.probeRTTMinStamp = now, now
	b.extraAckedStart = now
	b.cycleStamp = now
}

// OnPacketSent implements Algorithm.
func (b *BBR) OnPacketSent(now time.Time, bytes, bytesInFlight int) {
	b.init(now)
	if int64(bytesInFlight) == int64(bytes) && b.delivered > 0 {
		b.restartFromIdle(now)
	}
	b.inflight = int64(bytesInFlight)
	if b.inflight+b.mss > b.cwnd {
		b.cwndLimitedNow = true
	}
}

// restartFromIdle is BBRHandleRestartFromIdle (section 5.4.1): after an
// idle spell, send at the estimated bandwidth, not at a ProbeBW gain that
// was meant for a busy pipe.
func (b *BBR) restartFromIdle(now time.Time) {
	b.idleRestart = true
	b.extraAckedStart = now
	switch {
	case b.state.probingBandwidthCycle():
		b.setPacingRateWithGain(1)
	case b.state == bbrProbeRTT:
		b.checkProbeRTTDone(now)
	}
}

// OnAckEvent implements Algorithm: BBRUpdateOnACK (section 5.2), the
// model and state first, then the control parameters.
func (b *BBR) OnAckEvent(now time.Time, ev AckEvent) {
	b.init(now)
	rs := &ev.Sample
	b.delivered = rs.TotalDelivered
	b.inflight = int64(ev.BytesInFlight)
	if ev.SmoothedRTT > 0 {
		b.srtt = ev.SmoothedRTT
	}
	b.updateRecovery(ev)
	appLimited := b.sampleAppLimited(rs)

	b.updateLatestDeliverySignals(rs)
	b.updateCongestionSignals(now, rs, appLimited)
	b.updateAckAggregation(now, rs)
	b.checkFullBwReached(rs, appLimited)
	b.checkStartupDone(rs, appLimited)
	b.checkDrainDone(now)
	b.updateProbeBWCyclePhase(now, rs, appLimited)
	b.updateMinRTT(now, rs)
	b.checkProbeRTT(now, rs)
	b.advanceLatestDeliverySignals(rs)
	b.boundBwForModel()

	b.setPacingRate()
	b.setCwnd(rs)
}

// updateRecovery keeps the recovery period InRecovery reports: from a
// loss until a packet sent after it is acknowledged (RFC 9002 section
// 7.3.2). BBR's window does not depend on it (see doc.go).
func (b *BBR) updateRecovery(ev AckEvent) {
	if b.inRecovery && ev.NewestAckedSent.After(b.recoveryStart) {
		b.inRecovery = false
	}
	if ev.Lost > 0 && !b.inRecovery && !ev.NewestLostSent.Before(b.recoveryStart) {
		b.inRecovery = true
		b.recoveryStart = ev.NewestLostSent
		if !ev.NewestAckedSent.IsZero() && ev.NewestAckedSent.After(b.recoveryStart) {
			b.recoveryStart = ev.NewestAckedSent
		}
	}
}

// sampleAppLimited reports whether rs must be treated as app-limited: the
// sampler says so, or its packet was sent during ProbeRTT, whose low rate
// says nothing about the path (BBRHandleProbeRTT marks the connection
// app-limited for that reason, section 5.3.4.3).
func (b *BBR) sampleAppLimited(rs *RateSample) bool {
	if b.appLimitedUntil == 0 {
		return rs.IsAppLimited
	}
	if b.state != bbrProbeRTT && b.delivered > b.appLimitedUntil {
		b.appLimitedFrom, b.appLimitedUntil = 0, 0 // the bubble is delivered
		return rs.IsAppLimited
	}
	return rs.IsAppLimited || (rs.PriorDelivered >= b.appLimitedFrom && rs.PriorDelivered <= b.appLimitedUntil)
}

// OnPersistentCongestion implements Algorithm: the window drops to the
// minimum and the short-term model forgets its bounds, so the flow
// rebuilds from what the ACKs say next (RFC 9002 section 7.6.2; the draft
// leaves persistent congestion to the transport).
func (b *BBR) OnPersistentCongestion(now time.Time) {
	b.init(now)
	b.priorCwnd = max(b.priorCwnd, b.cwnd)
	b.cwnd = b.minPipe()
	b.bwLo = b.maxBw * bbrBeta
	b.inflightLo = b.cwnd
	b.boundBwForModel()
	b.setPacingRate()
}

// Window implements Algorithm.
func (b *BBR) Window() int { return int(min(b.cwnd, math.MaxInt32)) }

// PacingRate implements Algorithm.
func (b *BBR) PacingRate() float64 { return b.pacingRate }

// InRecovery implements Algorithm.
func (b *BBR) InRecovery() bool { return b.inRecovery }

// State implements Algorithm.
func (b *BBR) State() string { return b.state.String() }

// BBRModel is a snapshot of BBR's path model, for statistics and tests.
type BBRModel struct {
	State        string        // as Algorithm.State
	Phase        string        // the ProbeBW phase: "down", "cruise", "refill", "up"; "" outside ProbeBW
	MaxBandwidth float64       // bytes/s: the windowed maximum delivery rate, loss-compensated
	Bandwidth    float64       // bytes/s: what pacing uses, after the short-term bound
	MinRTT       time.Duration // the windowed minimum RTT
	InflightHi   int64         // bytes: the long-term inflight bound; -1 when none
	InflightLo   int64         // bytes: the short-term inflight bound; -1 when none
	RandomLoss   float64       // the estimated loss rate of the path without a queue
	Rounds       int64         // round trips counted
}

// Model returns a snapshot of the path model.
func (b *BBR) Model() BBRModel {
	m := BBRModel{
		State: b.State(), Phase: b.state.phase(),
		MaxBandwidth: b.maxBw, Bandwidth: b.bw, MinRTT: b.minRTT,
		InflightHi: -1, InflightLo: -1,
		RandomLoss: b.loss.rate, Rounds: b.roundCount,
	}
	if b.inflightHi != noLimit {
		m.InflightHi = b.inflightHi
	}
	if b.inflightLo != noLimit {
		m.InflightLo = b.inflightLo
	}
	return m
}

var _ Algorithm = (*BBR)(nil)
