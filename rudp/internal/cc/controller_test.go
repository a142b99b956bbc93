package cc

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// TestBBRUtilisationUnderLoss holds BBR to the loss rows the project
// promises, on the simulated 200 Mbit/s, 20 ms link with a one-BDP queue
// (ACKs lost at the same rate): random loss is not congestion. CUBIC on
// the same link at 5 % shows why the default is not loss-based.
func TestBBRUtilisationUnderLoss(t *testing.T) {
	rows := []struct {
		name          string
		loss, geBurst float64
		min           float64
	}{
		{"clean", 0, 0, 0.95},
		{"1%", 0.01, 0, 0.95},
		{"5%", 0.05, 0, 0.93},
		{"10%", 0.10, 0, 0.93},
		{"30%", 0.30, 0, 0.85},
		{"bursty 3% of 4", 0.03, 4, 0.90},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			cfg := simConfig{rateMbit: 200, rtt: 20 * time.Millisecond, queueBDP: 1, loss: r.loss, geBurst: r.geBurst,
				ackLoss: true, duration: 6 * time.Second, measure: time.Second, seed: 7}
			s := newSim(cfg)
			b := NewBBR(simPacket, 7)
			f := s.addFlow(b, 0)
			s.run()
			u := s.utilisation()
			t.Logf("utilisation %.3f, %d lost, %d tail drops, model %+v", u, f.lostPackets, s.drops, b.Model())
			if u < r.min {
				t.Errorf("BBR utilisation %.3f at %s loss, want >= %.2f", u, r.name, r.min)
			}
		})
	}
	t.Run("cubic 5%", func(t *testing.T) {
		t.Parallel()
		s := newSim(simConfig{rateMbit: 200, rtt: 20 * time.Millisecond, queueBDP: 1, loss: 0.05, ackLoss: true,
			duration: 6 * time.Second, measure: time.Second, seed: 7})
		s.addFlow(NewCubic(simPacket), 0)
		s.run()
		if u := s.utilisation(); u > 0.3 {
			t.Errorf("CUBIC kept %.3f of the link at 5 %% random loss: the simulator does not model loss as TCP sees it", u)
		}
	})
}

// TestBBRSharesABottleneck: over a 50 Mbit/s, 20 ms bottleneck with a
// shallow (1 BDP) and a deep (4 BDP) queue, two BBR flows share it with a
// Jain index of at least 0.9, and a BBR flow next to a CUBIC flow takes no
// more than twice CUBIC's share, nor less than a quarter of the link,
// whichever starts first; each over three seeds.
//
// One case gets a looser bound: BBR starting behind CUBIC's full one-BDP
// queue measures that queue as path (bbr_share.go) and takes up to three
// times CUBIC's share (2.2 to 2.9 on some seeds; BBRv3 itself does worse).
func TestBBRSharesABottleneck(t *testing.T) {
	for _, q := range []float64{1, 4} {
		for _, other := range []string{"bbr", "cubic", "cubic first"} {
			for seed := uint64(1); seed <= 3; seed++ {
				name := fmt.Sprintf("%s q%v seed %d", other, q, seed)
				maxRatio := 2.0
				if other == "cubic first" && q == 1 {
					maxRatio = 3
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					s := newSim(simConfig{rateMbit: 50, rtt: 20 * time.Millisecond, queueBDP: q,
						duration: 25 * time.Second, measure: 10 * time.Second, seed: seed})
					startBBR, startOther := time.Duration(0), 100*time.Millisecond
					var alg Algorithm = NewBBR(simPacket, seed+100)
					if other != "bbr" {
						alg = NewCubic(simPacket)
					}
					if other == "cubic first" {
						startBBR, startOther = 2*time.Second, 0
					}
					s.addFlow(NewBBR(simPacket, seed), startBBR)
					s.addFlow(alg, startOther)
					s.run()
					g := s.goodput()
					j, ratio := jain(g), g[0]/g[1]
					t.Logf("goodput %.1f / %.1f Mbit/s, Jain %.3f, utilisation %.3f", g[0]*8/1e6, g[1]*8/1e6, j, s.utilisation())
					if u := s.utilisation(); u < 0.9 {
						t.Errorf("utilisation %.3f, want >= 0.9", u)
					}
					if other == "bbr" {
						if j < 0.9 {
							t.Errorf("two BBR flows: Jain index %.3f, want >= 0.9", j)
						}
						return
					}
					if ratio > maxRatio {
						t.Errorf("BBR took %.2f times CUBIC's share, want <= %v", ratio, maxRatio)
					}
					if share := g[0] / s.rate; share < 0.25 {
						t.Errorf("BBR kept %.2f of the link next to CUBIC, want >= 0.25", share)
					}
				})
			}
		}
	}
}

