package ack

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/pydevts/pydevts/internal/wire"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// fates records what a Handler was told.
type fates struct {
	acked, lost []uint64
	frames      int
}

func (f *fates) OnAcked(p *Packet) { f.acked = append(f.acked, p.PN); f.frames += len(p.Frames) }
func (f *fates) OnLost(p *Packet)  { f.lost = append(f.lost, p.PN); f.frames += len(p.Frames) }

func send(s *Sender, pn uint64, at time.Time) {
	fr := s.NewFrames()
	fr = append(fr, wire.Sent{Type: wire.FrameStream, ID: 4, Offset: pn * 1000, Length: 1000})
	s.OnSent(Packet{PN: pn, Sent: at, Size: 1200, AckEliciting: true, InFlight: true, Frames: fr})
}

func ackOf(ranges ...wire.AckRange) *wire.AckFrame { return &wire.AckFrame{Ranges: ranges} }

func TestRTT(t *testing.T) {
	var r RTT
	if r.PTO(ms(25)) != 2*InitialRTT || r.SmoothedOrInitial() != InitialRTT {
		t.Fatal("estimates before any sample")
	}
	r.Update(ms(100), 0, ms(25))
	if r.Smoothed != ms(100) || r.Var != ms(50) || r.Min != ms(100) {
		t.Fatalf("first sample: %+v", r)
	}
	// RFC 9002 section 5.3: adjusted = latest - ack delay when that stays
	// above min; var = 3/4 var + 1/4 |smoothed - adjusted|; smoothed = 7/8
	// smoothed + 1/8 adjusted.
	r.Update(ms(130), ms(10), ms(25))
	if r.Smoothed != (7*ms(100)+ms(120))/8 || r.Var != (3*ms(50)+ms(20))/4 {
		t.Fatalf("second sample: %+v", r)
	}
	// A claimed ack delay that would push the sample below the minimum is
	// not subtracted, and a delay above the maximum is capped.
	before := r.Smoothed
	r.Update(ms(105), ms(20), ms(25))
	if r.Smoothed != (7*before+ms(105))/8 {
		t.Fatalf("delay subtracted below min: %+v", r)
	}
	if r.PTO(ms(25)) != r.Smoothed+4*r.Var+ms(25) {
		t.Fatal("PTO formula")
	}
}

func TestAckAndPacketThreshold(t *testing.T) {
	var s Sender
	s.MaxAckDelay = ms(25)
	for pn := range uint64(10) {
		send(&s, pn, t0.Add(ms(int(pn))))
	}
	if s.BytesInFlight() != 12000 || s.AckElicitingInFlight() != 10 {
		t.Fatalf("in flight %d / %d", s.BytesInFlight(), s.AckElicitingInFlight())
	}
	var f fates
	// 3 is missing; 4..6 arrived: three later packets -> 3 is lost; 7..9
	// outstanding.
	if err := s.OnAck(ackOf(wire.AckRange{Smallest: 4, Largest: 6}, wire.AckRange{Smallest: 0, Largest: 2}), t0.Add(ms(50)), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.acked) != 6 || len(f.lost) != 1 || f.lost[0] != 3 {
		t.Fatalf("acked %v lost %v", f.acked, f.lost)
	}
	if !s.RTT.HasSample() || s.RTT.Latest != ms(44) {
		t.Fatalf("RTT sample %v, want 44ms (sent at 6ms, acked at 50ms)", s.RTT.Latest)
	}
	if s.BytesInFlight() != 3*1200 {
		t.Fatalf("in flight %d after ack", s.BytesInFlight())
	}
	// The same ACK again changes nothing.
	f = fates{}
	s.OnAck(ackOf(wire.AckRange{Smallest: 4, Largest: 6}), t0.Add(ms(51)), &f)
	if len(f.acked)+len(f.lost) != 0 {
		t.Fatalf("duplicate ACK reported %v %v", f.acked, f.lost)
	}
	if err := s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 10}), t0, &f); err == nil {
		t.Fatal("ACK of an unsent packet accepted")
	}
}

