package cc

import "time"

// simFlow is one simulated connection: a sender that drives an Algorithm,
// a Pacer and a RateSampler as the engine does (RFC 9002 loss detection
// by packet and time threshold, a probe timeout, retransmission of lost
// data in new packets), and a receiver that acknowledges every ackEvery
// packets or after simAckDelay. ACKs carry ranges, so a lost ACK only
// delays what the next one says.
type simFlow struct {
	s       *sim
	id      int
	start   time.Duration
	alg     Algorithm
	pacer   Pacer
	sampler RateSampler
	trace   func(now time.Time, f *simFlow) // after each ACK event, if set

	// Sender.
	pkts         []simPkt // by packet number
	lowest       int64    // no packet below it is outstanding
	largestAcked int64
	inflight     int
	nextData     int64
	retx         []int64 // data to send again
	processed    int64   // receiver arrivals already acknowledged
	wakeAt       int64   // the pacer's wake-up event, 0: none
	timerAt      int64   // the loss or probe timer, 0: none
	lastSend     int64
	ptoCount     int
	minRTT, srtt time.Duration
	rttvar       time.Duration
	latestRTT    time.Duration
	lostPackets  int

	// Receiver.
	arrivals []int64 // packet numbers in order of arrival
	seen     []bool  // by data number: delivered already
	unacked  int
	ackTimer bool
	measured int64 // new data delivered inside the measurement window
}

type simPkt struct {
	sent  int64
	data  int64
	st    SendState
	state uint8
}

const (
	pktInFlight = iota
	pktAcked
	pktLost
)

// simAckDelay is the receiver's delayed-ACK timer (RFC 9000's default
// max_ack_delay is 25 ms; flows here send often enough that it seldom
// matters).
const simAckDelay = 10 * time.Millisecond

// simTimerFloor is the shortest wait the engine's pacing timer achieves
// (measured: 1.1 ms for any shorter request, see TimerGranularity).
const simTimerFloor = 1100 * time.Microsecond

// addFlow adds a flow driven by alg that starts sending at start.
func (s *sim) addFlow(alg Algorithm, start time.Duration) *simFlow {
	f := &simFlow{s: s, id: len(s.flows), start: start, alg: alg, largestAcked: -1}
	s.flows = append(s.flows, f)
	return f
}

// trySend sends while the window and the pacer allow, and otherwise
// sets the pacer's wake-up.
func (f *simFlow) trySend() {
	s := f.s
	for f.inflight+simPacket <= f.alg.Window() {
		rate := f.alg.PacingRate()
		if d := f.pacer.Delay(s.time(s.now), rate, simPacket); d > 0 {
			// The engine's timers wake no sooner than a millisecond
			// (epoll_wait's resolution), however short the wait.
			at := s.now + int64(max(d, simTimerFloor))
			if f.wakeAt == 0 || at < f.wakeAt {
				f.wakeAt = at
				s.schedule(at, evSend, f.id, 0)
			}
			return
		}
		f.sendPacket(rate)
	}
}

// sendPacket sends the next data (a retransmission first) in a new
// packet.
func (f *simFlow) sendPacket(rate float64) {
	s := f.s
	now := s.time(s.now)
	data := f.nextData
	if n := len(f.retx); n > 0 {
		data, f.retx = f.retx[0], f.retx[1:]
	} else {
		f.nextData++
		f.seen = append(f.seen, false)
	}
	st := f.sampler.OnPacketSent(now, simPacket, f.inflight)
	pn := int64(len(f.pkts))
	f.pkts = append(f.pkts, simPkt{sent: s.now, data: data, st: st})
	f.inflight += simPacket
	f.alg.OnPacketSent(now, simPacket, f.inflight)
	f.pacer.OnSent(now, rate, simPacket)
	f.lastSend = s.now
	s.transmit(f.id, pn)
	if f.timerAt == 0 {
		f.armTimer()
	}
}

// onArrive is the receiver getting packet pn.
func (f *simFlow) onArrive(pn int64) {
	s := f.s
	f.arrivals = append(f.arrivals, pn)
	if d := f.pkts[pn].data; !f.seen[d] {
		f.seen[d] = true
		if s.now >= int64(s.cfg.measure) {
			f.measured += simPacket
		}
	}
	f.unacked++
	if f.unacked >= s.cfg.ackEvery {
		f.unacked = 0
		s.sendAck(f.id, int64(len(f.arrivals)))
	} else if !f.ackTimer {
		f.ackTimer = true
		s.schedule(s.now+int64(simAckDelay), evAckTimer, f.id, 0)
	}
}

func (f *simFlow) onAckTimer(int64) {
	f.ackTimer = false
	if f.unacked > 0 {
		f.unacked = 0
		f.s.sendAck(f.id, int64(len(f.arrivals)))
	}
}

