package cc

// A deterministic link simulator for the congestion controllers: one
// bottleneck with a rate, a propagation delay and a drop-tail queue,
// random loss before it (netem's order, as bench/linkemu models it),
// and flows that each run an Algorithm, a Pacer and a RateSampler the way
// the engine does. Time is virtual: a run of 20 s takes well under a
// second of CPU.

import (
	"math"
	"math/rand/v2"
	"time"
)

// simPacket is the size of every simulated packet: the engine's datagram.
const simPacket = 1200

// lossProcess decides which packets a link drops at random.
type lossProcess interface{ drop() bool }

// bernoulli drops each packet independently with probability p.
type bernoulli struct {
	p   float64
	rng *rand.Rand
}

func (b *bernoulli) drop() bool { return b.p > 0 && b.rng.Float64() < b.p }

// gilbertElliott is the two-state burst-loss channel of netem's "loss
// gemodel": in the bad state every packet is lost, in the good state none;
// p is the chance to turn bad, r the chance to turn good again, so bursts
// last 1/r packets on average and the loss rate is p/(p+r).
type gilbertElliott struct {
	p, r float64
	bad  bool
	rng  *rand.Rand
}

func (g *gilbertElliott) drop() bool {
	if g.bad {
		g.bad = g.rng.Float64() >= g.r
	} else {
		g.bad = g.rng.Float64() < g.p
	}
	return g.bad
}

// newGE returns a Gilbert-Elliott channel with the given mean loss rate
// and mean burst length in packets.
func newGE(rate, burst float64, rng *rand.Rand) *gilbertElliott {
	r := 1 / burst
	return &gilbertElliott{p: rate * r / (1 - rate), r: r, rng: rng}
}

// simConfig describes one simulated scenario.
type simConfig struct {
	rateMbit float64       // bottleneck rate
	rtt      time.Duration // two-way propagation delay
	queueBDP float64       // drop-tail queue, in bandwidth-delay products
	loss     float64       // random loss rate before the bottleneck
	geBurst  float64       // > 0: loss comes in Gilbert-Elliott bursts of this mean length
	ackLoss  bool          // the return path loses ACKs at the same rate
	ackEvery int           // the receiver acknowledges every ackEvery packets (1 or 2)
	duration time.Duration // virtual run time
	measure  time.Duration // goodput is measured from here to the end
	seed     uint64
}

// bytesPerSecond returns the bottleneck rate.
func (c simConfig) bytesPerSecond() float64 { return c.rateMbit * 1e6 / 8 }

// bdp returns the bandwidth-delay product in bytes.
func (c simConfig) bdp() float64 { return c.bytesPerSecond() * c.rtt.Seconds() }

// event kinds.
const (
	evArrive   = iota // a data packet reaches the receiver
	evAck             // an ACK reaches the sender
	evSend            // the pacer lets the sender go on
	evAckTimer        // the receiver's delayed-ACK timer
	evTimer           // the sender's loss or probe timer
)

type simEvent struct {
	at   int64 // virtual nanoseconds
	seq  uint64
	kind uint8
	flow int32
	arg  int64
}

// eventHeap is a binary min-heap of events by time, then by order of
// scheduling, so that runs are deterministic.
type eventHeap []simEvent

func (h eventHeap) less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}

func (h *eventHeap) push(e simEvent) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() simEvent {
	s := *h
	e := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return e
}

// sim is one run: a link, its flows and the event queue.
type sim struct {
	cfg       simConfig
	events    eventHeap
	seq       uint64
	now       int64
	busyUntil int64 // when the bottleneck finishes what it holds
	rate      float64
	queue     float64 // bytes
	delay     int64   // one-way, nanoseconds
	fwdLoss   lossProcess
	revLoss   lossProcess
	flows     []*simFlow
	drops     int // tail drops at the queue
}

func newSim(cfg simConfig) *sim {
	if cfg.ackEvery == 0 {
		cfg.ackEvery = 2
	}
	s := &sim{
		cfg:   cfg,
		rate:  cfg.bytesPerSecond(),
		queue: math.Max(cfg.queueBDP*cfg.bdp(), 2*simPacket),
		delay: int64(cfg.rtt / 2),
	}
	rng := rand.New(rand.NewPCG(cfg.seed, 1))
	if cfg.geBurst > 0 {
		s.fwdLoss = newGE(cfg.loss, cfg.geBurst, rng)
		s.revLoss = newGE(cfg.loss, cfg.geBurst, rand.New(rand.NewPCG(cfg.seed, 2)))
	} else {
		s.fwdLoss = &bernoulli{cfg.loss, rng}
		s.revLoss = &bernoulli{cfg.loss, rand.New(rand.NewPCG(cfg.seed, 2))}
	}
	return s
}

func (s *sim) schedule(at int64, kind uint8, flow int, arg int64) {
	s.seq++
	s.events.push(simEvent{at: at, seq: s.seq, kind: kind, flow: int32(flow), arg: arg})
}

// time converts virtual nanoseconds to the time the controllers see.
func (s *sim) time(ns int64) time.Time { return t0.Add(time.Duration(ns)) }

// transmit puts a data packet on the link at s.now: random loss first,
// then the bottleneck's queue, then the propagation delay.
func (s *sim) transmit(flow int, pn int64) {
	if s.fwdLoss.drop() {
		return
	}
	backlog := 0.0
	if s.busyUntil > s.now {
		backlog = float64(s.busyUntil-s.now) / 1e9 * s.rate
	}
	if backlog+simPacket > s.queue {
		s.drops++
		return
	}
	start := max(s.now, s.busyUntil)
	s.busyUntil = start + int64(simPacket/s.rate*1e9)
	s.schedule(s.busyUntil+s.delay, evArrive, flow, pn)
}

// sendAck puts an ACK covering the receiver's first upto arrivals on the
// uncongested return path.
func (s *sim) sendAck(flow int, upto int64) {
	if s.cfg.ackLoss && s.revLoss.drop() {
		return
	}
	s.schedule(s.now+s.delay, evAck, flow, upto)
}

// run runs the simulation to its end.
func (s *sim) run() {
	for _, f := range s.flows {
		s.schedule(int64(f.start), evSend, f.id, 0)
	}
	end := int64(s.cfg.duration)
	for len(s.events) > 0 {
		e := s.events.pop()
		if e.at > end {
			break
		}
		s.now = e.at
		f := s.flows[e.flow]
		switch e.kind {
		case evArrive:
			f.onArrive(e.arg)
		case evAck:
			f.onAck(e.arg)
		case evSend:
			if f.wakeAt == e.at {
				f.wakeAt = 0
			}
			f.trySend()
		case evAckTimer:
			f.onAckTimer(e.arg)
		case evTimer:
			f.onTimer(e.at)
		}
	}
}

// goodput returns each flow's goodput over the measurement window, in
// bytes per second.
func (s *sim) goodput() []float64 {
	window := (s.cfg.duration - s.cfg.measure).Seconds()
	g := make([]float64, len(s.flows))
	for i, f := range s.flows {
		g[i] = float64(f.measured) / window
	}
	return g
}

// utilisation returns the flows' total goodput over the bottleneck rate.
func (s *sim) utilisation() float64 {
	sum := 0.0
	for _, g := range s.goodput() {
		sum += g
	}
	return sum / s.rate
}

// jain is Jain's fairness index of xs: 1 when all are equal, 1/n when one
// takes everything.
func jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}
