package rudp

// The responder side of the handshake: the worker that answers
// initiations (with cookies under load), and the pending connections of
// each dial until the initiator confirms one.

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/pydevts/pydevts/rudp/internal/carrier"
)

// handshakeLoop answers initiations, off the read loop: a handshake costs
// a quarter of a millisecond of CPU, which would stall every connection's
// packets behind it. It takes what waits in batches, and sends the cookie
// replies of a batch together (one sendmmsg on Linux): under a flood from
// spoofed addresses, replies are most of its work, and a system call
// each cost as much as the rest of a reply.
func (e *Endpoint) handshakeLoop() {
	defer e.workers.Done()
	batch := make([]inbound, 0, batchSize)
	var replies cookieReplies
	for {
		select {
		case <-e.done:
			return
		case in := <-e.hsQ:
			batch = append(batch[:0], in)
		}
	more:
		for len(batch) < batchSize {
			select {
			case in := <-e.hsQ:
				batch = append(batch, in)
			default:
				break more
			}
		}
		for _, in := range batch {
			if reply := e.answer(in); reply != nil {
				replies.add(in, reply)
			}
			e.putBuf(in.buf)
		}
		replies.send()
	}
}

// cookieReplies gathers the cookie replies of a batch of initiations,
// per link.
type cookieReplies struct {
	links [maxLinks]struct {
		c     carrier.Carrier
		bufs  [][]byte
		addrs []netip.AddrPort
	}
}

func (r *cookieReplies) add(in inbound, reply []byte) {
	l := &r.links[in.link.id]
	l.c = in.link.c
	l.bufs = append(l.bufs, reply)
	l.addrs = append(l.addrs, in.from)
}

// send sends what was gathered, in one call per link where the carrier
// sends to many addresses at once.
func (r *cookieReplies) send() {
	for i := range r.links {
		l := &r.links[i]
		if len(l.bufs) == 0 {
			continue
		}
		if m, ok := l.c.(interface {
			SendEach([][]byte, []netip.AddrPort) error
		}); ok {
			m.SendEach(l.bufs, l.addrs)
		} else {
			for j, b := range l.bufs {
				l.c.Send([][]byte{b}, l.addrs[j])
			}
		}
		clear(l.bufs)
		l.bufs, l.addrs = l.bufs[:0], l.addrs[:0]
	}
}

// dialKey names one dial of a peer: its static key and the connection ID
// it chose, the same in every initiation of that dial.
type dialKey struct {
	peer [32]byte
	id   uint64
}

// dial is what a responder has of one peer's dial: a connection for each
// of its initiations until the initiator confirms one, then that one.
type dial struct {
	pending []*Conn
	taken   *Conn
}

// answer processes one initiation. It sends a response itself, and
// returns a cookie reply for the caller to send.
func (e *Endpoint) answer(in inbound) []byte {
	// At MaxConnections, drop it before the responder spends a key
	// exchange or remembers anything of it.
	e.mu.Lock()
	full := len(e.conns) >= e.cfg.MaxConnections
	e.mu.Unlock()
	if full {
		e.counters.handshakeDropped.Add(1)
		return nil
	}
	src, _ := in.from.MarshalBinary()
	now := time.Now()
	init, reply, err := e.responder.ConsumeInitiation(in.bytes(), src, now)
	switch {
	case reply != nil:
		e.counters.cookiesSent.Add(1)
		return reply
	case err != nil:
		e.counters.handshakeDropped.Add(1)
		return nil
	}
	e.mu.Lock()
	key := dialKey{init.Peer.DH, init.PeerID}
	d := e.dials[key]
	// A retry that waited in the queue while the initiator took the
	// connection of an earlier try of its dial is late: drop it.
	if e.closing || e.pending >= maxPending || len(e.conns) >= e.cfg.MaxConnections || d != nil && d.taken != nil {
		e.mu.Unlock()
		e.counters.handshakeDropped.Add(1)
		return nil
	}
	id := e.newConnID()
	resp, est, err := init.Respond(id, now)
	if err != nil {
		e.mu.Unlock()
		e.counters.handshakeDropped.Add(1)
		return nil
	}
	c, err := newConn(e, false, id, []pathAddr{{in.link, in.from}})
	if err == nil {
		err = c.establish(est, now)
	}
	if err != nil {
		e.mu.Unlock()
		e.log.Debug("rudp: refused initiation", "err", err)
		e.counters.handshakeDropped.Add(1)
		return nil
	}
	e.conns[id] = c
	e.pending++
	if d == nil {
		d = &dial{}
		e.dials[key] = d
	}
	d.pending = append(d.pending, c)
	e.loops.Add(1)
	e.mu.Unlock()
	e.counters.handshakesAccepted.Add(1)
	in.link.c.Send([][]byte{resp}, in.from)
	c.start()
	return nil
}

// confirmed moves a responder connection, now proven live, to the accept
// queue; it reports false (and the connection is refused) when the queue
// is full. The other connections of the same dial end at once: the
// initiator took this one, and they would wait for pendingTimeout, holding
// places under MaxConnections (a loaded listener, whose responses are
// slow, makes initiators retry, and a connection per try).
func (e *Endpoint) confirmed(c *Conn) bool {
	e.mu.Lock()
	e.pending--
	var siblings []*Conn
	if d := e.dials[dialKey{c.peer.DH, c.peerID}]; d != nil {
		siblings, d.pending, d.taken = d.pending, nil, c
	}
	e.mu.Unlock()
	for _, s := range siblings {
		if s != c {
			s.post(func() {
				if !s.confirmed {
					s.end(errSuperseded)
				}
			})
		}
	}
	select {
	case e.acceptQ <- c:
		return true
	default:
		return false
	}
}

// remove forgets a connection that ended.
func (e *Endpoint) remove(c *Conn, wasPending bool) {
	e.mu.Lock()
	delete(e.conns, c.localID)
	if wasPending {
		e.pending--
	}
	if !c.initiator {
		e.forgetDial(c)
	}
	e.mu.Unlock()
}

// forgetDial takes c, a responder connection that ended, out of its
// dial's record, and the record once it holds nothing. e.mu is held.
func (e *Endpoint) forgetDial(c *Conn) {
	k := dialKey{c.peer.DH, c.peerID}
	d := e.dials[k]
	if d == nil {
		return
	}
	d.pending = slices.DeleteFunc(d.pending, func(x *Conn) bool { return x == c })
	if d.taken == c {
		d.taken = nil
	}
	if len(d.pending) == 0 && d.taken == nil {
		delete(e.dials, k)
	}
}

// errSuperseded ends a responder connection never confirmed when the
// initiator confirmed another of the same dial's: each of a dial's
// initiations (retries, when a response was lost or is slow) makes a
// connection, and the initiator uses the one whose response it took
// first.
var errSuperseded = errors.New("rudp: the initiator took another of this dial's connections")
