package rudp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/ack"
	"github.com/pydevts/pydevts/rudp/internal/carrier"
	"github.com/pydevts/pydevts/rudp/internal/cc"
	"github.com/pydevts/pydevts/rudp/relay"
)

// A link is one carrier of an endpoint: a UDP socket, a TCP carrier or a
// relay client. An endpoint's links are fixed when it is made.
type link struct {
	c    carrier.Carrier
	kind pathKind
	id   int // index in Endpoint.links
}

// maxLinks bounds an endpoint's carriers: UDP, TCP and up to 3 relays,
// with room to spare.
const maxLinks = 8

// pathKind says what a link is, in the order of preference: a direct path
// before a relayed one, UDP before TCP (no head-of-line blocking, FEC).
type pathKind uint8

const (
	pathUDP pathKind = iota
	pathTCP
	pathRelay
)

func (k pathKind) String() string {
	switch k {
	case pathTCP:
		return "tcp"
	case pathRelay:
		return "relay"
	}
	return "udp"
}

func kindOf(c carrier.Carrier) pathKind {
	switch c.(type) {
	case *carrier.TCP:
		return pathTCP
	case *relay.Carrier:
		return pathRelay
	}
	return pathUDP
}

// pathAddr is where a path leads: a link and the peer's address on it.
type pathAddr struct {
	link *link
	addr netip.AddrPort
}

// A path is one way to the peer: a link and the peer's address on it.
// Packet numbers, keys, streams and messages belong to the connection;
// a path has only what tells whether it works and how well. The
// connection sends on one path, the active one, and probes the others
// (see choosePath).
type path struct {
	pathAddr
	id uint8 // recorded with each packet sent on it; unique among the connection's paths
	// minPN is the first packet number sent after the path was made: an
	// acknowledgment of an earlier packet says nothing about it.
	minPN uint64
	// valid: the peer is known to be at addr, so the path may carry
	// data. A path is valid when we chose its address (Dial, Listen),
	// when the peer's handshake response came by it, or once a packet
	// sent on it is acknowledged. A path made for a packet from an
	// unknown address is only probed until then (see heardOn): the packet
	// may be a copy of the peer's, sent from another address (a spoofed
	// one, to turn our traffic on a victim) before the original arrived.
	valid bool
	// movedAt is when the peer's newest packet came by this path, new on
	// the active path's link: the peer seems to have moved there (a NAT
	// rebinding, a new network, a new TCP connection). Zero: no such move
	// is pending (see followMove).
	movedAt  time.Time
	newestAt time.Time // when the peer's newest packet last came by it

	heard   time.Time     // the last authenticated packet that came by it
	acked   time.Time     // when a packet sent on it was last acknowledged
	unacked time.Time     // sending time of the first ack-eliciting packet on it since; zero: none
	failed  time.Time     // when it was last found not to answer; zero: never
	probeAt time.Time     // when it is probed next (not the active path)
	rtt     time.Duration // smoothed over the acknowledgments of its packets

	// Health (see demote).
	authFails    int       // packets that failed authentication since authFailAt's window began
	authFailAt   time.Time // the first of them
	demotions    int       // times demoted
	demotedUntil time.Time // not used while now is before it
	winSent      uint64    // packetsSent when the current loss window began
	winLost      uint64    // lost, likewise
	lossyWins    int       // windows in a row that lost more than lossDemote

	packetsSent, packetsReceived, bytesSent, bytesReceived, lost uint64
	authFailures                                                 uint64
}

// Path timing. A path answers when the packets sent on it are
// acknowledged (by whatever path the acknowledgment takes). The active
// path is down when an ack-eliciting packet sent on it has waited
// pathTimeout with nothing sent on it acknowledged since: three of its
// RTTs plus the peer's ack delay, at least pathTimeoutMin (so that a
// scheduling hiccup is not taken for an outage) and at most
// pathHeartbeat, the promise: traffic moves to another path within one
// heartbeat of its path falling silent.
const (
	pathHeartbeat  = time.Second
	pathTimeoutMin = 200 * time.Millisecond
	// A path better than the active one is probed every heartbeat, to
	// come back to it soon after it answers again; a worse one every
	// pathProbeIdle, to know it is there when it is needed.
	pathProbeIdle = 10 * time.Second
	// maxPaths bounds the paths of a connection. A path not yet
	// validated gives its place to a new one when they are all taken, and
	// goes when its probe fails; the path the peer moved from goes once
	// the connection has followed it.
	maxPaths = 8
)

