package rudp

import (
	"errors"
	"fmt"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/ack"
)

// handleInbound processes one datagram addressed to this connection and
// returns its buffer to the pool.
func (c *Conn) handleInbound(in inbound) {
	defer c.e.putBuf(in.buf)
	b := in.bytes()
	switch {
	case c.state == stateEnded:
	case b[0] == wire.PacketType:
		c.handleData(b, in)
	case c.state != stateHandshake:
		c.stats.dropped++ // a late handshake message
	case handshake.MessageType(b[0]) == handshake.TypeResponse:
		est, err := c.ini.ConsumeResponse(b, c.now)
		if err != nil {
			c.stats.dropped++
			return
		}
		c.countRecv(len(b))
		c.heardOn(in, 0, len(b))
		for _, p := range c.paths {
			if p.link == in.link && p.addr == in.from {
				// It answered first. The response answers this
				// connection's own initiation: the peer is there.
				c.active, c.remote = p, p.addr
				p.valid, p.movedAt = true, time.Time{}
			}
		}
		if err := c.establish(est, c.now); err != nil {
			// The peer authenticated but speaks something else: say so.
			c.closeLocal(CodeProtocolViolation, err.Error())
		}
	case handshake.MessageType(b[0]) == handshake.TypeCookieReply:
		if err := c.ini.ConsumeCookieReply(b, c.now); err != nil {
			c.stats.dropped++
			return
		}
		c.countRecv(len(b))
		c.sendInitiation(c.now) // at once, with the cookie
	default:
		c.stats.dropped++
	}
}

func (c *Conn) countRecv(n int) {
	c.stats.packetsReceived++
	c.stats.bytesReceived += uint64(n)
}

// handleData authenticates a data packet and processes its frames.
func (c *Conn) handleData(b []byte, in inbound) {
	if c.state == stateHandshake {
		c.stats.dropped++ // data before our handshake completed: cannot be ours
		return
	}
	h, err := wire.ParseHeader(b)
	if err != nil || h.ConnID != c.localID {
		c.stats.dropped++
		return
	}
	payload, err := c.sess.Recv.Open(b[wire.HeaderLen:wire.HeaderLen], b[wire.HeaderLen:], h.PN, h.KeyPhase, b[:wire.HeaderLen], c.now)
	if err != nil {
		c.stats.dropped++
		if errors.Is(err, handshake.ErrPacketAuth) {
			c.authFailed(in)
		}
		if errors.Is(err, handshake.ErrIntegrityLimit) {
			c.closeLocal(CodeIntegrityLimit, "too many forged packets")
		}
		return
	}
	c.countRecv(len(b))
	c.lastRecv = c.now
	if c.state == stateClosing {
		// The peer has not seen our CLOSE yet; tell it again, but at most
		// once per RTT, so a flood of packets is not answered in kind.
		if c.now.Sub(c.lastClose) >= c.sender.RTT.SmoothedOrInitial() {
			c.sendClose()
		}
		return
	}
	if !c.confirmed {
		c.confirmed = true
		if !c.e.confirmed(c) {
			c.closeLocal(CodeAcceptQueueFull, "too many connections waiting to be accepted")
			return
		}
	}
	c.heardOn(in, h.PN, len(b))
	eliciting, err := c.handleFrames(payload)
	c.ccReport(c.now)
	if err != nil {
		c.closeLocal(CodeProtocolViolation, err.Error())
		return
	}
	if c.state == stateOpen {
		c.adaptAckFrequency()
		c.receiver.OnPacket(h.PN, eliciting, c.now)
		c.fecReceived(h.PN, payload)
	}
}

// handleFrames processes a packet's frames and reports whether any asks
// to be acknowledged. An error is a protocol violation by the peer.
func (c *Conn) handleFrames(p []byte) (eliciting bool, err error) {
	f := &c.frame
	for len(p) > 0 {
		n, err := wire.ParseFrame(p, f)
		if err != nil {
			return eliciting, fmt.Errorf("malformed frame: %v", err)
		}
		p = p[n:]
		eliciting = eliciting || f.Type.AckEliciting()
		switch f.Type {
		case wire.FramePadding, wire.FramePing:
		case wire.FrameAck:
			if err := c.sender.OnAck(&f.Ack, c.now, c); err != nil {
				return eliciting, err
			}
		case wire.FrameRequest:
			c.stats.requests++
			c.sender.OnRequest(&f.Ack, c)
		case wire.FrameFECData, wire.FrameFECParity, wire.FrameFECReport:
			c.fecFrame(f)
		case wire.FrameClose:
			c.peerClosedUnacked = c.streams.Unacked() || c.msgs.Pending()
			c.err = &CloseError{Code: f.Close.Code, Reason: string(f.Close.Reason), Remote: true}
			c.end(c.err)
			return eliciting, nil
		default:
			owner := c.streams.HandleFrame
			if isMessageFrame(f.Type) {
				owner = c.msgs.HandleFrame
			}
			if err := owner(f); err != nil {
				return eliciting, err
			}
		}
	}
	return eliciting, nil
}

// isStreamFrame reports whether frames of type t belong to the streams.
func isStreamFrame(t wire.FrameType) bool {
	switch t {
	case wire.FrameStream, wire.FrameResetStream, wire.FrameStopSending,
		wire.FrameMaxData, wire.FrameMaxStreamData, wire.FrameMaxStreams:
		return true
	}
	return false
}

// isMessageFrame reports whether frames of type t belong to the messages.
func isMessageFrame(t wire.FrameType) bool {
	return t == wire.FrameMessage || t == wire.FrameAbandon || t == wire.FrameMaxMessageData
}

// OnAcked implements ack.Handler: each frame's owner hears of it, and
// congestion control of the packet.
func (c *Conn) OnAcked(p *ack.Packet) {
	for _, f := range p.Frames {
		switch {
		case isStreamFrame(f.Type):
			c.streams.OnAcked(f)
		case isMessageFrame(f.Type):
			c.msgs.OnAcked(f)
		case f.Type == wire.FrameAck:
			c.receiver.OnAckAcknowledged(f.Offset)
		case f.Type == wire.FramePing && f.Offset > 0:
			c.pmtuAcked(int(f.Offset))
		}
	}
	c.ackedOnPath(p)
	if p.InFlight {
		c.ccAcked(p)
	}
}

// OnLost implements ack.Handler: lost frames go back to their owners to be
// sent again if they still matter (ACKs and PINGs never are: the next ones
// are fresh).
func (c *Conn) OnLost(p *ack.Packet) {
	for _, f := range p.Frames {
		switch {
		case isStreamFrame(f.Type):
			c.streams.OnLost(f)
		case isMessageFrame(f.Type):
			c.msgs.OnLost(f)
		case f.Type == wire.FramePing && f.Offset > 0:
			c.pmtuLost(int(f.Offset), c.now)
		}
	}
	c.lostOnPath(p)
	if p.InFlight && !c.losingPath {
		c.ccLost(p)
	}
}

var _ ack.Handler = (*Conn)(nil)

// adaptAckFrequency sets how often and how soon the receiver acknowledges
// (see ackEvery): every ackEveryStart packets at first, every ackEvery
// after ackStartPackets, and within a quarter of the RTT.
func (c *Conn) adaptAckFrequency() {
	if c.stats.packetsReceived > ackStartPackets {
		c.receiver.AckEvery = ackEvery
	}
	if c.sender.RTT.HasSample() {
		c.receiver.MaxAckDelay = min(maxAckDelay, max(c.sender.RTT.Smoothed/4, ack.Granularity))
	}
}
