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

// Carrier runs the pydevts engine over one relay Client: it is a
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
// adds no FEC on it. One Carrier uses one relay connection for its life:
// when that connection ends, Recv returns an error wrapping
// net.ErrClosed.
type Carrier struct {
	cl     *Client
	local  *Addr
	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	mu     sync.Mutex
	byKey  map[PublicKey]*carrierPeer
	byAddr map[netip.AddrPort]*carrierPeer

	evs []Event // Recv's batch; one reader goroutine

	dropped, strangers atomic.Uint64
}

type carrierPeer struct {
	key   PublicKey
	addr  netip.AddrPort
	heard time.Time // last Data or OOB from it, or when it was added
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

// NewCarrier returns a carrier over cl, which it owns from then on.
func NewCarrier(cl *Client) *Carrier {
	ctx, cancel := context.WithCancel(context.Background())
	return &Carrier{
		cl:     cl,
		local:  &Addr{Relay: cl.RemoteAddr().String(), Key: cl.PublicKey()},
		ctx:    ctx,
		cancel: cancel,
		byKey:  map[PublicKey]*carrierPeer{},
		byAddr: map[netip.AddrPort]*carrierPeer{},
	}
}

// Client returns the carrier's relay client.
func (c *Carrier) Client() *Client { return c.cl }

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
	if key == c.cl.PublicKey() {
		return netip.AddrPort{}, errors.New("relay: a carrier cannot be its own peer")
	}
	p, _ := c.peer(key, true)
	if p == nil {
		return netip.AddrPort{}, ErrUnknownPeer // an address collision
	}
	return p.addr, nil
}

// peer returns key's peer, adding it (and routing to it) when it is new
// and there is room, or force is set; nil when there is not.
func (c *Carrier) peer(key PublicKey, force bool) (p *carrierPeer, added bool) {
	now := time.Now()
	c.mu.Lock()
	if p = c.byKey[key]; p != nil {
		p.heard = now
		c.mu.Unlock()
		return p, false
	}
	addr := PeerAddr(key)
	if c.byAddr[addr] != nil {
		c.mu.Unlock()
		return nil, false
	}
	var evict *carrierPeer
	if len(c.byKey) >= NumLinks {
		for _, q := range c.byKey {
			if evict == nil || q.heard.Before(evict.heard) {
				evict = q
			}
		}
		if !force && now.Sub(evict.heard) < carrierEvictAfter {
			c.mu.Unlock()
			return nil, false
		}
		delete(c.byKey, evict.key)
		delete(c.byAddr, evict.addr)
	}
	p = &carrierPeer{key: key, addr: addr, heard: now}
	c.byKey[key] = p
	c.byAddr[addr] = p
	c.mu.Unlock()
	if evict != nil {
		c.cl.Unroute(evict.key)
	}
	c.cl.Route(key)
	return p, true
}

// Send implements carrier.Carrier: each buffer goes to the peer at addr
// as Data when its link is online, else as OOB when it fits, else it is
// dropped. It never blocks.
func (c *Carrier) Send(bufs [][]byte, addr netip.AddrPort) error {
	c.mu.Lock()
	p := c.byAddr[addr]
	c.mu.Unlock()
	if p == nil {
		c.dropped.Add(uint64(len(bufs)))
		return ErrUnknownPeer
	}
	online := c.cl.Connected(p.key)
	var first error
	for _, b := range bufs {
		var err error
		switch {
		case online:
			err = c.cl.Send(p.key, b)
		case len(b) <= MaxOOB:
			err = c.cl.SendOOB(p.key, b)
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
	return first
}

// Recv implements carrier.Carrier. Link events are acted on here and not
// returned.
func (c *Carrier) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if cap(c.evs) < len(bufs) {
		c.evs = make([]Event, len(bufs))
	}
	for {
		m, err := c.cl.Recv(c.ctx, c.evs[:len(bufs)])
		if err != nil {
			if c.ctx.Err() != nil {
				return 0, net.ErrClosed
			}
			return 0, err
		}
		n := 0
		for _, ev := range c.evs[:m] {
			if ev.Kind != EventData && ev.Kind != EventOOB {
				continue
			}
			p, _ := c.peer(ev.Peer, false)
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
// (the engine's CLOSE among it) for up to carrierLinger; a blocked Recv
// returns net.ErrClosed.
func (c *Carrier) Close() error {
	ctx, cancel := context.WithTimeout(c.ctx, carrierLinger)
	c.cl.Flush(ctx)
	cancel()
	c.cancel()
	return c.cl.Close()
}

// CarrierStats are a relay carrier's counters.
type CarrierStats struct {
	Peers     int    // peers known (routed)
	Dropped   uint64 // datagrams Send dropped: unknown address, not online and too large for OOB, or the client refused
	Strangers uint64 // datagrams Recv dropped: from a new key with no room for it, or too large
	Client    ClientStats
}

// Stats returns the carrier's counters.
func (c *Carrier) Stats() CarrierStats {
	c.mu.Lock()
	n := len(c.byKey)
	c.mu.Unlock()
	return CarrierStats{Peers: n, Dropped: c.dropped.Load(), Strangers: c.strangers.Load(), Client: c.cl.Stats()}
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