// TestBBRStateMachine follows one flow on a clean link: Startup finds the
// bottleneck, Drain empties the queue Startup built, ProbeBW cruises at
// the bottleneck rate with the model's minimum RTT the propagation delay,
// and ProbeRTT comes within its ten seconds.
func TestBBRStateMachine(t *testing.T) {
	s := newSim(simConfig{rateMbit: 100, rtt: 30 * time.Millisecond, queueBDP: 2, duration: 14 * time.Second, seed: 1})
	b := NewBBR(simPacket, 1)
	f := s.addFlow(b, 0)
	seen := map[string]time.Duration{}
	f.trace = func(now time.Time, _ *simFlow) {
		st := b.State()
		if _, ok := seen[st]; !ok {
			seen[st] = now.Sub(t0)
		}
	}
	s.run()
	for _, st := range []string{"startup", "drain", "probe_bw", "probe_rtt"} {
		if _, ok := seen[st]; !ok {
			t.Errorf("state %s never entered (seen %v)", st, seen)
		}
	}
	if !(seen["startup"] <= seen["drain"] && seen["drain"] < seen["probe_bw"] && seen["probe_bw"] < seen["probe_rtt"]) {
		t.Errorf("states out of order: %v", seen)
	}
	m := b.Model()
	rate := 100e6 / 8
	if math.Abs(m.MaxBandwidth-rate)/rate > 0.1 {
		t.Errorf("bandwidth estimate %.0f B/s, bottleneck %.0f", m.MaxBandwidth, rate)
	}
	if m.MinRTT < 30*time.Millisecond || m.MinRTT > 32*time.Millisecond {
		t.Errorf("min RTT %v, propagation 30ms", m.MinRTT)
	}
	if b.Window() < int(rate*0.03) {
		t.Errorf("window %d below one BDP", b.Window())
	}
}

// TestPersistentCongestion: both controllers fall to their minimum window.
func TestPersistentCongestion(t *testing.T) {
	for _, name := range []string{"bbr", "cubic"} {
		alg, err := NewAlgorithm(name, 1200, 1)
		if err != nil {
			t.Fatal(err)
		}
		s := newSim(simConfig{rateMbit: 50, rtt: 20 * time.Millisecond, queueBDP: 1, duration: 2 * time.Second, seed: 1})
		s.addFlow(alg, 0)
		s.run()
		before := alg.Window()
		alg.OnPersistentCongestion(t0.Add(3 * time.Second))
		want := MinWindow(1200)
		if name == "bbr" {
			want = MinPipeWindow(1200)
		}
		if got := alg.Window(); got != want || got >= before {
			t.Errorf("%s: window %d -> %d after persistent congestion, want %d", name, before, got, want)
		}
	}
}

func TestNewAlgorithm(t *testing.T) {
	for name, state := range map[string]string{"": "startup", "bbr": "startup", "cubic": "slow_start"} {
		a, err := NewAlgorithm(name, 1200, 1)
		if err != nil || a.State() != state || a.Window() != InitialWindow(1200) {
			t.Errorf("NewAlgorithm(%q): %v, state %q, window %d", name, err, a.State(), a.Window())
		}
	}
	if _, err := NewAlgorithm("reno", 1200, 1); err == nil || !strings.Contains(err.Error(), `"reno"`) {
		t.Errorf("unknown name: %v", err)
	}
}

// TestCubicReduction: a loss cuts the window by beta once per round trip,
// the window does not grow in recovery, and growth in avoidance returns
// toward the window before the loss.
func TestCubicReduction(t *testing.T) {
	c := NewCubic(1200)
	now := t0
	ack := func(acked, lost int, newestAcked, newestLost time.Time) {
		c.OnPacketSent(now, 1200, c.Window()) // the window is in use
		c.OnAckEvent(now, AckEvent{Acked: acked, Lost: lost, LostPackets: lost / 1200,
			NewestAckedSent: newestAcked, NewestLostSent: newestLost, BytesInFlight: c.Window(), SmoothedRTT: 20 * time.Millisecond})
	}
	for range 5 { // slow start to 32 windows' worth
		now = now.Add(20 * time.Millisecond)
		ack(c.Window(), 0, now.Add(-20*time.Millisecond), time.Time{})
	}
	w := c.Window()
	if w != InitialWindow(1200)<<5 {
		t.Fatalf("slow start: window %d, want %d", w, InitialWindow(1200)<<5)
	}
	now = now.Add(time.Millisecond)
	ack(0, 1200, time.Time{}, now.Add(-20*time.Millisecond))
	if got, want := c.Window(), int(float64(w)*cubicBeta); got != want || !c.InRecovery() {
		t.Fatalf("after a loss: window %d (recovery %v), want %d", got, c.InRecovery(), want)
	}
	reduced := c.Window()
	// More losses of packets sent before the reduction, and ACKs of them:
	// the same event.
	ack(12000, 2400, now.Add(-15*time.Millisecond), now.Add(-10*time.Millisecond))
	if c.Window() != reduced || c.State() != "recovery" {
		t.Fatalf("same round: window %d, state %s", c.Window(), c.State())
	}
	// A packet sent after the reduction is acknowledged: recovery ends and
	// the window grows again, concave toward the old maximum.
	start := now
	for range 100 {
		now = now.Add(20 * time.Millisecond)
		ack(c.Window(), 0, now.Add(-20*time.Millisecond), time.Time{})
	}
	if c.InRecovery() || c.State() != "congestion_avoidance" {
		t.Fatalf("state %s after clean rounds", c.State())
	}
	k := math.Cbrt(float64(w) / 1200 * (1 - cubicBeta) / cubicC)
	if got := c.Window(); got <= reduced || (now.Sub(start).Seconds() < k && got > w) {
		t.Fatalf("window %d after %v (K %.2fs): want growth from %d toward %d", got, now.Sub(start), k, reduced, w)
	}
}