// Path health. A reliable path (direct TCP, a relay) delivers every
// packet as it was sent, so a packet on one that fails authentication was
// changed on the way: after authFailLimit of them within authFailWindow
// the path is demoted. One on UDP may be anybody's forgery (a source
// address is easily spoofed), and counts for nothing. A reliable path
// that loses more than lossDemote of a window of lossWindow packets
// sent on it while it is active, lossyWindows windows in a row (packets
// a relay dropped, a TCP connection that broke), is demoted too: one
// window is not enough, since the end of slow start can overflow a
// relay's queue that much once. Loss on a clean TCP path is
// rare, and with the loss-based controller a reliable path runs (see
// Conn.controller) about 1 % even while a bulk transfer fills a relay's
// queues. (With BBR, which Config.CongestionControl can force, a relay's
// queue drops a third of what is sent: loss is not held against a path
// then.) A demoted path is left
// for demoteFor, doubling with each demotion up to demoteMax, unless no
// other path is left; then it is probed, and used again once it answers.
const (
	authFailLimit  = 3
	authFailWindow = time.Minute
	lossWindow     = 512
	lossDemote     = 0.2
	lossyWindows   = 3
	demoteFor      = 30 * time.Second
	demoteMax      = 10 * time.Minute
)

// demoted reports whether p is demoted at now.
func (p *path) demoted(now time.Time) bool { return now.Before(p.demotedUntil) }

// linkDown reports whether l knows it cannot carry anything now: a relay
// whose connection to the relay is down.
func linkDown(l *link) bool {
	u, ok := l.c.(interface{ Up() bool })
	return ok && !u.Up()
}

// authFailed counts a packet from in that failed authentication against
// its path, and demotes a reliable path that has seen too many.
func (c *Conn) authFailed(in inbound) {
	if !in.link.c.Reliable() {
		return
	}
	for _, p := range c.paths {
		if p.link != in.link || p.addr != in.from {
			continue
		}
		p.authFailures++
		if p.authFails == 0 || c.now.Sub(p.authFailAt) > authFailWindow {
			p.authFails, p.authFailAt = 0, c.now
		}
		p.authFails++
		if p.authFails >= authFailLimit && !p.demoted(c.now) {
			c.demote(p, c.now, "packets fail authentication: changed on the way")
		}
		return
	}
}

// checkLoss demotes the active path when it is reliable and lost more
// than lossDemote of the last lossWindow packets sent on it, if there
// is another path to go to.
func (c *Conn) checkLoss(now time.Time) {
	p := c.active
	sent := p.packetsSent - p.winSent
	if sent < lossWindow {
		return
	}
	lost := p.lost - p.winLost
	p.winSent, p.winLost = p.packetsSent, p.lost
	if !p.link.c.Reliable() || !c.lossBased() || float64(lost) <= lossDemote*float64(sent) {
		p.lossyWins = 0
		return
	}
	if p.lossyWins++; p.lossyWins < lossyWindows {
		return
	}
	p.lossyWins = 0
	for _, q := range c.paths {
		if q != p && !q.demoted(now) && q.up() && !linkDown(q.link) {
			c.demote(p, now, fmt.Sprintf("lost %d of %d packets", lost, sent))
			return
		}
	}
}

// demote takes p out of use for a while (see demoteFor), moving traffic
// off it at once when it is active: what was in flight on it is resent
// elsewhere.
func (c *Conn) demote(p *path, now time.Time, why string) {
	p.demotions++
	d := demoteMax
	if p.demotions <= 8 {
		d = min(demoteFor<<(p.demotions-1), demoteMax)
	}
	p.demotedUntil = now.Add(d)
	p.failed, p.unacked, p.authFails = now, time.Time{}, 0
	c.stats.pathDemotions++
	c.log.Warn("rudp: path demoted", "path", c.pathName(p), "why", why, "for", d)
	if p == c.active {
		if b := c.fallback(p); b != nil {
			c.switchPath(b, now, true)
		}
	}
	p.probeAt = p.demotedUntil // not probed before (switchPath set it sooner)
}

// confirmed reports whether a packet sent on p was acknowledged since p
// last failed.
func (p *path) confirmed() bool { return !p.acked.IsZero() && !p.acked.Before(p.failed) }

// up reports whether p may carry traffic: it answered since it last
// failed, or it never failed.
func (p *path) up() bool { return p.failed.IsZero() || p.confirmed() }

