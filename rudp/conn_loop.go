package rudp

import (
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/rudp/internal/cc"
	"github.com/pydevts/pydevts/stream"
)

// run is the connection's loop. It ends when the connection does.
func (c *Conn) run() {
	defer c.finish()
	c.timer = time.NewTimer(time.Hour)
	defer c.timer.Stop()
	if c.state == stateHandshake {
		c.sendInitiation(time.Now())
	}
	c.armTimer(time.Now())
	for c.state != stateEnded {
		select {
		case in := <-c.in:
			c.now = time.Now()
			c.handleInbound(in)
			// Take what else is queued, up to a batch, before sending:
			// one flush then acknowledges them all.
			for range batchSize - 1 {
				select {
				case in := <-c.in:
					c.handleInbound(in)
					continue
				default:
				}
				break
			}
		case <-c.timer.C:
		case <-c.wake:
		case op := <-c.ops:
			c.now = time.Now()
			op()
		case <-c.e.done:
			c.now = time.Now()
			c.closeLocal(CodeEndpointClosed, "endpoint closed")
			c.end(c.err)
		}
		if c.state == stateEnded {
			break
		}
		c.now = time.Now()
		c.onTimers(c.now)
		c.flush(c.now)
		c.armTimer(c.now)
	}
}

// establish installs a finished handshake: keys, the peer's parameters, the
// streams and messages.
func (c *Conn) establish(est *handshake.Established, now time.Time) error {
	p, err := decodeParams(est.PeerParams)
	if err != nil {
		return err
	}
	c.sess, c.peerID, c.peer, c.suite = est.Session, est.PeerID, est.Peer, est.Suite
	c.idleTimeout = min(c.cfg.IdleTimeout, p.idle)
	c.maxSend = min(c.cfg.MaxDatagram, p.maxDatagram)
	c.cc = cc.NewNewReno(c.maxSend)
	scfg := c.cfg.streams
	scfg.LocalAddr = c.e.Addr()
	scfg.RemoteAddr = addrOf(c.remote)
	c.streams = stream.NewMap(scfg, c.initiator, p.streams, c.wakeLoop)
	c.msgs = message.NewSet(c.cfg.messages, p.messages, c.wakeLoop)
	c.state = stateOpen
	c.lastRecv = now
	if c.initiator {
		// The handshake's round trip is the first RTT sample; and a
		// first packet at once confirms the session to the responder.
		c.sender.RTT.Update(now.Sub(c.hsSent), 0, 0)
		c.ping = true
		c.confirmed = true
		c.ini = nil
	}
	close(c.established)
	return nil
}

// onTimers does what is due at now.
func (c *Conn) onTimers(now time.Time) {
	switch c.state {
	case stateHandshake:
		if !now.Before(c.hsDeadline) {
			c.end(ErrHandshakeTimeout)
		} else if !now.Before(c.hsNext) {
			c.sendInitiation(now)
		}
		return
	case stateClosing:
		if !now.Before(c.closingUntil) {
			c.end(c.err)
		}
		return
	}
	if !c.confirmed && now.Sub(c.born) >= pendingTimeout {
		c.end(IdleTimeoutError{}) // an initiation nobody followed up
		return
	}
	if now.Sub(c.lastRecv) >= c.idleTimeout {
		c.end(IdleTimeoutError{})
		return
	}
	if t := c.sender.LossTimer(); !t.IsZero() && !now.Before(t) {
		c.sender.DetectLoss(now, c)
	}
	if t := c.sender.PTODeadline(); !t.IsZero() && !now.Before(t) {
		c.sender.OnPTO()
		c.stats.ptos++
		// Two probes, as RFC 9002 section 6.2.4 suggests: one lost probe
		// then does not cost another timeout.
		c.probes = 2
	}
	// Keepalives go only to a peer that has proven its address: before
	// that, a responder has sent just its response and must not send an
	// address that may be spoofed more than it received.
	if c.confirmed && now.Sub(later(c.lastSent, c.lastRecv)) >= c.cfg.KeepAlive {
		c.ping = true
	}
	if c.graceful && !c.streams.Unacked() && !c.msgs.Pending() {
		c.closeLocal(CodeNoError, "")
	}
}

// armTimer sets the loop's timer to the earliest deadline.
func (c *Conn) armTimer(now time.Time) {
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	switch c.state {
	case stateHandshake:
		at(c.hsNext)
		at(c.hsDeadline)
	case stateClosing:
		at(c.closingUntil)
	case stateOpen:
		at(c.receiver.AckDeadline())
		at(c.receiver.RequestDeadline(c.sender.RTT.SmoothedOrInitial()))
		at(c.sender.LossTimer())
		at(c.sender.PTODeadline())
		at(c.lastRecv.Add(c.idleTimeout))
		if c.confirmed {
			at(later(c.lastSent, c.lastRecv).Add(c.cfg.KeepAlive))
		} else {
			at(c.born.Add(pendingTimeout))
		}
		if c.pacingWait > 0 {
			at(now.Add(c.pacingWait))
		}
	}
	if next.IsZero() {
		next = now.Add(time.Hour)
	}
	d := max(next.Sub(now), 0)
	c.timer.Reset(d)
}

// sendInitiation sends a fresh initiation and schedules the next retry.
func (c *Conn) sendInitiation(now time.Time) {
	msg, err := c.ini.Initiation(now)
	if err != nil {
		c.end(err)
		return
	}
	c.hsSent, c.hsNext = now, now.Add(c.hsRetry)
	c.hsRetry = min(2*c.hsRetry, handshakeRetryMax)
	c.e.carrier.Send([][]byte{msg}, c.remote)
	c.stats.packetsSent++
	c.stats.bytesSent += uint64(len(msg))
}

// end finishes the connection with err: the loop exits after this turn.
func (c *Conn) end(err error) {
	if c.state == stateEnded {
		return
	}
	if c.err == nil {
		c.err = err
	}
	if c.streams != nil {
		c.streams.CloseAll(c.err)
		c.msgs.CloseAll(c.err)
	}
	if c.state != stateClosing {
		close(c.closed)
	}
	c.state = stateEnded
}

// finish runs when the loop exits.
func (c *Conn) finish() {
	c.e.remove(c, !c.initiator && !c.confirmed)
	c.final = c.snapshot()
	close(c.done)
	for {
		select {
		case in := <-c.in:
			c.e.putBuf(in.buf)
		default:
			c.closeOwnEndpoint()
			c.e.loops.Done()
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func addrOf(a interface{ String() string }) netAddr { return netAddr{"udp", a.String()} }

// netAddr is a net.Addr of a given network and string.
type netAddr struct{ network, s string }

func (a netAddr) Network() string { return a.network }
func (a netAddr) String() string  { return a.s }
