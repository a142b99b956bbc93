package cc

import (
	"math"
	"time"
)

// Random loss: what this BBR adds to draft-ietf-ccwg-bbr-05.
//
// BBRv3 treats a round that loses more than 2 % as a sign that inflight
// is too high, and any loss outside a probe as a reason to cut its
// short-term bounds by 30 %. On a path that drops packets at random (a
// radio, a noisy line, an emulator's loss=5%) that rule fires every round
// and pins the flow far below the bottleneck. Random loss, though, looks
// different from congestive loss in two ways the sender can measure:
//
//   - It happens without a queue. A drop-tail queue drops only when it is
//     full, so congestive loss comes with RTTs above the minimum; random
//     loss shows up just as often when the RTT is at its minimum.
//   - It is steady. Its rate over a round is the path's rate give or take
//     binomial noise, while a queue that overflows drops in bursts well
//     above any long-run average.
//
// So lossModel learns the path's loss rate from rounds whose smallest RTT
// was within a quarter (or a millisecond) of the minimum RTT, pooled over
// the last lossEpochs epochs of at least lossEpochPackets packets, and
// how bursty it is (the index of dispersion: the variance of the epochs'
// loss rates over the binomial variance). A round, or a flight, then
// counts as congested only when its loss rate exceeds that learned rate
// plus a margin plus lossZ standard deviations of sampling noise. Since
// only rounds without a queue teach it, a competing flow's standing queue
// cannot teach it that its drops are normal.

const (
	// lossEpochPackets is the smallest epoch, in packets, of the loss
	// estimate: at 5 % loss the epoch's rate is then within 0.7 % (one
	// standard deviation), enough to measure burstiness from a few
	// epochs.
	lossEpochPackets = 1000
	// lossEpochs is how many epochs the estimate pools: at 20 Mbit/s and
	// up that is a second or two of clean rounds, long enough to average
	// out a burst of a Gilbert-Elliott channel, short enough to follow a
	// path that changes.
	lossEpochs = 8
	// lossZ is how many standard deviations of sampling noise a round's
	// loss may exceed the learned rate by and still count as random: at
	// 3, a round of a flow that only sees random loss is mistaken for a
	// congested one about once in 700 rounds (normal approximation).
	lossZ = 3.0
	// lossDispersionGain is the EWMA gain of the index of dispersion: one
	// epoch weighs an eighth, like RFC 6298's RTTVAR.
	lossDispersionGain = 1.0 / 8
	// lossMaxDispersion bounds the index of dispersion: a Gilbert-Elliott
	// channel with bursts of 4 shows about 2*4-1 = 7; far beyond that the
	// loss is not random but an outage or a policer.
	lossMaxDispersion = 32
	// lossMaxCompensation bounds the loss rate the bandwidth estimate is
	// compensated for: beyond half of all packets lost, the flow keeps
	// its rate rather than doubling it blind.
	lossMaxCompensation = 0.5
	// lossCleanQueue is how far above the minimum RTT a round's smallest
	// RTT may be and still count as queue-free: a quarter of the minimum
	// RTT is what a ProbeBW_UP phase itself queues (gain 1.25), and a
	// millisecond covers timer and scheduling noise on short paths.
	lossCleanQueue = 4 // the minimum RTT divided by this
	lossCleanSlack = time.Millisecond
	// lossMaxAge is how long learned loss counts: the minimum RTT
	// filter's 10 s (bbrMinRTTFilterLen), for the same reason, paths
	// change.
	lossMaxAge = bbrMinRTTFilterLen
)

// lossModel estimates a path's random loss rate (see above). Volumes are
// bytes; rates are shares of packets sent.
type lossModel struct {
	mss                   int64
	roundAcked, roundLost int64
	roundMinRTT           time.Duration
	epochAcked, epochLost int64
	ring                  [lossEpochs]lossEpoch
	ringLen, ringNext     int
	sumAcked, sumLost     int64 // over the ring
	rate                  float64
	total                 int64 // bytes behind rate
	lostTotal             int64
	disp                  float64       // index of dispersion, >= 1 once set
	queued                bool          // the last round never saw the minimum RTT
	lastRoundLost         int64         // bytes lost in the last round
	lastRoundRTT          time.Duration // the smallest RTT of the last round
	basis                 time.Duration // the largest minimum RTT the estimate was learned against
	epochStart            time.Time
}

type lossEpoch struct {
	acked, lost int64
	start       time.Time
}

// onAck adds an ACK event to the round, and to the loss estimate if it
// shows no queue. The newest packet an ACK acknowledges was sent about
// when the packets the ACK declares lost were dropped (they are lost
// because it and two more arrived), so its RTT tells whether a queue was
// full then: drops behind a queue are congestion, drops without one are
// the path's. Random loss does not depend on the queue, so counting
// delivered and lost bytes only from queue-free ACKs estimates it without
// bias.
//
// learn is false in Startup: Startup doubles its rate every round, so
// when it meets a queue that another flow keeps full, its own drops come
// without any rise in RTT above the first sample, which is all it knows
// of the minimum yet. Only once the flow paces at its estimate can a
// queue-free RTT be told from a full queue.
func (m *lossModel) onAck(now time.Time, rs *RateSample, minRTT time.Duration, learn bool) {
	m.roundAcked += rs.NewlyAcked
	m.roundLost += rs.NewlyLost
	if rs.RTT <= 0 {
		return
	}
	if m.roundMinRTT == 0 || rs.RTT < m.roundMinRTT {
		m.roundMinRTT = rs.RTT
	}
	if m.basis > 0 && !queueFree(m.basis, minRTT) {
		// The minimum RTT the estimate was learned against turned out to
		// include a queue: what looked queue-free was not. Start over.
		*m = lossModel{mss: m.mss, roundAcked: m.roundAcked, roundLost: m.roundLost, roundMinRTT: m.roundMinRTT}
	}
	if !learn || !queueFree(rs.RTT, minRTT) {
		return
	}
	if m.basis == 0 || minRTT > m.basis {
		m.basis = minRTT
	}
	if m.epochAcked+m.epochLost == 0 {
		m.epochStart = now
	}
	m.epochAcked += rs.NewlyAcked
	m.epochLost += rs.NewlyLost
	m.update()
}