// onAck is the sender getting an ACK for the receiver's first upto
// arrivals.
func (f *simFlow) onAck(upto int64) {
	if upto <= f.processed {
		return
	}
	s := f.s
	now := s.time(s.now)
	var ev AckEvent
	var newest int64 = -1
	newLargest := false
	var largestSent int64
	for _, pn := range f.arrivals[f.processed:upto] {
		p := &f.pkts[pn]
		switch p.state {
		case pktInFlight:
			p.state = pktAcked
			f.inflight -= simPacket
			f.sampler.OnPacketAcked(now, simPacket, p.st)
			ev.Acked += simPacket
			newest = max(newest, p.sent)
		case pktLost:
			p.state = pktAcked // it was late, not lost
		}
		if pn > f.largestAcked {
			f.largestAcked, newLargest, largestSent = pn, true, p.sent
		}
	}
	f.processed = upto
	if newLargest {
		f.updateRTT(time.Duration(s.now - largestSent))
	}
	f.ptoCount = 0
	if newest >= 0 {
		ev.NewestAckedSent = s.time(newest)
	}
	f.detectLoss(&ev)
	f.finishEvent(&ev)
	f.trySend()
	f.armTimer()
}

// updateRTT is RFC 9002 section 5 without ACK delay.
func (f *simFlow) updateRTT(rtt time.Duration) {
	f.latestRTT = rtt
	if f.srtt == 0 {
		f.minRTT, f.srtt, f.rttvar = rtt, rtt, rtt/2
		return
	}
	f.minRTT = min(f.minRTT, rtt)
	d := f.srtt - rtt
	if d < 0 {
		d = -d
	}
	f.rttvar = (3*f.rttvar + d) / 4
	f.srtt = (7*f.srtt + rtt) / 8
}

// lossDelay is RFC 9002's time threshold, 9/8 of the larger RTT.
func (f *simFlow) lossDelay() int64 {
	return int64(max(9*max(f.srtt, f.latestRTT)/8, time.Millisecond))
}

// detectLoss declares lost the outstanding packets three behind the
// largest acknowledged or sent a loss delay before now (RFC 9002 section
// 6.1).
func (f *simFlow) detectLoss(ev *AckEvent) {
	s := f.s
	var newestLost int64 = -1
	before := s.now - f.lossDelay()
	for pn := f.lowest; pn <= f.largestAcked; pn++ {
		p := &f.pkts[pn]
		if p.state != pktInFlight {
			continue
		}
		if pn+3 <= f.largestAcked || p.sent <= before {
			p.state = pktLost
			f.inflight -= simPacket
			f.lostPackets++
			f.sampler.OnPacketLost(simPacket)
			ev.Lost += simPacket
			ev.LostPackets++
			newestLost = max(newestLost, p.sent)
			f.retx = append(f.retx, p.data)
		}
	}
	for f.lowest < int64(len(f.pkts)) && f.pkts[f.lowest].state != pktInFlight {
		f.lowest++
	}
	if newestLost >= 0 {
		ev.NewestLostSent = s.time(newestLost)
	}
}

// finishEvent takes the event's rate sample and hands the event to the
// controller.
func (f *simFlow) finishEvent(ev *AckEvent) {
	now := f.s.time(f.s.now)
	ev.Sample = f.sampler.Sample(now, f.minRTT)
	ev.BytesInFlight = f.inflight
	ev.MinRTT, ev.SmoothedRTT = f.minRTT, f.srtt
	f.alg.OnAckEvent(now, *ev)
	if f.trace != nil {
		f.trace(now, f)
	}
}

// armTimer sets the loss timer (for packets below the largest
// acknowledged not yet a loss delay old) or else the probe timeout.
func (f *simFlow) armTimer() {
	at := int64(0)
	for pn := f.lowest; pn <= f.largestAcked; pn++ {
		if p := &f.pkts[pn]; p.state == pktInFlight {
			at = p.sent + f.lossDelay()
			break
		}
	}
	if at == 0 && f.inflight > 0 {
		srtt := f.srtt
		if srtt == 0 {
			srtt = 333 * time.Millisecond // RFC 9002's initial RTT
		}
		pto := srtt + max(4*f.rttvar, time.Millisecond) + simAckDelay
		at = f.lastSend + int64(pto)<<min(f.ptoCount, 10)
	}
	if at != 0 && at != f.timerAt {
		f.timerAt = at
		f.s.schedule(at, evTimer, f.id, 0)
	}
}

// onTimer runs the loss timer or, when none is due, the probe timeout,
// which sends one packet whatever the window says.
func (f *simFlow) onTimer(at int64) {
	if at != f.timerAt {
		return // a timer since re-armed
	}
	f.timerAt = 0
	var ev AckEvent
	f.detectLoss(&ev)
	if ev.Lost > 0 {
		f.finishEvent(&ev)
	} else if f.inflight > 0 {
		f.ptoCount++
		f.sendPacket(f.alg.PacingRate())
	}
	f.trySend()
	f.armTimer()
}