func TestTimeThreshold(t *testing.T) {
	var s Sender
	send(&s, 0, t0)
	send(&s, 1, t0.Add(ms(1)))
	var f fates
	// Only 1 is acked: 0 is one packet behind, not three, so it is lost
	// only 9/8 RTT after it was sent.
	s.OnAck(ackOf(wire.AckRange{Smallest: 1, Largest: 1}), t0.Add(ms(101)), &f)
	if len(f.lost) != 0 {
		t.Fatalf("lost too early: %v", f.lost)
	}
	deadline := s.LossTimer()
	if want := t0.Add(ms(100) * 9 / 8); !deadline.Equal(want) {
		t.Fatalf("loss timer %v, want %v", deadline.Sub(t0), want.Sub(t0))
	}
	s.DetectLoss(deadline.Add(-time.Microsecond), &f)
	if len(f.lost) != 0 {
		t.Fatal("lost before the timer")
	}
	s.DetectLoss(deadline, &f)
	if len(f.lost) != 1 || f.lost[0] != 0 || !s.LossTimer().IsZero() {
		t.Fatalf("at the timer: lost %v, timer %v", f.lost, s.LossTimer())
	}
}

func TestRequest(t *testing.T) {
	var s Sender
	for pn := range uint64(5) {
		send(&s, pn, t0)
	}
	var f fates
	s.OnAck(ackOf(wire.AckRange{Smallest: 3, Largest: 3}), t0.Add(ms(10)), &f)
	// 0 is three behind 3: lost by threshold. 1 and 2 are not (yet).
	if len(f.lost) != 1 || f.lost[0] != 0 {
		t.Fatalf("lost %v after the ACK, want [0]", f.lost)
	}
	// A REQUEST for 2 and for 4 (above the largest acknowledged, so the
	// peer cannot know it is missing) loses 2 only; 1 stays outstanding.
	s.OnRequest(&wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 4, Largest: 4}, {Smallest: 2, Largest: 2}}}, &f)
	if len(f.lost) != 2 || f.lost[1] != 2 {
		t.Fatalf("lost %v after the REQUEST, want [0 2]", f.lost)
	}
}

func TestPTO(t *testing.T) {
	var s Sender
	s.MaxAckDelay = ms(25)
	if !s.PTODeadline().IsZero() {
		t.Fatal("PTO armed with nothing in flight")
	}
	send(&s, 0, t0)
	first := s.PTODeadline()
	if want := t0.Add(2 * InitialRTT); !first.Equal(want) {
		t.Fatalf("first PTO at %v, want %v", first.Sub(t0), want.Sub(t0))
	}
	s.OnPTO()
	// Doubled, 1332 ms, but capped at MaxProbeInterval.
	if got := s.PTODeadline(); !got.Equal(t0.Add(MaxProbeInterval)) {
		t.Fatalf("PTO after one backoff at %v, want the 1s cap", got.Sub(t0))
	}
	for range 10 {
		s.OnPTO()
	}
	if got := s.PTODeadline(); !got.Equal(t0.Add(MaxProbeInterval)) {
		t.Fatalf("PTO after many backoffs at %v", got.Sub(t0))
	}
	var f fates
	send(&s, 1, t0.Add(ms(700)))
	s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 1}), t0.Add(ms(750)), &f)
	if s.PTOCount() != 0 || !s.PTODeadline().IsZero() {
		t.Fatal("an ACK did not reset the PTO")
	}
}

// TestEveryPacketOneFate sends packets, acknowledges random subsets and
// finally everything: each packet must be reported exactly once, acked or
// lost, with its frames, and the in-flight count must return to zero.
func TestEveryPacketOneFate(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 3))
		var s Sender
		var f fates
		now := t0
		pn := uint64(0)
		for range 200 {
			for range r.IntN(8) {
				send(&s, pn, now)
				pn++
			}
			now = now.Add(ms(r.IntN(30)))
			if pn == 0 || r.IntN(3) == 0 {
				continue
			}
			var ranges []wire.AckRange
			top := pn - 1
			for len(ranges) < 4 {
				lo := top - min(top, uint64(r.IntN(5)))
				ranges = append(ranges, wire.AckRange{Smallest: lo, Largest: top})
				if lo < 3 {
					break
				}
				top = lo - 2 - uint64(r.IntN(int(min(lo-2, 4))))
			}
			if err := s.OnAck(&wire.AckFrame{Ranges: ranges}, now, &f); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			s.DetectLoss(now, &f)
		}
		s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: pn - 1}), now.Add(time.Second), &f)
		seen := map[uint64]int{}
		for _, p := range append(f.acked, f.lost...) {
			seen[p]++
		}
		for p := range pn {
			if seen[p] != 1 {
				t.Fatalf("seed %d: packet %d reported %d times", seed, p, seen[p])
			}
		}
		if f.frames != int(pn) || s.BytesInFlight() != 0 || s.AckElicitingInFlight() != 0 {
			t.Fatalf("seed %d: frames %d of %d, in flight %d", seed, f.frames, pn, s.BytesInFlight())
		}
		if s.Lost() != uint64(len(f.lost)) {
			t.Fatalf("seed %d: Lost() %d, reported %d", seed, s.Lost(), len(f.lost))
		}
	}
}

