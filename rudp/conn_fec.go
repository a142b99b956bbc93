package rudp

import (
	"time"

	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/ack"
	"github.com/pydevts/pydevts/rudp/internal/fec"
)

// Forward error correction in the engine (the code itself is package fec).
//
// Sending. A data packet joins a FEC group when the peer decodes parity,
// the carrier can lose packets (not TCP or a relay), the connection has
// measured loss (fec.Adapter picks the ratio from it) and the sender is
// application-limited: sparse or interactive traffic,
// for which a lost packet would cost a round trip of latency and parity
// costs little. A bulk transfer that fills the path sends none: parity on
// every packet would take more of the path than retransmitting the few
// that are lost, and its figure of merit is throughput, not the latency of
// one packet. A packet in a group carries a FEC_DATA frame naming its
// place; its plaintext goes into the group's parity before it is sealed.
// The parity follows in packets of their own (one FEC_PARITY frame each)
// when the group is full, or fecFlushAfter after its first packet, so a
// lone message is protected too. Parity packets are ack-eliciting and in
// flight like data, so congestion control counts them and the sender
// learns their fate, but they are never resent.
//
// Receiving. Each packet's FEC frame goes to the decoder after the packet
// has been processed; a packet the decoder rebuilds is marked in the
// replay window (a late original is then refused) and processed as if it
// had arrived, and the receiver reports how many it rebuilt (FEC_REPORT,
// a cumulative count), since the sender would otherwise never learn of
// the losses parity hid, and its ratio would fall while it works.
//
// Memory: the encoder (16 KiB) and the decoder exist only while used; a
// connection that parks drops both.

// Sizes and times of the engine's FEC.
const (
	// fecDataMax and fecParityHeaderMax are the largest FEC_DATA frame
	// and FEC_PARITY frame header (an 8-byte group varint).
	fecDataMax         = 1 + 8 + 1
	fecParityHeaderMax = 1 + 8 + 3
	// fecReserve is what a data packet in a group leaves unused, so that
	// its parity, a shard header and a FEC_PARITY header longer, still
	// fits in a datagram.
	fecReserve = fec.ShardHeader + fecParityHeaderMax + fecDataMax

	// fecGroups is how many groups a decoder collects at once: ten RTTs of
	// an application-limited flow sending a group every few milliseconds,
	// far more than parity is useful for.
	fecGroups = 64

	// fecReportRepeat is how many ACK packets carry a new FEC_REPORT:
	// it is not acknowledged, and a cumulative count lost three times
	// still arrives with the next change.
	fecReportRepeat = 3

	// A partial group's parity waits an eighth of the RTT for more data,
	// within these bounds: long enough for a burst of small messages to
	// share one group, far shorter than the retransmission it saves.
	fecFlushMin = time.Millisecond
	fecFlushMax = 10 * time.Millisecond
)

// fecState is a connection's FEC, owned by its loop.
type fecState struct {
	peerK   int // the largest group the peer decodes; 0: send no parity
	adapter fec.Adapter
	enc     *fec.Encoder
	dec     *fec.Decoder

	// What the adapter has not heard yet: ack-eliciting packets sent,
	// and packets the peer rebuilt; lostSeen is the sender's loss count
	// when it last heard.
	sent, hidden, lostSeen uint64
	peerRecovered          uint64 // the peer's latest FEC_REPORT

	recovered  uint64 // packets we rebuilt
	reported   uint64 // the count in our latest FEC_REPORT
	reportLeft int    // ACK packets that are still to carry it
	paritySent uint64
	nextExpire time.Time

	// The FEC frame of the packet being processed, for after its frames.
	in      wire.FECFrame
	inType  wire.FrameType // FrameFECData, FrameFECParity or 0
	inMulti bool           // more than one: the packet is ignored for FEC
}

// fecFlushAfter is how long a partial group waits for more data.
func (c *Conn) fecFlushAfter() time.Duration {
	return min(max(c.sender.RTT.SmoothedOrInitial()/8, fecFlushMin), fecFlushMax)
}