// queueFree reports whether an RTT sample is close enough to the minimum
// RTT to show no standing queue.
func queueFree(rtt, minRTT time.Duration) bool {
	return minRTT > 0 && rtt <= minRTT+max(minRTT/lossCleanQueue, lossCleanSlack)
}

// endRound closes a loss round and reports whether it was congested.
func (m *lossModel) endRound(now time.Time, minRTT time.Duration) bool {
	acked, lost, rtt := m.roundAcked, m.roundLost, m.roundMinRTT
	m.roundAcked, m.roundLost, m.roundMinRTT = 0, 0, 0
	m.lastRoundLost, m.lastRoundRTT = lost, rtt
	m.queued = rtt > 0 && !queueFree(rtt, minRTT)
	if m.epochAcked+m.epochLost >= lossEpochPackets*m.mss {
		m.closeEpoch()
	}
	m.expire(now)
	m.update()
	return lost > 0 && m.exceeds(lost, acked+lost, 0)
}

// expire forgets epochs that began more than lossMaxAge ago: without
// fresh queue-free rounds (a competing flow keeps the queue standing) the
// estimate must not keep excusing loss it learned long ago.
func (m *lossModel) expire(now time.Time) {
	for m.ringLen > 0 {
		oldest := (m.ringNext - m.ringLen + lossEpochs) % lossEpochs
		e := m.ring[oldest]
		if now.Sub(e.start) <= lossMaxAge {
			break
		}
		m.sumAcked -= e.acked
		m.sumLost -= e.lost
		m.ringLen--
	}
	if m.epochAcked+m.epochLost > 0 && now.Sub(m.epochStart) > lossMaxAge {
		m.epochAcked, m.epochLost = 0, 0
	}
	if m.ringLen == 0 && m.epochAcked+m.epochLost == 0 {
		m.basis = 0
	}
}

// closeEpoch moves the current epoch into the ring and updates the index
// of dispersion with it.
func (m *lossModel) closeEpoch() {
	e := lossEpoch{m.epochAcked, m.epochLost, m.epochStart}
	m.epochAcked, m.epochLost = 0, 0
	// The epoch's deviation from the pooled rate, in binomial standard
	// deviations squared: 1 on average for independent losses.
	if n := float64(e.acked+e.lost) / float64(m.mss); m.total > 0 && n > 0 {
		p := m.smoothedRate()
		r := float64(e.lost) / float64(e.acked+e.lost)
		chi := (r - m.rate) * (r - m.rate) * n / (p * (1 - p))
		if m.disp == 0 {
			m.disp = 1
		}
		m.disp += lossDispersionGain * (min(chi, lossMaxDispersion) - m.disp)
		m.disp = min(max(m.disp, 1), lossMaxDispersion)
	}
	if m.ringLen == lossEpochs {
		old := m.ring[m.ringNext]
		m.sumAcked -= old.acked
		m.sumLost -= old.lost
	} else {
		m.ringLen++
	}
	m.ring[m.ringNext] = e
	m.ringNext = (m.ringNext + 1) % lossEpochs
	m.sumAcked += e.acked
	m.sumLost += e.lost
}

// update recomputes the pooled rate over the ring and the open epoch.
func (m *lossModel) update() {
	m.lostTotal = m.sumLost + m.epochLost
	m.total = m.sumAcked + m.epochAcked + m.lostTotal
	m.rate = 0
	if m.total > 0 {
		m.rate = float64(m.lostTotal) / float64(m.total)
	}
}

// smoothedRate is the loss rate for variance estimates: Laplace's rule of
// succession, so that an estimate from few packets, or from none lost, is
// not taken to be certain.
func (m *lossModel) smoothedRate() float64 {
	n := float64(m.total) / float64(m.mss)
	k := float64(m.lostTotal) / float64(m.mss)
	return (k + 1) / (n + 2)
}

// exceeds reports whether lost out of total bytes is more than the
// learned random loss plus margin plus lossZ standard deviations. The
// deviation combines the sample's binomial noise and the estimate's own,
// widened by the measured burstiness.
func (m *lossModel) exceeds(lost, total int64, margin float64) bool {
	if total <= 0 {
		return false
	}
	n := max(float64(total)/float64(m.mss), 1)
	p := m.smoothedRate()
	variance := p * (1 - p) * (1/n + float64(m.mss)/float64(m.total+m.mss))
	disp := max(m.disp, 1)
	limit := m.rate + margin + lossZ*math.Sqrt(disp*variance)
	return float64(lost)/float64(total) > limit
}

// compensation is the loss rate the bandwidth estimate is compensated
// for: the lower end of the estimate's confidence interval (lossZ
// standard deviations, widened by the burstiness), so that an estimate
// from few packets does not inflate the bandwidth: overcompensating
// builds a queue, undercompensating only leaves the rest to the next
// bandwidth probe.
func (m *lossModel) compensation() float64 {
	if m.total <= 0 {
		return 0
	}
	return min(max(m.rate-m.deviation(), 0), lossMaxCompensation)
}

// deviation is lossZ standard deviations of the estimate itself.
func (m *lossModel) deviation() float64 {
	n := float64(m.total) / float64(m.mss)
	p := m.smoothedRate()
	return lossZ * math.Sqrt(max(m.disp, 1)*p*(1-p)/n)
}