func TestReceiverAcks(t *testing.T) {
	r := Receiver{MaxAckDelay: ms(25), AckEvery: 2}
	r.OnPacket(0, true, t0)
	if !r.AckDeadline().Equal(t0.Add(ms(25))) {
		t.Fatalf("one packet: ACK due at %v, want after MaxAckDelay", r.AckDeadline().Sub(t0))
	}
	r.OnPacket(1, true, t0.Add(ms(1)))
	if !r.AckDeadline().Equal(t0.Add(ms(1))) {
		t.Fatal("second packet did not make the ACK due at once")
	}
	b, largest, ok := r.AppendAck(nil, t0.Add(ms(3)), 100)
	var f wire.Frame
	if _, err := wire.ParseFrame(b, &f); !ok || err != nil || largest != 1 || len(f.Ack.Ranges) != 1 || f.Ack.Delay != ms(2) {
		t.Fatalf("ACK: %+v, %v", f.Ack, err)
	}
	if !r.AckDeadline().IsZero() {
		t.Fatal("deadline not cleared by the ACK")
	}
	// A hole makes the next ACK due at once, and shows in the ranges.
	r.OnPacket(4, true, t0.Add(ms(10)))
	if !r.AckDeadline().Equal(t0.Add(ms(10))) {
		t.Fatal("out-of-order packet did not make the ACK due at once")
	}
	b, _, _ = r.AppendAck(nil, t0.Add(ms(10)), 100)
	wire.ParseFrame(b, &f)
	if len(f.Ack.Ranges) != 2 || f.Ack.Ranges[0] != (wire.AckRange{Smallest: 4, Largest: 4}) || f.Ack.Ranges[1] != (wire.AckRange{Smallest: 0, Largest: 1}) {
		t.Fatalf("ranges %v", f.Ack.Ranges)
	}
	// Once the peer has our ACK up to 4, nothing is left to report.
	r.OnAckAcknowledged(4)
	if r.HasAck() {
		t.Fatal("ranges kept after the peer acknowledged our ACK")
	}
	// Non-ack-eliciting packets are recorded but make nothing due.
	r.OnPacket(5, false, t0.Add(ms(20)))
	if !r.AckDeadline().IsZero() || !r.HasAck() {
		t.Fatal("pure ACK packet handling")
	}
}

func TestReceiverAckLimits(t *testing.T) {
	r := Receiver{MaxAckDelay: ms(25), AckEvery: 2}
	for pn := uint64(0); pn < 2000; pn += 2 { // 1000 ranges
		r.OnPacket(pn, true, t0)
	}
	b, largest, ok := r.AppendAck(nil, t0, 1200)
	var f wire.Frame
	if _, err := wire.ParseFrame(b, &f); !ok || err != nil || largest != 1998 || len(f.Ack.Ranges) != wire.MaxAckRanges {
		t.Fatalf("big ACK: %d ranges, %v", len(f.Ack.Ranges), err)
	}
	b, _, ok = r.AppendAck(nil, t0, 40)
	if !ok || len(b) > 40 {
		t.Fatalf("ACK of %d bytes for a 40-byte budget", len(b))
	}
	if _, err := wire.ParseFrame(b, &f); err != nil || f.Ack.Ranges[0].Largest != 1998 {
		t.Fatal("truncated ACK must keep the newest ranges")
	}
	if _, _, ok := r.AppendAck(nil, t0, 3); ok {
		t.Fatal("ACK written into 3 bytes")
	}
}

