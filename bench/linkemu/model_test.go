package linkemu

import (
	"math"
	"testing"
	"time"
)

// The statistical tests use fixed seeds, so each passes or fails the same
// way every run. Tolerances are 5 standard errors of the estimate (or, for
// correlated bursts, a stated relative band), so that they would hold for
// almost any seed: a failure means the model is wrong, not unlucky.

// t0 is synctest's epoch, so the model tests read like the memnet ones.
var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// sent is one planned packet.
type sent struct {
	now  time.Time
	n    int
	fate Fate
}

// plan sends count packets of size bytes, gap apart, through a model of s.
func plan(s Spec, seed uint64, count, size int, gap time.Duration) ([]sent, *Model) {
	m := NewModel(s, seed)
	out := make([]sent, count)
	now := t0
	for i := range out {
		out[i] = sent{now, size, m.Plan(size, now)}
		now = now.Add(gap)
	}
	return out, m
}

// checkConservation checks that every packet is accounted for.
func checkConservation(t *testing.T, seed uint64, st Stats) {
	t.Helper()
	if st.Packets-st.Lost+st.Duplicated != st.QueueDrops+st.Delivered {
		t.Errorf("seed %d: stats do not add up: %+v", seed, st)
	}
}

// within5SE checks a measured proportion against p, 5 standard errors of a
// proportion over n trials.
func within5SE(t *testing.T, seed uint64, what string, got, p float64, n int) {
	t.Helper()
	se := math.Sqrt(p * (1 - p) / float64(n))
	if math.Abs(got-p) > 5*se {
		t.Errorf("seed %d: %s = %.5f, want %.5f ± %.5f (5 SE over %d)", seed, what, got, p, 5*se, n)
	}
}

// lossBursts returns the lost share and the mean run of consecutive losses.
func lossBursts(ps []sent) (loss, burst float64) {
	lost, bursts, run := 0, 0, 0
	for _, p := range ps {
		if p.fate.Copies == 0 {
			lost++
			run++
			continue
		}
		if run > 0 {
			bursts++
		}
		run = 0
	}
	if run > 0 {
		bursts++
	}
	if bursts == 0 {
		return 0, 0
	}
	return float64(lost) / float64(len(ps)), float64(lost) / float64(bursts)
}

func TestModelBernoulliLoss(t *testing.T) {
	const seed, count = 1, 200_000
	for _, p := range []float64{0.01, 0.05, 0.30} {
		ps, m := plan(Spec{Loss: p}, seed, count, 1200, time.Millisecond)
		st := m.Stats()
		checkConservation(t, seed, st)
		loss, burst := lossBursts(ps)
		if float64(st.Lost)/count != loss {
			t.Errorf("seed %d: Stats.Lost = %d, but %v of fates were drops", seed, st.Lost, loss)
		}
		within5SE(t, seed, "Bernoulli loss", loss, p, count)
		// Runs of independent losses are geometric: mean 1/(1-p).
		if want := 1 / (1 - p); math.Abs(burst-want) > 0.05*want {
			t.Errorf("seed %d: Bernoulli %v: mean burst %.3f, want %.3f ± 5 %%", seed, p, burst, want)
		}
		t.Logf("Loss %v: measured %.4f %% over %d, mean burst %.3f", p, 100*loss, count, burst)
	}
}

func TestModelGilbertElliott(t *testing.T) {
	const seed, count = 2, 400_000
	tests := []struct {
		name string
		ge   GE
	}{
		{"Burst(0.05, 10)", *Burst(0.05, 10)},
		{"netem 1%:25%", GE{P: 0.01, R: 0.25, LossBad: 1}},
		{"partial", GE{P: 0.02, R: 0.2, LossBad: 0.8, LossGood: 0.01}},
	}
	for _, tt := range tests {
		ge := tt.ge
		ps, m := plan(Spec{GE: &ge}, seed, count, 1200, time.Millisecond)
		checkConservation(t, seed, m.Stats())
		loss, burst := lossBursts(ps)
		// Losses come in correlated bursts, so the binomial standard
		// error does not apply: about count*loss/burst independent
		// bursts (1000-2000 here) put the estimates within a few
		// percent; 10 % is several of their standard errors.
		if want := ge.MeanLoss(); math.Abs(loss-want) > 0.1*want {
			t.Errorf("seed %d: %s: loss %.4f, want %.4f ± 10 %%", seed, tt.name, loss, want)
		}
		if want := ge.MeanBurst(); math.Abs(burst-want) > 0.1*want {
			t.Errorf("seed %d: %s: mean burst %.3f, want %.3f ± 10 %%", seed, tt.name, burst, want)
		}
		t.Logf("GE %s: loss %.3f %% (model %.3f %%), mean burst %.3f (model %.3f) over %d",
			tt.name, 100*loss, 100*ge.MeanLoss(), burst, ge.MeanBurst(), count)
	}
}