// fecObserve tells the adapter what was sent and lost since it last heard.
func (c *Conn) fecObserve() {
	f := &c.fec
	if f.sent == 0 {
		return
	}
	lost := c.sender.Lost()
	f.adapter.Observe(f.sent, lost-f.lostSeen+f.hidden)
	f.sent, f.hidden, f.lostSeen = 0, 0, lost
}

// fecEncoder returns the encoder the next data packet joins a group of, or
// nil when it goes without parity (see the top of this file for when).
func (c *Conn) fecEncoder() *fec.Encoder {
	k, m := c.fec.adapter.Ratio()
	if c.fec.peerK == 0 || m == 0 || !c.sampler.AppLimited() || c.active.link.c.Reliable() {
		if c.fec.enc != nil {
			c.fec.enc.SetRatio(k, 0) // an open group is flushed on its timer
		}
		return nil
	}
	if c.fec.enc == nil {
		c.fec.enc = fec.NewEncoder()
	}
	c.fec.enc.SetRatio(min(k, c.fec.peerK), m)
	return c.fec.enc
}

// fecFlushDeadline is when a partial group's parity is due, or zero.
func (c *Conn) fecFlushDeadline() time.Time {
	if c.fec.enc == nil {
		return time.Time{}
	}
	return c.fec.enc.FlushDeadline(c.fecFlushAfter())
}

// appendParityDue builds the parity packets of a group that is full or
// waited long enough; false means none is due.
func (c *Conn) appendParityDue(now time.Time) bool {
	if c.fec.enc == nil {
		return false
	}
	p, ok := c.fec.enc.Parity(now, c.fecFlushAfter())
	if !ok {
		return false
	}
	for j, shard := range p.Shards {
		c.appendParity(now, p.Group, p.K, p.M, j, shard)
	}
	return true
}

// appendParity builds one parity packet into c.outRaw.
func (c *Conn) appendParity(now time.Time, group uint64, k, m, index int, shard []byte) {
	buf := c.e.getBuf()
	b := (*buf)[:0]
	pn := c.nextPN
	c.nextPN++
	b = wire.AppendHeader(b, wire.Header{KeyPhase: c.sess.Send.Phase(now), ConnID: c.peerID, PN: pn})
	start := len(b)
	b = wire.AppendFECParity(b, group, k, m, index, shard)
	ct := c.sess.Send.Seal(b[start:start], b[start:], pn, b[:start])
	b = b[:start+len(ct)]
	c.sentEliciting(now, pn, len(b), []wire.Sent{{Type: wire.FrameFECParity}})
	c.fec.paritySent++
	c.queueOut(buf, b)
}

// sentEliciting records an ack-eliciting packet with the loss detector,
// the rate sampler, congestion control and the pacer.
func (c *Conn) sentEliciting(now time.Time, pn uint64, size int, frames []wire.Sent) {
	st := c.sampler.OnPacketSent(now, size, c.sender.BytesInFlight())
	c.sender.OnSent(ack.Packet{PN: pn, Sent: now, Size: size, AckEliciting: true, InFlight: true, Frames: frames, CC: st, Path: c.active.id})
	c.elicitingOnPath(now)
	ctl := c.controller()
	ctl.OnPacketSent(now, size, c.sender.BytesInFlight())
	c.pacer.OnSent(now, ctl.PacingRate(), size)
	c.lastSent = now
	c.fec.sent++
}

// queueOut adds a built packet to the batch being sent.
func (c *Conn) queueOut(buf *[]byte, b []byte) {
	c.stats.packetsSent++
	c.stats.bytesSent += uint64(len(b))
	c.active.packetsSent++
	c.active.bytesSent += uint64(len(b))
	*buf = b[:cap(b)]
	c.outBufs = append(c.outBufs, buf)
	c.outRaw = append(c.outRaw, b)
}