func TestReceiverRequests(t *testing.T) {
	r := Receiver{MaxAckDelay: ms(25), AckEvery: 2}
	rtt := ms(40)
	r.OnPacket(0, true, t0)
	r.OnPacket(3, true, t0.Add(ms(1))) // hole 1..2
	r.OnPacket(5, true, t0.Add(ms(2))) // hole 4
	if d := r.RequestDeadline(rtt); !d.Equal(t0.Add(ms(11))) {
		t.Fatalf("first request due at %v, want 1ms + RTT/4", d.Sub(t0))
	}
	if _, ok := r.AppendRequest(nil, t0.Add(ms(5)), rtt, 100); ok {
		t.Fatal("requested before the hole was RTT/4 old")
	}
	b, ok := r.AppendRequest(nil, t0.Add(ms(11)), rtt, 100)
	var f wire.Frame
	if _, err := wire.ParseFrame(b, &f); !ok || err != nil || f.Type != wire.FrameRequest ||
		len(f.Ack.Ranges) != 1 || f.Ack.Ranges[0] != (wire.AckRange{Smallest: 1, Largest: 2}) {
		t.Fatalf("request %+v %v", f.Ack.Ranges, err)
	}
	b, _ = r.AppendRequest(nil, t0.Add(ms(12)), rtt, 100)
	wire.ParseFrame(b, &f)
	if len(f.Ack.Ranges) != 1 || f.Ack.Ranges[0].Smallest != 4 {
		t.Fatalf("second hole: %v", f.Ack.Ranges)
	}
	if _, ok := r.AppendRequest(nil, t0.Add(ms(20)), rtt, 100); ok {
		t.Fatal("holes requested again within one RTT")
	}
	// Filling part of a hole leaves the rest to request; filling it all
	// ends the requests.
	r.OnPacket(1, true, t0.Add(ms(30)))
	r.OnPacket(4, true, t0.Add(ms(30)))
	b, ok = r.AppendRequest(nil, t0.Add(ms(60)), rtt, 100)
	wire.ParseFrame(b, &f)
	if !ok || len(f.Ack.Ranges) != 1 || f.Ack.Ranges[0] != (wire.AckRange{Smallest: 2, Largest: 2}) {
		t.Fatalf("after partial fill: %v", f.Ack.Ranges)
	}
	r.OnPacket(2, true, t0.Add(ms(61)))
	if _, ok := r.AppendRequest(nil, t0.Add(ms(200)), rtt, 100); ok || !r.RequestDeadline(rtt).IsZero() {
		t.Fatal("request with no holes left")
	}
}

// TestSpuriousLossWidensThresholds: a path that delivers some packets
// 10 ms late and others at once. Packets given up as lost that are then
// acknowledged make the sender wait for more reordering, after which the
// same pattern declares nothing lost.
func TestSpuriousLossWidensThresholds(t *testing.T) {
	var s Sender
	var f fates
	now := t0
	s.RTT.Update(ms(2), 0, 0) // the fast packets set a tiny RTT
	// Packet 0 is slow; 1..9 arrive at once and are acknowledged.
	for pn := range uint64(10) {
		send(&s, pn, now)
	}
	now = now.Add(ms(2))
	s.OnAck(ackOf(wire.AckRange{Smallest: 1, Largest: 9}), now, &f)
	if len(f.lost) != 1 || f.lost[0] != 0 {
		t.Fatalf("lost %v, want [0] (9 packets behind)", f.lost)
	}
	// Packet 0 turns up 10 ms after it was sent.
	now = now.Add(ms(8))
	s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 9}), now, &f)
	if s.Spurious() != 1 {
		t.Fatalf("spurious losses %d, want 1", s.Spurious())
	}
	pkts, window := s.Reordering()
	if pkts != 10 || window < ms(10) {
		t.Fatalf("thresholds %d packets / %v, want 10 packets and at least 10ms", pkts, window)
	}
	// The same pattern again: nothing is lost now.
	f = fates{}
	for pn := uint64(10); pn < 20; pn++ {
		send(&s, pn, now)
	}
	now = now.Add(ms(2))
	s.OnAck(ackOf(wire.AckRange{Smallest: 11, Largest: 19}), now, &f)
	if len(f.lost) != 0 {
		t.Fatalf("lost %v after learning the reordering", f.lost)
	}
	now = now.Add(ms(8))
	s.OnAck(ackOf(wire.AckRange{Smallest: 10, Largest: 19}), now, &f)
	if len(f.acked) != 10 || s.Spurious() != 1 {
		t.Fatalf("acked %v, spurious %d", f.acked, s.Spurious())
	}
}