func TestModelDuplicateCorruptReorder(t *testing.T) {
	const seed, count, size = 3, 200_000, 1000
	s := Spec{Delay: 20 * time.Millisecond, Duplicate: 0.02, Corrupt: 0.03, Reorder: 0.1}
	ps, m := plan(s, seed, count, size, time.Millisecond)
	st := m.Stats()
	checkConservation(t, seed, st)
	var dup, corrupt, early, copies int
	var firstByte, lastByte bool
	for _, p := range ps {
		f := p.fate
		if f.Copies < 1 || f.Copies > 2 {
			t.Fatalf("seed %d: no loss configured, but fate %v", seed, f)
		}
		copies += f.Copies
		if f.Copies == 2 {
			dup++
		}
		if f.Corrupt {
			corrupt++
			if f.Bit < 0 || f.Bit >= 8*size {
				t.Fatalf("seed %d: bit %d of a %d-byte packet", seed, f.Bit, size)
			}
			firstByte = firstByte || f.Bit < 8
			lastByte = lastByte || f.Bit >= 8*(size-1)
		}
		for _, at := range f.At[:f.Copies] {
			switch d := at.Sub(p.now); d {
			case 0:
				early++
			case s.Delay:
			default:
				t.Fatalf("seed %d: delay %v, want 0 (reordered) or %v", seed, d, s.Delay)
			}
		}
	}
	if st.Duplicated != uint64(dup) || st.Corrupted != uint64(corrupt) || st.Reordered != uint64(early) || st.Delivered != uint64(copies) {
		t.Errorf("seed %d: stats %+v disagree with fates: %d duplicated, %d corrupted, %d early, %d copies",
			seed, st, dup, corrupt, early, copies)
	}
	within5SE(t, seed, "duplicate rate", float64(dup)/count, s.Duplicate, count)
	within5SE(t, seed, "corrupt rate", float64(corrupt)/count, s.Corrupt, count)
	within5SE(t, seed, "reorder rate", float64(early)/float64(copies), s.Reorder, copies)
	if !firstByte || !lastByte {
		t.Errorf("seed %d: corrupted bits never reached the first or last byte (%v, %v)", seed, firstByte, lastByte)
	}
	t.Logf("duplicate %.3f %%, corrupt %.3f %%, reordered %.3f %% of %d copies",
		100*float64(dup)/count, 100*float64(corrupt)/count, 100*float64(early)/float64(copies), copies)
}

func TestModelJitter(t *testing.T) {
	const seed, count = 4, 100_000
	const delay, jitter = 50 * time.Millisecond, 10 * time.Millisecond
	for _, keep := range []bool{false, true} {
		ps, _ := plan(Spec{Delay: delay, Jitter: jitter, KeepOrder: keep}, seed, count, 1200, time.Millisecond)
		lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
		var sum, sum2 float64
		overtaken := 0
		var last time.Time
		for _, p := range ps {
			at := p.fate.At[0]
			d := at.Sub(p.now)
			lo, hi = min(lo, d), max(hi, d)
			sum += float64(d)
			sum2 += float64(d) * float64(d)
			if at.Before(last) {
				overtaken++
			}
			last = at
		}
		mean := time.Duration(sum / count)
		sd := time.Duration(math.Sqrt(sum2/count - (sum/count)*(sum/count)))
		t.Logf("KeepOrder %v: delay min %v max %v mean %v sd %v, %d of %d arrive before the packet sent before them",
			keep, lo, hi, mean, sd, overtaken, count)
		if lo < delay-jitter || hi > delay+jitter {
			t.Errorf("seed %d: KeepOrder %v: delays span [%v, %v], outside [%v, %v]", seed, keep, lo, hi, delay-jitter, delay+jitter)
		}
		// With 100 000 uniform draws the extremes come within a few
		// microseconds of the bounds.
		if hi < delay+jitter-100*time.Microsecond {
			t.Errorf("seed %d: KeepOrder %v: longest delay %v, want near %v", seed, keep, hi, delay+jitter)
		}
		if keep {
			if overtaken != 0 {
				t.Errorf("seed %d: KeepOrder: %d packets overtaken", seed, overtaken)
			}
			// Clamping only lengthens delays.
			if mean <= delay {
				t.Errorf("seed %d: KeepOrder: mean delay %v, want above %v", seed, mean, delay)
			}
			continue
		}
		if lo > delay-jitter+100*time.Microsecond {
			t.Errorf("seed %d: shortest delay %v, want near %v", seed, lo, delay-jitter)
		}
		// Uniform over [D-J, D+J]: mean D, sd J/sqrt(3) = 5.774 ms; the
		// mean's standard error is 18 µs over 100 000 packets.
		if d := mean - delay; d.Abs() > 100*time.Microsecond {
			t.Errorf("seed %d: mean delay %v, want %v ± 100µs", seed, mean, delay)
		}
		if want := float64(jitter) / math.Sqrt(3); math.Abs(float64(sd)-want) > 0.02*want {
			t.Errorf("seed %d: delay sd %v, want %v ± 2 %%", seed, sd, time.Duration(want))
		}
		// 1 ms apart with ±10 ms of jitter, most packets are overtaken.
		if overtaken < count/4 {
			t.Errorf("seed %d: only %d of %d packets overtaken without KeepOrder", seed, overtaken, count)
		}
	}
}

