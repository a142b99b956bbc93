package rudp

import (
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/stream"
)

// run is the connection's loop: it runs until the connection ends or
// parks. Its first run sends the first initiation of a dial.
func (c *Conn) run() {
	if c.timer == nil {
		c.timer = time.NewTimer(time.Hour)
		if c.state == stateHandshake {
			c.sendInitiation(time.Now())
		}
	} else {
		c.parkTimer.Stop()
	}
	for c.state != stateEnded {
		// Queued datagrams and ops are handled before sending: one flush
		// then acknowledges all the datagrams.
		c.handleQueued()
		c.now = time.Now()
		c.runOps()
		select {
		case <-c.e.done:
			c.closeLocal(CodeEndpointClosed, "endpoint closed")
			c.end(c.err)
		default:
		}
		if c.state == stateEnded {
			break
		}
		c.now = time.Now()
		c.onTimers(c.now)
		c.flush(c.now)
		if c.state == stateEnded {
			// A timer ended it (handshake or idle timeout): finish
			// now, not after a park that nothing would wake.
			break
		}
		next := c.nextDeadline(c.now)
		if next.Sub(c.now) >= c.cfg.parkAfter {
			if c.park(next) {
				return
			}
			continue // woken while parking: the work is queued
		}
		c.timer.Reset(max(next.Sub(c.now), 0))
		select {
		case <-c.timer.C:
		case <-c.wake:
		case <-c.e.done:
		}
	}
	c.timer.Stop()
	c.loopState.Store(loopEnded)
	c.finish()
}

// park ends the loop's goroutine until next, or until wakeLoop; it
// reports false if work arrived meanwhile and the loop goes on.
func (c *Conn) park(next time.Time) bool {
	d := next.Sub(c.now)
	c.timer.Stop()
	c.releaseController()
	if !c.probingPaths() {
		// A path probe's record must wait for its acknowledgment: the
		// probe is not ack-eliciting for the sender (it arms no probe
		// timeout), and ReleaseIdle would forget it.
		c.sender.ReleaseIdle()
	}
	c.fecRelease()
	if c.parkTimer == nil {
		c.parkTimer = time.AfterFunc(d, c.wakeLoop)
	} else {
		c.parkTimer.Reset(d)
	}
	if c.cfg.parkRace != nil {
		c.cfg.parkRace("park")
	}
	c.loopState.Store(loopParked)
	if c.cfg.parkRace != nil {
		c.cfg.parkRace("parked")
	}
	// A token: a wakeLoop saw the loop still running (see wakeLoop). Go
	// on, unless a wakeLoop has already started the next goroutine: the
	// token is then that one's, and goes back.
	select {
	case <-c.wake:
		if c.loopState.CompareAndSwap(loopParked, loopRunning) {
			c.parkTimer.Stop()
			return false
		}
		select {
		case c.wake <- struct{}{}:
		default:
		}
	default:
	}
	return true
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
	c.pmtuStart(min(c.cfg.maxDatagramTo(c.remote), p.maxDatagram))
	if !c.cfg.DisableFEC {
		c.fec.peerK = p.fec
	}
	scfg := c.cfg.streams
	scfg.LocalAddr = c.e.Addr()
	scfg.RemoteAddr = addrOf(c.remote)
	scfg.RemoteAddrFunc = c.RemoteAddr // the peer's address now: it may move
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
		c.ccReport(now)
	}
	c.choosePath(now)
	if t := c.sender.PTODeadline(); !t.IsZero() && !now.Before(t) {
		c.sender.OnPTO()
		c.stats.ptos++
		c.pmtuOnPTO(now)
		// Two probes, as RFC 9002 section 6.2.4 suggests: one lost probe
		// then does not cost another timeout.
		c.probes = 2
	}
	// Keepalives go only to a peer that has proven its address: before
	// that, a responder has sent just its response and must not send an
	// address that may be spoofed more than it received.
	if c.confirmed && now.Sub(later(c.lastSent, c.lastRecv)) >= c.keepAlive() {
		c.ping = true
	}
	if c.graceful && !c.streams.Unacked() && !c.msgs.Pending() {
		c.closeLocal(CodeNoError, "")
	}
}

// nextDeadline returns the earliest time the loop has something to do.
func (c *Conn) nextDeadline(now time.Time) time.Time {
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
		at(c.fecFlushDeadline())
		at(c.lastRecv.Add(c.idleTimeout))
		if len(c.paths) > 1 {
			if c.confirmed {
				at(c.nextProbe())
			}
			if a := c.active; !a.unacked.IsZero() {
				at(a.unacked.Add(c.pathTimeout(a)))
			}
		}
		if c.confirmed {
			at(later(c.lastSent, c.lastRecv).Add(c.keepAlive()))
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
	return next
}

// keepAlive is how long the connection stays silent before it sends a
// keepalive. One side's keepalives keep both alive: the peer hears each,
// and its acknowledgment comes back. If both sides used the same time,
// each would hear the other's ACK and ping again at once, twice the
// packets needed; so the initiator pings at KeepAlive, and the responder
// only if it has heard nothing for half again of what is left to the
// idle timeout (10 s of the default 15 s), which happens when the
// initiator's keepalives are lost or it stopped sending them.
func (c *Conn) keepAlive() time.Duration {
	k := c.cfg.KeepAlive
	if c.initiator || k >= c.idleTimeout {
		return k
	}
	return k + (c.idleTimeout-k)/2
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
	// The same initiation on every path: the first to arrive is answered,
	// later copies are replays to the peer, and the response comes back
	// by the fastest path that works.
	for _, p := range c.paths {
		p.link.c.Send([][]byte{msg}, p.addr)
		c.stats.packetsSent++
		c.stats.bytesSent += uint64(len(msg))
	}
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
	for _, in := range c.in.close() {
		c.e.putBuf(in.buf)
	}
	c.closeOwnEndpoint()
	c.e.loops.Done()
}

// handleQueued handles the datagrams queued for the connection.
func (c *Conn) handleQueued() {
	batch := c.in.take(c.inBatch)
	if len(batch) == 0 {
		c.inBatch = batch
		return
	}
	c.now = time.Now()
	for i := range batch {
		c.handleInbound(batch[i])
		batch[i] = inbound{}
	}
	if cap(batch) > 4*batchSize && len(batch) < batchSize {
		batch = nil // a burst is over: give its array back
	}
	c.inBatch = batch[:0]
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
