package fec

import "math"

// Constants of the adaptive ratio.
const (
	// lossWindow is the smoothing window in packets: the loss estimate is
	// an exponentially weighted mean in which each packet sent weighs
	// 1/lossWindow. 256 packets are about 25 groups of 10: enough that 1 %
	// loss shows as a few losses rather than none or one, short enough
	// that a change of path is followed within a few round trips at any
	// useful rate. One loss moves the estimate by 0.4 %, enough to turn
	// FEC on at 10+1; it then decays below offBelow in about 530 packets.
	lossWindow = 256

	// groupLossTarget is the probability, at the smoothed loss rate, that
	// a group loses more shards than its parity can rebuild, which the
	// ratio is chosen to stay under. At 1 % one group in a hundred still
	// waits for retransmission, which costs a round trip but no more; a
	// lower target buys little and costs parity on every group.
	groupLossTarget = 0.01

	// offBelow is the smoothed loss under which FEC goes off again once
	// on. The binomial rule asks for parity above about 0.1 % loss (where
	// 10 unprotected packets fail 1 % of the time); turning off only at
	// half that keeps a rate hovering near the threshold from switching
	// FEC on and off every round trip.
	offBelow = 0.0005
)

// Adapter picks the FEC ratio from the loss the connection measures. The
// zero value is ready: no loss seen, FEC off. It is pure and not safe for
// concurrent use.
//
// Smoothing: Observe folds the loss rate of each report into an
// exponentially weighted mean with a window of lossWindow packets, weighing
// a report by the packets it covers (a report of n packets moves the mean by
// 1-(1-1/lossWindow)^n of the way), so the estimate does not depend on how
// often the engine reports.
//
// Ratio: k is always MaxData; m is the smallest number of parity shards such
// that, with each of the k+m shards lost independently at the smoothed rate,
// more than m are lost with probability at most groupLossTarget; capped at
// MaxParity. That gives 1 parity shard from 0.11 % loss, 2 from 1.4 %, 3
// from 3.9 %, 5 from 10 %, and MaxParity from 25 % (TestParityFor). m falls
// to 0 when the estimate drops below offBelow.
type Adapter struct {
	loss float64 // smoothed loss rate
	m    int
}

// Observe takes the packets sent and declared lost since the last call (the
// engine calls it every round trip or so). lost above sent counts as sent.
func (a *Adapter) Observe(sent, lost uint64) {
	if sent == 0 {
		return
	}
	lost = min(lost, sent)
	rate := float64(lost) / float64(sent)
	w := 1 - math.Pow(1-1.0/lossWindow, float64(sent))
	a.loss += w * (rate - a.loss)

	m := parityFor(MaxData, a.loss)
	if m == 0 && a.m > 0 && a.loss >= offBelow {
		m = 1 // on, and not yet clean enough to turn off
	}
	a.m = m
}

// Ratio returns the ratio to use: k data shards per group protected by m
// parity shards, m = 0 meaning FEC off.
func (a *Adapter) Ratio() (k, m int) { return MaxData, a.m }

// Loss returns the smoothed loss rate, for Stats.
func (a *Adapter) Loss() float64 { return a.loss }

// ParityFor returns the parity shards for a group of k data shards (a
// partial group, flushed early) by the same rule as Ratio's m, or 0 while
// FEC is off. A group of one sparse packet at 5 % loss needs one parity
// shard, not the three a group of ten does.
func (a *Adapter) ParityFor(k int) int {
	if a.m == 0 {
		return 0
	}
	return max(1, parityFor(min(max(k, 1), MaxData), a.loss))
}

// parityFor returns the smallest m <= MaxParity for which a group of k data
// and m parity shards, each lost independently with probability p, loses
// more than m with probability at most groupLossTarget; MaxParity if none.
func parityFor(k int, p float64) int {
	for m := 0; m < MaxParity; m++ {
		if binomialTail(k+m, m, p) <= groupLossTarget {
			return m
		}
	}
	return MaxParity
}

// binomialTail returns P(X > m) for X ~ Binomial(n, p).
func binomialTail(n, m int, p float64) float64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1
	}
	// Sum P(X = i) for i <= m, building each term from the last:
	// P(i+1) = P(i) * (n-i)/(i+1) * p/(1-p).
	term := math.Pow(1-p, float64(n))
	sum := term
	for i := 0; i < m; i++ {
		term *= float64(n-i) / float64(i+1) * p / (1 - p)
		sum += term
	}
	return max(0, 1-sum)
}