// pathTimeout is how long an ack-eliciting packet on p may wait for an
// acknowledgment before p is taken for down.
func (c *Conn) pathTimeout(p *path) time.Duration {
	rtt := max(p.rtt, c.sender.RTT.SmoothedOrInitial())
	if !c.sender.RTT.HasSample() && p.rtt == 0 {
		rtt = 0
	}
	return min(max(3*rtt+maxAckDelay, pathTimeoutMin), pathHeartbeat)
}

// choosePath moves traffic off an active path that stopped answering and
// back to a better one that answers again. It runs with the timers.
func (c *Conn) choosePath(now time.Time) {
	if len(c.paths) < 2 || c.state != stateOpen {
		return
	}
	// Paths other than the active one whose probe went unanswered for a
	// heartbeat, or whose relay is down, have failed. One that was never
	// valid goes: nothing says the peer was ever there.
	for i := 0; i < len(c.paths); i++ {
		p := c.paths[i]
		if p != c.active && (!p.unacked.IsZero() && now.Sub(p.unacked) >= pathHeartbeat || linkDown(p.link) && p.up()) {
			p.failed, p.unacked = now, time.Time{}
			if !p.valid {
				c.removePath(p)
				i--
			}
		}
	}
	if c.followMove(now) || len(c.paths) < 2 {
		return
	}
	a := c.active
	if !a.unacked.IsZero() && now.Sub(a.unacked) >= c.pathTimeout(a) || linkDown(a.link) && (a.up() || !a.unacked.IsZero()) {
		a.failed, a.unacked = now, time.Time{}
		c.stats.pathFailures++
		if b := c.fallback(a); b != nil {
			c.log.Info("rudp: path down, moving on", "from", c.pathName(a), "to", c.pathName(b))
			c.switchPath(b, now, true)
			return
		}
	}
	c.checkLoss(now)
	if c.active != a {
		return
	}
	// Follow the peer from one path to another of the same kind: its
	// packets have not come by the active path for a heartbeat, and come
	// by the other. It left for a reason it knows (packets changed on the
	// way, which only the receiving side can tell), and a connection on
	// one path each way through two relays depends on both. Never to a
	// worse kind, never away from a better one: each side's own
	// preference keeps them apart then, and following would make the
	// two chase each other.
	if p := c.peerPath; p != nil && p != a && p.valid && p.link.kind == a.link.kind && now.Sub(a.heard) >= pathHeartbeat &&
		now.Sub(p.heard) < pathHeartbeat && !p.demoted(now) && !linkDown(p.link) {
		c.log.Info("rudp: the peer moved to another path; following", "from", c.pathName(a), "to", c.pathName(p))
		c.switchPath(p, now, false)
		return
	}
	// Back to a better path that answers (again).
	var best *path
	for _, p := range c.paths {
		if p.link.kind < c.active.link.kind && p.confirmed() && now.Sub(p.acked) < 2*pathHeartbeat &&
			!p.demoted(now) && !linkDown(p.link) && (best == nil || p.link.kind < best.link.kind) {
			best = p
		}
	}
	if best != nil {
		c.log.Info("rudp: better path answers, moving back", "from", c.pathName(c.active), "to", c.pathName(best))
		c.switchPath(best, now, false)
	}
}

// fallback picks the path to move to from a, which is down: the best
// kind among those that answered since they last failed, else among
// those never found down, else the one that failed longest ago; demoted
// paths and relays that are down come last, since the connection is
// better off on them than on none. Paths not valid yet are never picked.
func (c *Conn) fallback(a *path) *path {
	var best *path
	rank := func(p *path) int {
		switch {
		case p.demoted(c.now) || linkDown(p.link):
			return 3
		case p.confirmed():
			return 0
		case p.failed.IsZero():
			return 1
		}
		return 2
	}
	for _, p := range c.paths {
		if p == a || !p.valid {
			continue
		}
		if best == nil || rank(p) < rank(best) ||
			rank(p) == rank(best) && (p.link.kind < best.link.kind ||
				p.link.kind == best.link.kind && p.failed.Before(best.failed)) {
			best = p
		}
	}
	return best
}