// TestRTTIgnoresRetransmitted: the RTT is sampled only from the packet an
// acknowledgment names, never from one declared lost: a late ACK of a lost
// packet (whose data went again in a new packet) leaves the estimate
// alone, and the retransmission's own ACK is timed from its own send.
func TestRTTIgnoresRetransmitted(t *testing.T) {
	var s Sender
	var f fates
	send(&s, 0, t0)
	for pn := uint64(1); pn <= 3; pn++ {
		send(&s, pn, t0.Add(ms(1)))
	}
	s.OnAck(ackOf(wire.AckRange{Smallest: 1, Largest: 3}), t0.Add(ms(21)), &f)
	if len(f.lost) != 1 || f.lost[0] != 0 || s.RTT.Latest != ms(20) || s.RTT.Samples() != 1 {
		t.Fatalf("lost %v, RTT %+v after %d samples; want packet 0 lost and one 20ms sample", f.lost, s.RTT, s.RTT.Samples())
	}
	before := s.RTT
	// Packet 0's data goes again as packet 4; the first copy turns up and
	// is acknowledged 480 ms late, alone and together with the others.
	send(&s, 4, t0.Add(ms(21)))
	s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 0}), t0.Add(ms(500)), &f)
	s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 3}), t0.Add(ms(501)), &f)
	if s.RTT != before {
		t.Fatalf("a late ACK of a lost packet changed the RTT: %+v, was %+v", s.RTT, before)
	}
	if s.Spurious() != 1 {
		t.Fatalf("spurious losses %d, want 1", s.Spurious())
	}
	// The retransmission's ACK: sent at 21 ms, acknowledged at 541 ms.
	s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 4}), t0.Add(ms(541)), &f)
	if s.RTT.Latest != ms(520) || s.RTT.Samples() != 2 {
		t.Fatalf("retransmission's sample %v after %d samples, want 520ms as the second", s.RTT.Latest, s.RTT.Samples())
	}
}

// TestReceiverLearnsReordering: holes that late packets fill push back the
// REQUESTs for later holes.
func TestReceiverLearnsReordering(t *testing.T) {
	r := Receiver{MaxAckDelay: ms(25), AckEvery: 2}
	rtt := ms(4)
	r.OnPacket(0, true, t0)
	r.OnPacket(2, true, t0) // 1 is late
	r.OnPacket(1, true, t0.Add(ms(10)))
	r.OnPacket(4, true, t0.Add(ms(11))) // 3 is missing
	if d := r.RequestDeadline(rtt); !d.Equal(t0.Add(ms(11) + ms(10)*9/8)) {
		t.Fatalf("request due %v after the hole, want 9/8 of the 10ms reordering", d.Sub(t0.Add(ms(11))))
	}
}

// TestRequestDeadlineMeansARequest: whenever RequestDeadline says a
// REQUEST is due, AppendRequest writes one, also for a hole requested
// before the path was seen to reorder more (its age then passes after
// the RTT since its request). A deadline with nothing to send would spin
// the connection's loop.
func TestRequestDeadlineMeansARequest(t *testing.T) {
	r := Receiver{MaxAckDelay: ms(25), AckEvery: 2}
	rtt := ms(4)
	r.OnPacket(0, true, t0)
	r.OnPacket(2, true, t0) // hole 1
	r.OnPacket(4, true, t0) // hole 3
	if _, ok := r.AppendRequest(nil, t0.Add(ms(2)), rtt, 100); !ok {
		t.Fatal("no request for 2 ms old holes")
	}
	r.OnPacket(3, true, t0.Add(ms(30))) // 30 ms late: the request age grows to 34 ms
	for now := t0.Add(ms(30)); now.Before(t0.Add(ms(200))); now = now.Add(ms(1)) {
		d := r.RequestDeadline(rtt)
		if d.IsZero() {
			t.Fatal("the hole at 1 was forgotten")
		}
		if now.Before(d) {
			continue
		}
		if _, ok := r.AppendRequest(nil, now, rtt, 100); !ok {
			t.Fatalf("at %v a request was due (%v) but none was written", now.Sub(t0), d.Sub(t0))
		}
		if d.Before(t0.Add(ms(33))) {
			t.Fatalf("hole requested again at %v, before its age of 9/8 of 30 ms", d.Sub(t0))
		}
	}
}