func TestModelRate(t *testing.T) {
	const seed, size = 5, 1250 // 10 000 bits: 0.5 ms at 20 Mbit/s
	const rate, delay = 20_000_000, 20 * time.Millisecond
	const tx = 500 * time.Microsecond
	tests := []struct {
		name  string
		queue int           // Spec.Queue
		limit int           // the queue in force
		gap   time.Duration // between sends
		drops bool
	}{
		// Default queue: one BDP at 20 Mbit/s over 2*20 ms = 100 000 B.
		{"2x offered, default queue", 0, 100_000, 250 * time.Microsecond, true},
		{"2x offered, 12-packet queue", 15_000, 15_000, 250 * time.Microsecond, true},
		{"half offered", 0, 100_000, time.Millisecond, false},
	}
	for _, tt := range tests {
		s := Spec{Delay: delay, Rate: rate, Queue: tt.queue}
		count := int(10 * time.Second / tt.gap)
		ps, m := plan(s, seed, count, size, tt.gap)
		st := m.Stats()
		checkConservation(t, seed, st)

		// An independent account of the queue: the packets accepted and
		// not yet being sent. A fluid backlog is admitted up to limit,
		// so what waits plus the newcomer never exceeds it, and a drop
		// means that what waits, the packet in service and the newcomer
		// do exceed it.
		type accepted struct{ start time.Time }
		var fifo []accepted
		var delivered int
		var first, last, lastDepart time.Time
		fullest := 0
		for i, p := range ps {
			for len(fifo) > 0 && !fifo[0].start.After(p.now) {
				fifo = fifo[1:]
			}
			waiting := len(fifo) * size
			inService := 0 // a busy link serialises one packet at a time
			if lastDepart.After(p.now) {
				inService = size
			}
			if p.fate.Copies == 0 {
				if waiting+inService+size <= tt.limit {
					t.Fatalf("seed %d: %s: packet %d dropped with %d B waiting", seed, tt.name, i, waiting)
				}
				continue
			}
			if waiting+size > tt.limit {
				t.Fatalf("seed %d: %s: packet %d accepted with %d B waiting, queue %d", seed, tt.name, i, waiting, tt.limit)
			}
			fullest = max(fullest, waiting+size)
			depart := p.fate.At[0].Add(-delay)
			if wait := depart.Sub(p.now) - tx; wait > time.Duration(tt.limit)*8*time.Second/rate {
				t.Fatalf("seed %d: %s: packet %d queued %v, more than %d B at %d bit/s", seed, tt.name, i, wait, tt.limit, rate)
			}
			fifo = append(fifo, accepted{depart.Add(-tx)})
			lastDepart = depart
			delivered++
			if first.IsZero() {
				first = p.fate.At[0]
			}
			last = p.fate.At[0]
		}
		// Throughput from the first arrival to the last: delivered-1
		// packets were serialised in between.
		got := float64((delivered-1)*size*8) / last.Sub(first).Seconds()
		t.Logf("%s: offered %.1f Mbit/s, delivered %.3f Mbit/s, %d queue drops of %d, fullest queue %d B of %d",
			tt.name, float64(size*8)/tt.gap.Seconds()/1e6, got/1e6, st.QueueDrops, st.Packets, fullest, tt.limit)
		if st.Lost != 0 {
			t.Errorf("seed %d: %s: %d random losses without Loss", seed, tt.name, st.Lost)
		}
		if !tt.drops {
			if st.QueueDrops != 0 {
				t.Errorf("seed %d: %s: %d queue drops under the rate", seed, tt.name, st.QueueDrops)
			}
			continue
		}
		if math.Abs(got-rate) > 0.01*rate {
			t.Errorf("seed %d: %s: delivered %.0f bit/s, want %d ± 1 %%", seed, tt.name, got, rate)
		}
		// Twice the rate offered: about half is dropped.
		if share := float64(st.QueueDrops) / float64(st.Packets); math.Abs(share-0.5) > 0.02 {
			t.Errorf("seed %d: %s: %.3f of packets queue-dropped, want about 0.5", seed, tt.name, share)
		}
		if fullest < tt.limit-2*size {
			t.Errorf("seed %d: %s: queue peaked at %d B, never near its %d", seed, tt.name, fullest, tt.limit)
		}
	}
}