// switchPath makes p the active path. Coming from a path that is down,
// what was in flight there is lost at once, and sent again on p: waiting
// for loss detection would cost a probe timeout or more. The congestion
// controller and the RTT estimate start over with what p has shown, the
// old path's being no guide to the new one's.
func (c *Conn) switchPath(p *path, now time.Time, down bool) {
	old := c.active
	c.active, c.remote = p, p.addr
	c.stats.pathSwitches++
	if down {
		c.losingPath = true
		c.sender.LosePath(old.id, c)
		c.losingPath = false
	}
	c.cc = nil
	c.sampler = cc.RateSampler{}
	c.sender.ResetRTT(p.rtt)
	p.unacked = time.Time{}
	p.probeAt = time.Time{}
	old.probeAt = now.Add(c.probeInterval(old))
	c.ping = true // something on the new path at once
	c.wakeLoop()
}

// backupPath is the path that carries copies of what goes on the active
// path while that one has not answered yet: the best kind of those that
// have. nil: none is needed, or there is none.
func (c *Conn) backupPath() *path {
	if len(c.paths) < 2 || c.active.confirmed() {
		return nil
	}
	var best *path
	for _, p := range c.paths {
		if p != c.active && p.confirmed() && !p.demoted(c.now) && !linkDown(p.link) &&
			(best == nil || p.link.kind < best.link.kind) {
			best = p
		}
	}
	return best
}

// probeInterval is how often p, not the active path, is probed.
func (c *Conn) probeInterval(p *path) time.Duration {
	if p.link.kind < c.active.link.kind || !p.up() {
		return pathHeartbeat
	}
	return pathProbeIdle
}

// probePaths sends a PING on each path other than the active one whose
// probe is due. A probe counts neither toward the congestion window nor
// for the probe timeout: its acknowledgment only tells that its path
// works, and what its RTT is.
func (c *Conn) probePaths(now time.Time) {
	if len(c.paths) < 2 {
		return
	}
	for _, p := range c.paths {
		if p == c.active {
			continue
		}
		if p.probeAt.IsZero() {
			p.probeAt = now // a new path: probe it at once
		}
		if now.Before(p.probeAt) {
			continue
		}
		p.probeAt = now.Add(c.probeInterval(p))
		c.sendProbe(p, now)
	}
}

// probingPaths reports whether a probe on a path other than the active
// one waits for its acknowledgment.
func (c *Conn) probingPaths() bool {
	for _, p := range c.paths {
		if p != c.active && !p.unacked.IsZero() {
			return true
		}
	}
	return false
}

// nextProbe is when probePaths has something to do; zero: never.
func (c *Conn) nextProbe() time.Time {
	var next time.Time
	for _, p := range c.paths {
		if p == c.active {
			continue
		}
		if next.IsZero() || p.probeAt.Before(next) {
			next = p.probeAt
		}
		if !p.unacked.IsZero() && p.unacked.Add(pathHeartbeat).Before(next) {
			next = p.unacked.Add(pathHeartbeat) // choosePath finds it failed
		}
	}
	return next
}

// sendProbe sends a packet holding a PING alone on p.
func (c *Conn) sendProbe(p *path, now time.Time) {
	buf, b, pn := c.sealOne(now, wire.AppendPing)
	frames := append(c.sender.NewFrames(), wire.Sent{Type: wire.FramePing})
	c.sender.OnSent(ack.Packet{PN: pn, Sent: now, Size: len(b), Frames: frames, Path: p.id})
	p.link.c.Send([][]byte{b}, p.addr)
	c.e.putBuf(buf)
	if p.unacked.IsZero() {
		p.unacked = now
	}
	c.stats.packetsSent++
	c.stats.bytesSent += uint64(len(b))
	p.packetsSent++
	p.bytesSent += uint64(len(b))
}

// elicitingOnPath records an ack-eliciting packet sent on the active
// path.
func (c *Conn) elicitingOnPath(now time.Time) {
	if c.active.unacked.IsZero() {
		c.active.unacked = now
	}
}

// ackedOnPath learns from an acknowledged packet that its path works.
func (c *Conn) ackedOnPath(pk *ack.Packet) {
	p := c.pathOf(pk)
	if p == nil {
		return
	}
	p.valid = true
	p.acked = c.now
	if !pk.Sent.Before(p.unacked) {
		p.unacked = time.Time{}
	}
	sample := c.now.Sub(pk.Sent)
	if p.rtt == 0 {
		p.rtt = sample
	} else {
		p.rtt += (sample - p.rtt) / 8
	}
}

// lostOnPath counts a lost packet against its path.
func (c *Conn) lostOnPath(pk *ack.Packet) {
	if p := c.pathOf(pk); p != nil {
		p.lost++
	}
}
