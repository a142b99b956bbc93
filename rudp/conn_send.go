package rudp

import (
	"encoding/binary"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/ack"
	"github.com/pydevts/pydevts/rudp/internal/fec"
)

// flush sends what is due, in batches: acknowledgments, requests, probes,
// and data while the congestion window and the pacer allow.
func (c *Conn) flush(now time.Time) {
	c.pacingWait = 0
	if c.state != stateOpen {
		return
	}
	if c.confirmed {
		c.probePaths(now)
	}
	c.fecObserve()
	for {
		n := 0
		for n < batchSize {
			if !c.appendPacket(now) {
				break
			}
			n++
		}
		if n == 0 {
			return
		}
		c.send()
		if n < batchSize {
			return
		}
	}
}

// send sends the packets in c.outRaw on the active path and returns
// their buffers. While the active path has not answered yet, they go on
// a path that has too, if there is one: the peer's receive window drops
// whichever copy comes second.
func (c *Conn) send() {
	a := c.active
	a.link.c.Send(c.outRaw, a.addr)
	if b := c.backupPath(); b != nil {
		b.link.c.Send(c.outRaw, b.addr)
		b.packetsSent += uint64(len(c.outRaw))
	}
	for _, b := range c.outBufs {
		c.e.putBuf(b)
	}
	c.outBufs, c.outRaw = c.outBufs[:0], c.outRaw[:0]
}

// appendPacket builds the next packet into c.outRaw; false means there is
// nothing (more) to send now.
func (c *Conn) appendPacket(now time.Time) bool {
	rtt := c.sender.RTT.SmoothedOrInitial()
	ackDue := !c.receiver.AckDeadline().IsZero() && !now.Before(c.receiver.AckDeadline())
	reqAt := c.receiver.RequestDeadline(rtt)
	reqDue := !reqAt.IsZero() && !now.Before(reqAt)

	// Data may go when the window has room and the pacer agrees; probes
	// and keepalives go regardless (they are what tells us the path
	// works).
	hasData := c.streams.HasData() || c.msgs.HasData()
	dataOK := false
	if hasData {
		ctl := c.controller()
		if c.sender.BytesInFlight()+c.maxSend <= ctl.Window() {
			if wait := c.pacer.Delay(now, ctl.PacingRate(), c.maxSend); wait > 0 {
				c.pacingWait = wait
			} else {
				dataOK = true
			}
		}
	} else if c.cc != nil && !c.sampler.AppLimited() && c.sender.BytesInFlight()+c.maxSend <= c.cc.Window() {
		// The window has room and nothing waits: the application, not
		// the path, sets the rate, and the samples of what goes next
		// must not lower the bandwidth estimate.
		c.sampler.OnAppLimited(c.sender.BytesInFlight())
	}
	force := c.probes > 0 || c.ping
	if c.appendParityDue(now) {
		return true
	}
	if !ackDue && !reqDue && !dataOK && !force {
		return false
	}
	if dataOK && c.pmtuProbeDue(now) {
		c.appendProbe(now)
		return true
	}

	buf := c.e.getBuf()
	b := (*buf)[:0]
	phase := c.sess.Send.Phase(now)
	pn := c.nextPN
	b = wire.AppendHeader(b, wire.Header{KeyPhase: phase, ConnID: c.peerID, PN: pn})
	start := len(b)
	budget := c.maxSend - handshake.TagSize
	var enc *fec.Encoder
	if dataOK {
		if enc = c.fecEncoder(); enc != nil {
			// Room for the FEC_DATA frame, and for the parity of this
			// packet in a packet of its own.
			budget = min(budget-fecReserve, start+fec.MaxPayload-fecDataMax)
		}
	}
	room := func() int { return budget - len(b) }
	frames := c.sender.NewFrames()

	if !c.receiver.AckDeadline().IsZero() || ackDue {
		var largest uint64
		var ok bool
		if b, largest, ok = c.receiver.AppendAck(b, now, room()); ok {
			frames = append(frames, wire.Sent{Type: wire.FrameAck, Offset: largest})
			b = c.appendFECReport(b, room())
		}
	}
	if reqDue {
		var ok bool
		if b, ok = c.receiver.AppendRequest(b, now, rtt, room()); ok {
			frames = append(frames, wire.Sent{Type: wire.FrameRequest})
			c.stats.requestsSent++
		}
	}
	control := len(frames)
	if dataOK || c.probes > 0 {
		// Streams and messages take turns at filling packets first, so
		// neither starves the other.
		c.streamsFirst = !c.streamsFirst
		if c.streamsFirst {
			b, frames = c.streams.AppendFrames(b, room(), frames)
			b, frames = c.msgs.AppendFrames(b, room(), frames)
		} else {
			b, frames = c.msgs.AppendFrames(b, room(), frames)
			b, frames = c.streams.AppendFrames(b, room(), frames)
		}
	}
	inGroup := false
	if enc != nil && len(frames) > control {
		var group uint64
		var index int
		if group, index, inGroup = enc.Next(now); inGroup {
			b = wire.AppendFECData(b, group, index)
		}
	}
	eliciting := false
	for _, f := range frames {
		eliciting = eliciting || f.Type.AckEliciting()
	}
	if !eliciting && force {
		b = wire.AppendPing(b)
		frames = append(frames, wire.Sent{Type: wire.FramePing})
		eliciting = true
	}
	if len(b) == start {
		c.e.putBuf(buf) // nothing to say after all; pn stays unused
		return false
	}
	if eliciting {
		c.probes = max(c.probes-1, 0)
		c.ping = false
	}
	if inGroup {
		enc.Add(pn, b[start:]) // the plaintext, before it is sealed
	}
	ct := c.sess.Send.Seal(b[start:start], b[start:], pn, b[:start])
	b = b[:start+len(ct)]
	c.nextPN++
	if eliciting {
		c.sentEliciting(now, pn, len(b), frames)
	} else {
		c.sender.OnSent(ack.Packet{PN: pn, Sent: now, Size: len(b), Frames: frames, Path: c.active.id})
	}
	c.queueOut(buf, b)
	if inGroup {
		c.appendParityDue(now) // the group is full
	}
	return true
}