// TestReleaseIdle: a sender whose ack-eliciting packets are all settled
// drops the records of its pure ACKs and its history's array; an ACK of
// a forgotten packet later is harmless, and sending goes on.
func TestReleaseIdle(t *testing.T) {
	var s Sender
	s.MaxAckDelay = ms(25)
	send(&s, 0, t0)
	if s.ReleaseIdle() {
		t.Fatal("released with an ack-eliciting packet in flight")
	}
	s.OnSent(Packet{PN: 1, Sent: t0, Size: 50, Frames: s.NewFrames()}) // a pure ACK
	var f fates
	if err := s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 0}), t0.Add(ms(20)), &f); err != nil || len(f.acked) != 1 {
		t.Fatalf("ack: %v %v", f.acked, err)
	}
	if !s.ReleaseIdle() || s.store != nil || s.pool != nil || len(s.packets) != 0 {
		t.Fatalf("idle sender kept %d records (store %d, pool %d)", len(s.packets), cap(s.store), len(s.pool))
	}
	if s.ReleaseIdle() {
		t.Fatal("released twice")
	}
	f = fates{}
	if err := s.OnAck(ackOf(wire.AckRange{Smallest: 0, Largest: 1}), t0.Add(ms(30)), &f); err != nil || len(f.acked)+len(f.lost) != 0 {
		t.Fatalf("ACK of forgotten packets: %v %v %v", f.acked, f.lost, err)
	}
	send(&s, 2, t0.Add(ms(40)))
	f = fates{}
	if err := s.OnAck(ackOf(wire.AckRange{Smallest: 2, Largest: 2}), t0.Add(ms(60)), &f); err != nil || len(f.acked) != 1 || f.acked[0] != 2 {
		t.Fatalf("after release: %v %v", f.acked, err)
	}
	if s.BytesInFlight() != 0 || s.AckElicitingInFlight() != 0 {
		t.Fatalf("in flight %d / %d", s.BytesInFlight(), s.AckElicitingInFlight())
	}
}

// nopHandler is a Handler that keeps nothing.
type nopHandler struct{}

func (nopHandler) OnAcked(*Packet) {}
func (nopHandler) OnLost(*Packet)  {}

// TestSteadyFlowDoesNotAllocate: a sender with a window of packets in
// flight, acknowledged in steps, reuses its history and frame lists once
// it has grown to the window.
func TestSteadyFlowDoesNotAllocate(t *testing.T) {
	var s Sender
	var h nopHandler
	pn, at := uint64(0), t0
	f := &wire.AckFrame{Ranges: make([]wire.AckRange, 1)}
	step := func() {
		for range 10 {
			send(&s, pn, at)
			pn++
		}
		at = at.Add(time.Millisecond)
		if pn > 500 {
			f.Ranges[0] = wire.AckRange{Smallest: 0, Largest: pn - 500}
			if err := s.OnAck(f, at, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 200 {
		step() // grow to the window
	}
	// Counted in total, not averaged: AllocsPerRun rounds an allocation
	// every few hundred packets down to zero. The best of three runs
	// counts, as the runtime itself allocates now and then.
	if n := mallocs(3, func() {
		for range 1000 {
			step()
		}
	}); n != 0 {
		t.Fatalf("%d allocations for 10,000 packets sent and acknowledged", n)
	}
	if got := len(s.packets); got > 520 {
		t.Fatalf("%d records kept for 500 in flight", got)
	}
}

func BenchmarkSendAck(b *testing.B) {
	var s Sender
	f := &wire.AckFrame{Ranges: make([]wire.AckRange, 1)}
	b.ReportAllocs()
	at := t0
	for i := range uint64(b.N) {
		send(&s, i, at)
		if i%10 == 9 && i > 500 {
			at = at.Add(time.Millisecond)
			f.Ranges[0] = wire.AckRange{Smallest: 0, Largest: i - 500}
			s.OnAck(f, at, nopHandler{})
		}
	}
}

// mallocs returns the fewest heap allocations f made in runs calls.
func mallocs(runs int, f func()) uint64 {
	best := ^uint64(0)
	for range runs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		best = min(best, after.Mallocs-before.Mallocs)
	}
	return best
}
