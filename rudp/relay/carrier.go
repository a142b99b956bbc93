package relay

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pydevts/pydevts/rudp/internal/carrier"
)

// Carrier runs the pydevts engine over a relay Client: it is a
// carrier.Carrier whose peers are the relay's other clients, addressed by
// their public keys. The engine speaks netip.AddrPort, so each peer key
// has a synthetic address, PeerAddr(key), that only this carrier knows the
// meaning of.
//
// Send routes to a peer on first use. While the link is online each
// datagram travels as Data; before that (the peer has not routed back
// yet), datagrams of up to MaxOOB bytes travel as OOB packets and larger
// ones are dropped. That is how toxcore starts a connection over a relay,
// and how the engine's handshake travels: its initiation (308 bytes),
// response (244) and cookie reply (68) all fit, and by the time the
// handshake is done both sides have routed, so data flows as Data. Data
// from an online peer and OOB from any client arrive from the sender's
// synthetic address.
//
// An OOB from a key the carrier does not know routes to it, so that the
// reply and later Data can flow: that is how a listener learns of a
// dialer. The carrier keeps at most NumLinks peers (the relay gives each
// client that many links); a new one takes the place of the least
// recently heard, which is unrouted, unless every peer was heard within
// carrierEvictAfter: then an OOB from a stranger is dropped, so that a
// flood of OOB packets under fresh keys cannot cut live connections off.
// A peer added by Peer (a dial) always gets a place.
//
// Sends never block (the client's queue drops its oldest packets when
// full). Reliable reports true: the relay is a TCP path, so the engine
// adds no FEC on it.
//
// A carrier made by DialCarrier outlives its relay connection: when the
// connection ends, for any reason but Close, the carrier is down (Up
// reports false, Send drops everything and returns ErrRelayDown, Recv
// keeps waiting) and dials the relay again, under the same key, with
// backoff, until Close. Once back up it routes to every peer it knows
// again, so a peer keeps its synthetic address and its link comes back,
// with OOB used until it is online, as at the start. A route the relay
// refuses, or that goes offline while the peer is still a peer of the
// carrier, is requested again, with backoff too. A carrier made by
// NewCarrier has no way to dial: when its connection ends, Recv returns
// an error wrapping net.ErrClosed.
//
// State machine of a DialCarrier carrier (Close from any state ends it):
//
//	up ── connection ends ──► down: wait (backoff) ──► dial ──┐
//	 ▲                            ▲                            │
//	 │                            └──────── dial failed ───────┤
//	 └─────────── dial succeeded: route to every peer ─────────┘
type Carrier struct {
	dial   carrierDialFunc // nil: NewCarrier's, which never dials again
	redial backoff         // template of the wait between dials
	local  *Addr
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // run
	kick   chan struct{}  // capacity 1: a route retry was scheduled

	// mu guards the fields below, and every carrierPeer. Calls into the
	// client are made with it held (the client never calls back), so that
	// a route and an unroute reach the relay in the order the maps say.
	mu       sync.Mutex
	cl       *Client       // the connection to the relay; while down, the one that ended
	up       bool          // cl is the live connection
	changed  chan struct{} // closed, and replaced, when cl or up changes
	onState  func(up bool)
	lastUp   time.Time
	lastDown time.Time
	byKey    map[PublicKey]*carrierPeer
	byAddr   map[netip.AddrPort]*carrierPeer

	evs []Event // Recv's batch; one reader goroutine

	dropped, strangers, reconnects, dialFailures, routeRetries atomic.Uint64
}

// A carrierDialFunc makes a new connection to the carrier's relay.
type carrierDialFunc func(ctx context.Context) (*Client, error)

type carrierPeer struct {
	key   PublicKey
	addr  netip.AddrPort
	heard time.Time // last Data or OOB from it, or when it was added

	retry   backoff   // waits between requests of its route
	retryAt time.Time // when to request its route again; zero: not planned
}

// carrierEvictAfter: a peer heard within it is not unrouted to make room
// for a stranger's OOB. The engine's keepalives (every 5 s by default)
// keep a live connection's peer fresh.
const carrierEvictAfter = 30 * time.Second

// carrierLinger bounds how long Close waits for queued packets to be
// written: a UDP socket sends what it was given before it closes, and the
// engine counts on its last CLOSE leaving.
const carrierLinger = time.Second

// ErrUnknownPeer is returned by Carrier.Send for an address that is not
// the synthetic address of a peer the carrier knows.
var ErrUnknownPeer = errors.New("relay: no peer of this carrier has that address")

// errTooBigForOOB: the peer is not online yet, and the datagram is too
// large for an OOB packet.
var errTooBigForOOB = errors.New("relay: peer not online yet and datagram too large for OOB: dropped")

var _ carrier.Carrier = (*Carrier)(nil)

// NewCarrier returns a carrier over cl, which it owns from then on. It
// never dials: when cl's connection ends, so does the carrier (Recv
// returns an error wrapping net.ErrClosed). DialCarrier makes a carrier
// that dials the relay again instead.
func NewCarrier(cl *Client) *Carrier {
	return newCarrier(cl, &Addr{Relay: cl.RemoteAddr().String(), Key: cl.PublicKey()}, nil, defaultRedial)
}