// appendFECReport adds our FEC_REPORT to a packet that carries an ACK,
// while the latest count has not gone out fecReportRepeat times.
func (c *Conn) appendFECReport(b []byte, room int) []byte {
	f := &c.fec
	if f.recovered != f.reported {
		f.reported, f.reportLeft = f.recovered, fecReportRepeat
	}
	if f.reportLeft == 0 || room < 1+wire.VarintLen(f.recovered) {
		return b
	}
	f.reportLeft--
	return wire.AppendFECReport(b, f.recovered)
}

// fecFrame handles a FEC frame while a packet's frames are processed:
// data and parity frames are kept for fecReceived, reports feed the
// adapter.
func (c *Conn) fecFrame(fr *wire.Frame) {
	switch fr.Type {
	case wire.FrameFECReport:
		if fr.FEC.Recovered > c.fec.peerRecovered {
			c.fec.hidden += fr.FEC.Recovered - c.fec.peerRecovered
			c.fec.peerRecovered = fr.FEC.Recovered
		}
	default:
		if c.fec.inType != 0 {
			c.fec.inMulti = true
		}
		c.fec.in, c.fec.inType = fr.FEC, fr.Type
	}
}

// fecReceived hands the FEC frame of packet pn, whose plaintext is
// payload, to the decoder, and processes the packets that rebuilds.
func (c *Conn) fecReceived(pn uint64, payload []byte) {
	f := &c.fec
	t, in, multi := f.inType, f.in, f.inMulti
	f.inType, f.inMulti = 0, false
	if t == 0 || multi || c.cfg.DisableFEC {
		return
	}
	if f.dec == nil {
		f.dec = fec.NewDecoder(fecGroups)
	}
	if !c.now.Before(f.nextExpire) {
		maxAge := 2 * c.sender.RTT.PTO(maxAckDelay)
		f.dec.Expire(c.now, maxAge)
		f.nextExpire = c.now.Add(maxAge / 2)
	}
	var rec []fec.Recovered
	if t == wire.FrameFECData {
		rec = f.dec.AddData(in.Group, in.Index, pn, payload, c.now)
	} else {
		// Parity that does not fit its group is dropped and counted by
		// the decoder: the peer authenticated, so it is a bug there, and
		// retransmission still delivers everything.
		rec, _ = f.dec.AddParity(in.Group, in.K, in.M, in.Index, in.Shard, c.now)
	}
	for _, r := range rec {
		if c.state != stateOpen {
			return
		}
		c.handleRecovered(r)
	}
}

// handleRecovered processes a packet rebuilt from parity as if it had
// arrived, unless it did arrive (or was rebuilt) before.
func (c *Conn) handleRecovered(r fec.Recovered) {
	// Parity leaves after the data it protects, so a rebuilt packet is
	// older than the newest packet received; any other number did not
	// come from an honest sender and is dropped (it would move the
	// receive state far ahead).
	if largest, _ := c.receiver.Largest(); r.PN >= largest || !c.sess.Recv.Recovered(r.PN) {
		c.stats.dropped++
		return
	}
	c.fec.recovered++
	eliciting, err := c.handleFrames(r.Payload)
	c.fec.inType, c.fec.inMulti = 0, false // a rebuilt packet is not fed back
	c.ccReport(c.now)
	if err != nil {
		c.closeLocal(CodeProtocolViolation, err.Error())
		return
	}
	if c.state == stateOpen {
		c.receiver.OnPacket(r.PN, eliciting, c.now)
	}
}

// fecRelease drops the encoder and decoder of a connection that parks: an
// idle connection keeps neither (a group still waiting for its parity
// keeps the encoder, but a parked loop has none, since its flush is due
// within fecFlushMax).
func (c *Conn) fecRelease() {
	if c.fec.enc != nil && c.fec.enc.FlushDeadline(0).IsZero() {
		c.fec.enc = nil
	}
	c.fec.dec = nil
}

// fecStats fills the FEC fields of s.
func (c *Conn) fecStats(s *Stats) {
	s.Recovered = c.fec.recovered
	s.ParitySent = c.fec.paritySent
	s.LossEstimate = c.fec.adapter.Loss()
}