func TestModelDeterminism(t *testing.T) {
	s := Spec{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond, GE: Burst(0.05, 4),
		Reorder: 0.05, Duplicate: 0.05, Corrupt: 0.05, Rate: 50_000_000}
	// 1400 B every 300 µs is 37 Mbit/s, under the rate: fates differ in
	// their jittered times, not in shared queue drops.
	const count, gap = 20_000, 300 * time.Microsecond
	a, _ := plan(s, 7, count, 1400, gap)
	b, _ := plan(s, 7, count, 1400, gap)
	c, _ := plan(s, 8, count, 1400, gap)
	same := 0
	for i := range a {
		if a[i].fate != b[i].fate {
			t.Fatalf("seed 7: packet %d: %v, then %v with the same seed", i, a[i].fate, b[i].fate)
		}
		if a[i].fate == c[i].fate {
			same++
		}
	}
	// Only packets both seeds lose (about 0.25 %) should match.
	if same > count/100 {
		t.Errorf("seeds 7 and 8 gave %d of %d identical fates", same, count)
	}
}

func TestModelSetSpec(t *testing.T) {
	const seed = 9
	ms := time.Millisecond
	// A chain that goes bad after the first packet and stays there: every
	// later packet is lost while the state carries over.
	sticky := GE{P: 1, R: 0, LossBad: 1}
	m := NewModel(Spec{GE: &sticky}, seed)
	sticky.P = 0 // the model holds a copy
	steps := []struct {
		spec   *Spec // nil: keep
		copies int
	}{
		{nil, 1}, // good, moves to bad
		{nil, 0},
		{&Spec{Delay: ms, GE: &GE{P: 1, R: 0, LossBad: 1}}, 0}, // state kept
		{&Spec{}, 1},                    // Bernoulli, no loss
		{&Spec{Loss: 1}, 0},             // blackhole
		{&Spec{Delay: ms}, 1},           // restored
		{&Spec{GE: &GE{LossBad: 1}}, 0}, // still in the bad state, which never ends now
	}
	now := t0
	for i, st := range steps {
		if st.spec != nil {
			m.SetSpec(*st.spec)
		}
		if f := m.Plan(100, now); f.Copies != st.copies {
			t.Fatalf("seed %d: step %d: %v, want %d copies", seed, i, f, st.copies)
		}
		now = now.Add(ms)
	}

	// The bottleneck's backlog carries over: 100-byte packets take 100 ms
	// at 8000 bit/s; five queue at once, and the sixth, after the spec
	// changes, leaves behind them.
	m = NewModel(Spec{Rate: 8000}, seed)
	for i := range 5 {
		if f := m.Plan(100, t0); f.At[0] != t0.Add(time.Duration(i+1)*100*ms) {
			t.Fatalf("seed %d: packet %d: %v", seed, i, f)
		}
	}
	m.SetSpec(Spec{Rate: 8000, Delay: 10 * ms})
	if f := m.Plan(100, t0.Add(50*ms)); f.At[0] != t0.Add(610*ms) {
		t.Fatalf("seed %d: after SetSpec: %v, want %v", seed, f, t0.Add(610*ms))
	}
	if got := m.Spec().Delay; got != 10*ms {
		t.Fatalf("Spec().Delay = %v", got)
	}

	defer func() {
		if recover() == nil {
			t.Fatal("SetSpec of an invalid spec did not panic")
		}
	}()
	m.SetSpec(Spec{Loss: 2})
}

// TestCorruptedCopies: every delivered copy of a corrupted packet is
// counted, so a corrupted duplicate counts twice.
func TestCorruptedCopies(t *testing.T) {
	m := NewModel(Spec{Corrupt: 0.2, Duplicate: 0.5}, 3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var copies uint64
	for range 20000 {
		if f := m.Plan(1000, now); f.Corrupt {
			copies += uint64(f.Copies)
		}
	}
	st := m.Stats()
	if st.CorruptedCopies != copies || st.CorruptedCopies <= st.Corrupted {
		t.Fatalf("CorruptedCopies %d, counted %d, corrupted packets %d", st.CorruptedCopies, copies, st.Corrupted)
	}
}