// TestRateSampler: a flow paced at a known rate over a fixed RTT measures
// that rate; a sample of a packet sent in an app-limited spell says so.
func TestRateSampler(t *testing.T) {
	var s RateSampler
	const size, rtt = 1200, 10 * time.Millisecond
	gap := time.Millisecond // 1.2 MB/s
	type rec struct {
		st   SendState
		sent time.Time
	}
	var flight []rec
	inflight := 0
	now := t0
	var last RateSample
	for i := range 200 {
		now = t0.Add(time.Duration(i) * gap)
		for len(flight) > 0 && !now.Before(flight[0].sent.Add(rtt)) {
			s.OnPacketAcked(now, size, flight[0].st)
			inflight -= size
			flight = flight[1:]
			last = s.Sample(now, rtt)
		}
		flight = append(flight, rec{s.OnPacketSent(now, size, inflight), now})
		inflight += size
	}
	if !last.Valid || math.Abs(last.DeliveryRate-1.2e6)/1.2e6 > 0.02 || last.IsAppLimited {
		t.Fatalf("steady flow: %+v, want a valid 1.2 MB/s sample", last)
	}
	if last.RTT != rtt || last.NewlyAcked != size {
		t.Fatalf("sample RTT %v acked %d", last.RTT, last.NewlyAcked)
	}
	// The application stops; what it sends next is marked until the
	// bubble is delivered.
	s.OnAppLimited(inflight)
	if !s.AppLimited() {
		t.Fatal("not app-limited after OnAppLimited")
	}
	st := s.OnPacketSent(now, size, inflight)
	for _, r := range flight {
		s.OnPacketAcked(now.Add(rtt), size, r.st)
	}
	s.OnPacketAcked(now.Add(rtt+gap), size, st)
	rs := s.Sample(now.Add(rtt+gap), rtt)
	if !rs.IsAppLimited {
		t.Fatalf("sample of a packet sent app-limited: %+v", rs)
	}
	if s.AppLimited() {
		t.Fatal("bubble delivered but still app-limited")
	}
	// A loss shows in the next sample.
	s.OnPacketLost(size)
	if rs := s.Sample(now.Add(rtt+2*gap), rtt); rs.NewlyLost != size || rs.Valid {
		t.Fatalf("loss-only event: %+v", rs)
	}
}

// TestForeignQueuePossible: BBR takes a standing queue for a loss-based
// flow's only where such a flow could hold one. At 200 Mbit/s and 20 ms a
// queue counts from 5 ms (125 kB, 85 packets): a Reno-like flow holds
// that much only below about 0.03 % random loss (sqrt(8/3)/sqrt(p) >= 85
// packets); at 1 % or 3 % the queue must be BBR's own.
func TestForeignQueuePossible(t *testing.T) {
	for _, tt := range []struct {
		rateMbit float64
		loss     float64
		want     bool
	}{
		{200, 0, true},
		{200, 0.0002, true},
		{200, 0.01, false},
		{200, 0.03, false},
		{50, 0.001, true}, // 52 packets hold the 21-packet queue of 50 Mbit/s
		{50, 0.03, false},
	} {
		b := NewBBR(1500, 1)
		b.minRTT = 20 * time.Millisecond
		b.maxBw = tt.rateMbit * 1e6 / 8
		b.loss.rate = tt.loss
		if got := b.foreignQueuePossible(); got != tt.want {
			t.Errorf("%v Mbit/s, %.2f %% random loss: foreign queue possible %v, want %v", tt.rateMbit, 100*tt.loss, got, tt.want)
		}
	}
}
