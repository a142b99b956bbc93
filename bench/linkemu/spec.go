package linkemu

import (
	"fmt"
	"math"
	"time"
)

// Spec is one direction's impairment, with netem's names and meanings
// (tc-netem(8)). The zero Spec is a perfect link: no delay, no loss,
// unlimited rate.
//
// Fields are read when a packet is planned; change a running link with
// [Model.SetSpec], [MemConn.SetSpec] or [Link.SetSpec], never by editing a
// Spec (or its GE) that a Model already holds: they copy what they are
// given.
type Spec struct {
	// Delay is the base one-way delay (propagation), added after the
	// bottleneck.
	Delay time.Duration
	// Jitter spreads the delay uniformly over [Delay-Jitter, Delay+Jitter],
	// like netem's default (no distribution table). It may not exceed
	// Delay: netem would clamp the negative delays to zero, which piles a
	// mass of packets on "no delay" and shifts the mean; a Spec here keeps
	// the distribution it names.
	Jitter time.Duration
	// KeepOrder stops jitter from reordering: a delayed packet never leaves
	// before one sent before it (its delivery time is clamped up to the
	// latest one planned so far). Packets that Reorder sends early still
	// overtake. Jitter without it reorders almost every packet at high
	// rates (research/linkemu.md, pitfall 6).
	KeepOrder bool
	// Loss is the probability, 0..1, that a packet is lost, independently
	// of every other packet (Bernoulli). Leave it 0 when GE is set.
	Loss float64
	// GE, when set, replaces Loss with Gilbert-Elliott burst loss. Build a
	// common one with [Burst].
	GE *GE
	// Reorder is the probability, 0..1, that a packet skips the delay
	// (netem "reorder"): it still queues at the bottleneck, then arrives
	// ahead of packets sent before it. Like netem, it needs Delay > 0.
	Reorder float64
	// Duplicate is the probability, 0..1, that a packet is delivered twice.
	Duplicate float64
	// Corrupt is the probability, 0..1, that one random bit of the packet
	// is flipped (in every copy, when it is also duplicated).
	Corrupt float64
	// Rate is the bottleneck in bits per second; 0 means unlimited.
	// Packets are serialised one after another at this rate.
	Rate int64
	// Queue is the bottleneck's queue in bytes, tail drop: a packet that
	// would make the backlog exceed it is dropped. 0 means the larger of
	// one bandwidth-delay product at Rate and 2*Delay (the round trip of a
	// symmetric link) and [DefaultQueue]. Ignored when Rate is 0. A Queue
	// smaller than a packet drops that packet every time.
	Queue int
}

// GE is netem's "loss gemodel p r 1-h 1-k": a two-state Markov chain that
// moves once per packet, whose state decides each packet's loss
// probability. The model starts in the good state.
type GE struct {
	// P is the probability of moving from the good to the bad state, per
	// packet.
	P float64
	// R is the probability of moving from the bad to the good state, per
	// packet.
	R float64
	// LossBad is the loss probability in the bad state (netem's 1-h); 1
	// means every packet of a burst is lost.
	LossBad float64
	// LossGood is the loss probability in the good state (netem's 1-k).
	LossGood float64
}

// DefaultQueue is the smallest default bottleneck queue, in bytes: the
// research prototype's floor (research/linkemu.md, section 2), about 46
// packets of 1400 bytes, so that a short-delay link whose BDP is tiny still
// absorbs a burst instead of dropping at the second packet.
const DefaultQueue = 64 << 10

// MaxDelay bounds Delay. It is far above any real path (a geostationary
// satellite hop adds about 270 ms one way) and keeps every time sum of the
// model, and 2*Jitter+1, far from int64 overflow.
const MaxDelay = time.Hour

// Validate reports the first field of s that is out of range, in an error
// that names it: probabilities must be in [0, 1], durations, Rate and Queue
// not negative, Jitter at most Delay, Delay at most [MaxDelay], Reorder only
// with a Delay, Loss and GE not both set, and GE's fields probabilities.
func (s Spec) Validate() error {
	if err := s.check("Spec."); err != nil {
		return fmt.Errorf("linkemu: %w", err)
	}
	return nil
}

