package rudp

import (
	"time"

	"github.com/pydevts/pydevts/rudp/internal/ack"
)

// Where the peer is. A packet from an address the connection does not
// know becomes a path of its own, probed and validated before it carries
// anything (see path.valid); the peer moving on the active path's link
// is followed once the new address answers. Paths have ids that stay
// unique while they live, so that paths can come and go.

// heardOn records an authenticated packet of n bytes from in, with packet
// number pn, on its path. A packet from an address the connection does
// not know makes a path for it, which is probed at once and carries
// nothing else until the probe is acknowledged (see path.valid): an
// authenticated packet proves who sent it, not where from.
func (c *Conn) heardOn(in inbound, pn uint64, n int) {
	newest := pn > c.largestPN || c.stats.packetsReceived == 1
	if newest {
		c.largestPN = pn
	}
	a := pathAddr{in.link, in.from}
	var p *path
	for _, q := range c.paths {
		if q.pathAddr == a {
			p = q
		}
	}
	if p == nil {
		if len(c.paths) >= maxPaths && !c.makeRoom() {
			return
		}
		p = c.addPath(a)
		if newest && in.link == c.active.link {
			p.movedAt = c.now
		}
	}
	p.heard = c.now
	p.packetsReceived++
	p.bytesReceived += uint64(n)
	if newest {
		c.peerPath = p
		p.newestAt = c.now
	}
}

// addPath adds a path to a, not valid yet.
func (c *Conn) addPath(a pathAddr) *path {
	for c.pathByID(c.pathSeq) != nil {
		c.pathSeq++
	}
	p := &path{pathAddr: a, id: c.pathSeq, minPN: c.nextPN}
	c.pathSeq++
	c.paths = append(c.paths, p)
	return p
}

// pathByID returns the path with id, or nil.
func (c *Conn) pathByID(id uint8) *path {
	for _, p := range c.paths {
		if p.id == id {
			return p
		}
	}
	return nil
}

// pathOf returns the path pk was sent on, if it is still there and was
// there when pk was sent.
func (c *Conn) pathOf(pk *ack.Packet) *path {
	if p := c.pathByID(pk.Path); p != nil && pk.PN >= p.minPN {
		return p
	}
	return nil
}

// removePath forgets p, which is not the active path.
func (c *Conn) removePath(p *path) {
	for i, q := range c.paths {
		if q == p {
			c.paths = append(c.paths[:i], c.paths[i+1:]...)
			break
		}
	}
	if c.peerPath == p {
		c.peerPath = nil
	}
}

// makeRoom removes the oldest path that is not valid, else the
// down path heard from longest ago, to make room for a new one, and
// reports whether there was one: copies of the peer's packets from many
// addresses cannot keep the peer's real move out.
func (c *Conn) makeRoom() bool {
	for _, p := range c.paths {
		if !p.valid && p != c.active {
			c.removePath(p)
			return true
		}
	}
	// Else the down path heard from longest ago: a TCP connection the
	// peer made again leaves the old one's path dead for good.
	var gone *path
	for _, p := range c.paths {
		if p != c.active && !p.up() && (gone == nil || p.heard.Before(gone.heard)) {
			gone = p
		}
	}
	if gone != nil {
		c.removePath(gone)
		return true
	}
	return false
}

// followMove moves traffic to the address the peer moved to on the active
// path's link (see path.movedAt) once that address has answered a probe,
// and forgets the old one, unless the peer's newer packets came by the
// old address since: then the peer did not move (the packet from the new
// address was a copy, or the peer has both), and the new path is only
// one more. It reports whether it switched.
func (c *Conn) followMove(now time.Time) bool {
	a := c.active
	for _, p := range c.paths {
		if p.movedAt.IsZero() || p == a {
			continue
		}
		if p.link != a.link || a.newestAt.After(p.movedAt) {
			p.movedAt = time.Time{}
			continue
		}
		if !p.valid {
			continue
		}
		p.movedAt = time.Time{}
		c.log.Info("rudp: the peer moved; following", "from", c.pathName(a), "to", c.pathName(p))
		c.switchPath(p, now, false)
		c.removePath(a)
		return true
	}
	return false
}