// newCarrier returns a carrier at local, up over cl, that dials again
// with dial (nil: never) after waits of redial. With cl nil it starts
// down, and dials at once.
func newCarrier(cl *Client, local *Addr, dial carrierDialFunc, redial backoff) *Carrier {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Carrier{
		dial:    dial,
		redial:  redial,
		local:   local,
		ctx:     ctx,
		cancel:  cancel,
		kick:    make(chan struct{}, 1),
		cl:      cl,
		up:      cl != nil,
		changed: make(chan struct{}),
		byKey:   map[PublicKey]*carrierPeer{},
		byAddr:  map[netip.AddrPort]*carrierPeer{},
	}
	if cl != nil {
		c.lastUp = time.Now()
	}
	c.wg.Add(1)
	go c.run(cl)
	return c
}

// Client returns the carrier's connection to the relay: the live one, or
// while the carrier is down the one that ended (nil for a carrier from
// StartCarrier that has not been up yet). A new connection is a new
// Client.
func (c *Carrier) Client() *Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cl
}

// PeerAddr is the synthetic address of the relay client with public key
// key: an IPv6 unique local address (fd00::/8, RFC 4193, never routed on
// the Internet) whose other 120 bits, and the port, are the first 17
// bytes of SHA-256 of a label and the key. Two keys share an address with
// a probability of about n²/2¹³⁷ for n keys, nothing a carrier with at
// most NumLinks peers will meet; if it ever did, the carrier would keep
// the first key and treat the second as unknown.
func PeerAddr(key PublicKey) netip.AddrPort {
	h := sha256.New()
	h.Write([]byte("pydevts relay peer address\x00"))
	h.Write(key[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var a [16]byte
	a[0] = 0xfd
	copy(a[1:], sum[:15])
	return netip.AddrPortFrom(netip.AddrFrom16(a), uint16(sum[15])<<8|uint16(sum[16]))
}

// Peer makes the relay client with public key key a peer of the carrier,
// routing to it, and returns its synthetic address, to dial it at. It
// takes the place of the least recently heard peer when NumLinks are
// there.
func (c *Carrier) Peer(key PublicKey) (netip.AddrPort, error) {
	if key == c.local.Key {
		return netip.AddrPort{}, errors.New("relay: a carrier cannot be its own peer")
	}
	p := c.peer(key, true)
	if p == nil {
		return netip.AddrPort{}, ErrUnknownPeer // an address collision
	}
	return p.addr, nil
}

// peer returns key's peer, adding it (and routing to it) when it is new
// and there is room, or force is set; nil when there is not. While the
// carrier is down the route request fails, and the carrier routes to the
// peer when it is up again.
func (c *Carrier) peer(key PublicKey, force bool) *carrierPeer {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.byKey[key]; p != nil {
		p.heard = now
		return p
	}
	addr := PeerAddr(key)
	if c.byAddr[addr] != nil {
		return nil
	}
	if len(c.byKey) >= NumLinks {
		var evict *carrierPeer
		for _, q := range c.byKey {
			if evict == nil || q.heard.Before(evict.heard) {
				evict = q
			}
		}
		if !force && now.Sub(evict.heard) < carrierEvictAfter {
			return nil
		}
		delete(c.byKey, evict.key)
		delete(c.byAddr, evict.addr)
		if c.up {
			c.cl.Unroute(evict.key)
		}
	}
	p := &carrierPeer{key: key, addr: addr, heard: now, retry: defaultReroute}
	c.byKey[key] = p
	c.byAddr[addr] = p
	if c.up {
		c.cl.Route(key)
	}
	return p
}

// Send implements carrier.Carrier: each buffer goes to the peer at addr
// as Data when its link is online, else as OOB when it fits, else it is
// dropped. While the carrier is down every buffer is dropped, and Send
// returns ErrRelayDown. It never blocks.
func (c *Carrier) Send(bufs [][]byte, addr netip.AddrPort) error {
	c.mu.Lock()
	p := c.byAddr[addr]
	cl, up := c.cl, c.up
	c.mu.Unlock()
	switch {
	case c.ctx.Err() != nil:
		c.dropped.Add(uint64(len(bufs)))
		return errCarrierClosed
	case p == nil:
		c.dropped.Add(uint64(len(bufs)))
		return ErrUnknownPeer
	case !up:
		c.dropped.Add(uint64(len(bufs)))
		return c.downError(cl)
	}
	online := cl.Connected(p.key)
	var first error
	for _, b := range bufs {
		var err error
		switch {
		case online:
			err = cl.Send(p.key, b)
		case len(b) <= MaxOOB:
			err = cl.SendOOB(p.key, b)
		default:
			err = errTooBigForOOB
		}
		if err != nil {
			c.dropped.Add(1)
			if first == nil {
				first = err
			}
		}
	}
	if errors.Is(first, net.ErrClosed) {
		// The connection has just ended; run has not seen it yet.
		return c.downError(cl)
	}
	return first
}

// downError is Send's error while the carrier is down, cl being the
// connection that ended: ErrRelayDown when the carrier dials again, else
// why the connection ended.
func (c *Carrier) downError(cl *Client) error {
	if c.dial == nil {
		if err := cl.Err(); err != nil {
			return err
		}
	}
	return ErrRelayDown
}

// Recv implements carrier.Carrier. Link events are acted on here and not
// returned. While the carrier is down Recv waits for it to come back up;
// it returns net.ErrClosed after Close (and, for a carrier from
// NewCarrier, an error wrapping net.ErrClosed when its connection ends).
func (c *Carrier) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if cap(c.evs) < len(bufs) {
		c.evs = make([]Event, len(bufs))
	}
	for {
		c.mu.Lock()
		cl, changed := c.cl, c.changed
		c.mu.Unlock()
		if cl == nil {
			// Started down, and not up yet.
			select {
			case <-changed:
				continue
			case <-c.ctx.Done():
				return 0, net.ErrClosed
			}
		}
		m, err := cl.Recv(c.ctx, c.evs[:len(bufs)])
		if err != nil {
			if c.ctx.Err() != nil {
				return 0, net.ErrClosed
			}
			if c.dial == nil {
				return 0, err
			}
			// Every event of the connection that ended has been taken:
			// wait for the next one.
			select {
			case <-changed:
				continue
			case <-c.ctx.Done():
				return 0, net.ErrClosed
			}
		}
		n := 0
		for _, ev := range c.evs[:m] {
			switch ev.Kind {
			case EventRefused, EventDisconnected:
				c.planRetry(cl, ev.Peer)
				continue
			case EventConnected:
				c.routeOnline(ev.Peer)
				continue
			case EventData, EventOOB:
			default:
				continue
			}
			p := c.peer(ev.Peer, false)
			if p == nil || len(ev.Data) > len(bufs[n]) {
				c.strangers.Add(1)
				continue
			}
			sizes[n] = copy(bufs[n], ev.Data)
			addrs[n] = p.addr
			n++
		}
		if n > 0 {
			return n, nil
		}
	}
}

// MaxDatagram implements carrier.Carrier: the largest Data payload.
func (c *Carrier) MaxDatagram() int { return MaxData }

// Reliable implements carrier.Carrier: a relay is a TCP path.
func (c *Carrier) Reliable() bool { return true }

// LocalAddr implements carrier.Carrier: the relay and the client's key.
func (c *Carrier) LocalAddr() net.Addr { return c.local }

// Close closes the relay client, after letting it write what is queued
// (the engine's CLOSE among it) for up to carrierLinger, and stops dialing
// (a wait or a dial in progress ends at once); a blocked Recv returns
// net.ErrClosed. It returns nil, also when called again.
func (c *Carrier) Close() error {
	if cl := c.Client(); cl != nil {
		ctx, cancel := context.WithTimeout(c.ctx, carrierLinger)
		cl.Flush(ctx)
		cancel()
	}
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	cl := c.cl
	c.up = false
	c.mu.Unlock()
	if cl == nil {
		return nil
	}
	return cl.Close()
}

// CarrierStats are a relay carrier's counters.
type CarrierStats struct {
	Peers     int    // peers known (routed)
	Dropped   uint64 // datagrams Send dropped: unknown address, not online and too large for OOB, the carrier down, or the client refused
	Strangers uint64 // datagrams Recv dropped: from a new key with no room for it, or too large

	Up           bool      // connected to the relay
	LastUp       time.Time // when the current or last connection was made
	LastDown     time.Time // when the last connection ended; zero: never
	Reconnects   uint64    // connections made after the first
	DialFailures uint64    // dials after the first that failed
	RouteRetries uint64    // routes requested again after the relay refused them or they went offline

	Client ClientStats // of the current connection (while down, of the one that ended): it starts from zero at each reconnect
}

// Stats returns the carrier's counters.
func (c *Carrier) Stats() CarrierStats {
	c.mu.Lock()
	s := CarrierStats{Peers: len(c.byKey), Up: c.up, LastUp: c.lastUp, LastDown: c.lastDown}
	cl := c.cl
	c.mu.Unlock()
	s.Dropped, s.Strangers = c.dropped.Load(), c.strangers.Load()
	s.Reconnects, s.DialFailures, s.RouteRetries = c.reconnects.Load(), c.dialFailures.Load(), c.routeRetries.Load()
	if cl != nil {
		s.Client = cl.Stats()
	}
	return s
}

// An Addr is where a relay carrier is: the relay's TCP address and the
// public key the client announced there, which peers route to.
type Addr struct {
	Relay string
	Key   PublicKey
}

// Network returns "relay".
func (a *Addr) Network() string { return "relay" }

// String returns relay/key, the form pydevts dial --relay takes for the
// relay, with the client's key instead of the relay's.
func (a *Addr) String() string { return a.Relay + "/" + a.Key.String() }