// check is Validate with the field names prefixed by prefix, so that
// MemPair can say which direction is wrong.
func (s Spec) check(prefix string) error {
	switch {
	case s.Delay < 0:
		return fmt.Errorf("%sDelay = %v: must not be negative", prefix, s.Delay)
	case s.Delay > MaxDelay:
		return fmt.Errorf("%sDelay = %v: must be at most %v", prefix, s.Delay, MaxDelay)
	case s.Jitter < 0:
		return fmt.Errorf("%sJitter = %v: must not be negative", prefix, s.Jitter)
	case s.Jitter > s.Delay:
		return fmt.Errorf("%sJitter = %v: must not exceed Delay (%v), so that the delay stays uniform in [Delay-Jitter, Delay+Jitter]",
			prefix, s.Jitter, s.Delay)
	case s.Rate < 0:
		return fmt.Errorf("%sRate = %d: must not be negative (0 is unlimited)", prefix, s.Rate)
	case s.Queue < 0:
		return fmt.Errorf("%sQueue = %d: must not be negative (0 is the default)", prefix, s.Queue)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", s.Loss}, {"Reorder", s.Reorder}, {"Duplicate", s.Duplicate}, {"Corrupt", s.Corrupt}} {
		if err := checkProb(prefix+p.name, p.v); err != nil {
			return err
		}
	}
	if s.Reorder > 0 && s.Delay == 0 {
		return fmt.Errorf("%sReorder = %v: needs a Delay to skip (netem refuses reordering without delay too)", prefix, s.Reorder)
	}
	if s.GE != nil {
		if s.Loss != 0 {
			return fmt.Errorf("%sLoss = %v and %sGE are both set: GE replaces Loss, set only one", prefix, s.Loss, prefix)
		}
		return s.GE.check(prefix + "GE.")
	}
	return nil
}

// check validates g's fields, named with prefix.
func (g GE) check(prefix string) error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"P", g.P}, {"R", g.R}, {"LossBad", g.LossBad}, {"LossGood", g.LossGood}} {
		if err := checkProb(prefix+p.name, p.v); err != nil {
			return err
		}
	}
	return nil
}

// checkProb rejects anything outside [0, 1], NaN included (every
// comparison with NaN is false, so test for the inside).
func checkProb(name string, v float64) error {
	if !(v >= 0 && v <= 1) {
		return fmt.Errorf("%s = %v: must be a probability in [0, 1]", name, v)
	}
	return nil
}

// stationaryBad is the long-run share of packets that see the bad state:
// P/(P+R). With P = R = 0 the chain never leaves its start, the good state.
func (g GE) stationaryBad() float64 {
	if g.P+g.R == 0 {
		return 0
	}
	return g.P / (g.P + g.R)
}

// MeanLoss is g's stationary loss rate: the share of packets lost in the
// long run, for tests and reports.
func (g GE) MeanLoss() float64 {
	b := g.stationaryBad()
	return b*g.LossBad + (1-b)*g.LossGood
}

// MeanBurst is the mean length of a loss burst (a run of consecutive lost
// packets) in the long run: 1/R when LossBad = 1 and LossGood = 0. It is 0
// when g never loses and +Inf when a burst never ends.
//
// Given the states, losses are independent, so a burst ends at packet t
// with probability sum over states s, s' of pi(s) loss(s) T(s,s')
// (1-loss(s')), and the mean burst is the loss rate divided by that.
func (g GE) MeanBurst() float64 {
	loss := g.MeanLoss()
	if loss == 0 {
		return 0
	}
	b := g.stationaryBad()
	pi := [2]float64{1 - b, b}             // good, bad
	l := [2]float64{g.LossGood, g.LossBad} // loss probability per state
	t := [2][2]float64{{1 - g.P, g.P}, {g.R, 1 - g.R}}
	var end float64
	for s := range 2 {
		for s2 := range 2 {
			end += pi[s] * l[s] * t[s][s2] * (1 - l[s2])
		}
	}
	if end == 0 {
		return math.Inf(1)
	}
	return loss / end
}

// Burst returns a Gilbert-Elliott model that loses meanLoss of the packets
// in bursts of meanBurst packets on average: every packet in the bad state
// is lost and none in the good one (LossBad 1, LossGood 0), so a burst is
// one stay in the bad state, R = 1/meanBurst, and P follows from the
// stationary share P/(P+R) = meanLoss. Burst(0.05, 10) is "5 % loss in
// bursts of 10".
//
// Burst panics unless 0 <= meanLoss < 1 and meanBurst >= 1 and the pair is
// reachable (P <= 1, that is meanLoss <= meanBurst/(meanBurst+1)): its
// arguments are constants in a test, and a model other than the one asked
// for would make the test meaningless.
func Burst(meanLoss, meanBurst float64) *GE {
	if !(meanLoss >= 0 && meanLoss < 1) {
		panic(fmt.Sprintf("linkemu: Burst(%v, %v): mean loss must be in [0, 1)", meanLoss, meanBurst))
	}
	if !(meanBurst >= 1) || math.IsInf(meanBurst, 1) {
		panic(fmt.Sprintf("linkemu: Burst(%v, %v): mean burst must be a finite number >= 1", meanLoss, meanBurst))
	}
	r := 1 / meanBurst
	p := r * meanLoss / (1 - meanLoss)
	if p > 1 {
		panic(fmt.Sprintf("linkemu: Burst(%v, %v): unreachable, bursts of %v allow at most %v loss",
			meanLoss, meanBurst, meanBurst, meanBurst/(meanBurst+1)))
	}
	return &GE{P: p, R: r, LossBad: 1, LossGood: 0}
}