// closeLocal closes the connection from this side: the peer is told with
// a CLOSE, and for a few PTOs packets from it are answered with CLOSE
// again, in case ours was lost. A responder's connection not yet
// confirmed ends without a word: its peer's address is unproven (the
// initiation may have come from a spoofed source), and the response was
// all such an address may be sent.
func (c *Conn) closeLocal(code uint64, reason string) {
	if c.state != stateOpen || !c.confirmed {
		if c.state == stateHandshake || c.state == stateOpen {
			c.end(&CloseError{Code: code, Reason: reason})
		}
		return
	}
	c.err = &CloseError{Code: code, Reason: reason}
	c.streams.CloseAll(c.err)
	c.msgs.CloseAll(c.err)
	c.closeCode, c.closeReason = code, reason
	c.state = stateClosing
	close(c.closed)
	c.closingUntil = c.now.Add(time.Duration(closeLinger) * c.sender.RTT.PTO(maxAckDelay))
	c.sendClose()
}

// sealOne builds a packet outside the batch: the header with the next
// packet number, the frames fill appends, sealed.
func (c *Conn) sealOne(now time.Time, fill func([]byte) []byte) (buf *[]byte, b []byte, pn uint64) {
	buf = c.e.getBuf()
	b = (*buf)[:0]
	pn = c.nextPN
	c.nextPN++
	b = wire.AppendHeader(b, wire.Header{KeyPhase: c.sess.Send.Phase(now), ConnID: c.peerID, PN: pn})
	start := len(b)
	b = fill(b)
	ct := c.sess.Send.Seal(b[start:start], b[start:], pn, b[:start])
	return buf, b[:start+len(ct)], pn
}

// sendClose sends a packet holding our CLOSE, after an ACK of what we
// received: the peer then knows what reached us before we closed, and a
// graceful close does not leave the peer's last data unacknowledged.
func (c *Conn) sendClose() {
	buf, b, _ := c.sealOne(c.now, func(b []byte) []byte {
		closeLen := 1 + 2*binary.MaxVarintLen64 + min(len(c.closeReason), wire.MaxReasonLen)
		if room := c.maxSend - handshake.TagSize - len(b) - closeLen; room > 0 {
			b, _, _ = c.receiver.AppendAck(b, c.now, room)
		}
		return wire.AppendClose(b, c.closeCode, c.closeReason)
	})
	c.active.link.c.Send([][]byte{b}, c.active.addr)
	c.e.putBuf(buf)
	c.lastClose = c.now
	c.stats.packetsSent++
	c.stats.bytesSent += uint64(len(b))
}
