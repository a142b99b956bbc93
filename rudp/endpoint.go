package rudp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/carrier"
)

// An Endpoint serves connections on one socket: it dials, accepts, and
// finds each arriving packet's connection by the connection ID in its
// header, never by its source address, so a connection lives on when its
// peer's address changes.
type Endpoint struct {
	cfg       *config
	log       *slog.Logger
	carrier   carrier.Carrier // links[0]'s: the endpoint's address
	links     []*link         // every carrier, fixed when the endpoint is made
	responder *handshake.Responder
	accepting bool
	bufs      sync.Pool // *[]byte of cfg.recvBufSize(), for packets both ways

	// mu guards conns, pending, dials and closing.
	mu      sync.Mutex
	conns   map[uint64]*Conn // by our connection ID
	pending int              // responder connections not yet confirmed
	dials   map[dialKey]*dial
	closing bool

	acceptQ chan *Conn
	hsQ     chan inbound
	done    chan struct{} // closed by Close
	loops   sync.WaitGroup
	workers sync.WaitGroup

	counters endpointCounters
}

// endpointCounters count what the endpoint dropped, by reason: bad input
// from the network is counted, never answered or logged per packet.
type endpointCounters struct {
	unknownConn, malformed, queueFull, handshakeDropped, cookiesSent, handshakesAccepted atomic.Uint64
}

// EndpointStats are an endpoint's counters.
type EndpointStats struct {
	Connections        int    // open connections, including handshaking ones
	DroppedUnknownConn uint64 // packets for no connection of ours
	DroppedMalformed   uint64 // datagrams that are neither data nor handshake packets
	DroppedQueueFull   uint64 // packets dropped because a connection or the handshake worker fell behind
	HandshakesDropped  uint64 // initiations refused: bad mac1, authentication, replay, not allowed, limits
	CookiesSent        uint64 // cookie replies sent under load
	HandshakesAccepted uint64 // initiations answered with a response
}

// inbound is one received datagram on its way to a connection.
type inbound struct {
	buf  *[]byte
	n    int
	from netip.AddrPort
	link *link // the carrier it came by
}

func (in inbound) bytes() []byte { return (*in.buf)[:in.n] }

// NewEndpoint serves connections on pc, which it owns from now on: a UDP
// socket, or any other net.PacketConn (an in-memory test link, say).
// A *net.UDPConn gets batched system calls.
func NewEndpoint(pc net.PacketConn, cfg *Config) (*Endpoint, error) {
	var c carrier.Carrier
	if u, ok := pc.(*net.UDPConn); ok {
		c = carrier.NewUDP(u)
	} else {
		c = carrier.NewPacketConn(pc, carrier.MaxUDPPayload)
	}
	return newEndpoint([]carrier.Carrier{c}, cfg, true)
}

func listenUDP(network, address string) (*net.UDPConn, error) {
	ua, err := net.ResolveUDPAddr(network, address)
	if err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	conn, err := net.ListenUDP(network, ua)
	if err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	return conn, nil
}

// newEndpoint makes an endpoint on one carrier or more (the first gives
// the endpoint its address), which it owns from then on, also when it
// fails.
func newEndpoint(cars []carrier.Carrier, cfg *Config, accepting bool) (*Endpoint, error) {
	e, err := newEndpointOn(cars, cfg, accepting)
	if err != nil {
		for _, c := range cars {
			c.Close()
		}
	}
	return e, err
}

func newEndpointOn(cars []carrier.Carrier, cfg *Config, accepting bool) (*Endpoint, error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if len(cars) == 0 || len(cars) > maxLinks {
		return nil, fmt.Errorf("rudp: %d carriers for one endpoint, want 1 to %d", len(cars), maxLinks)
	}
	for _, c := range cars {
		if m := c.MaxDatagram(); rc.MaxDatagram > m {
			rc.MaxDatagram = m // a relay carries at most 2031 bytes
		}
	}
	e := &Endpoint{
		cfg:       rc,
		log:       rc.log(),
		carrier:   cars[0],
		accepting: accepting,
		conns:     map[uint64]*Conn{},
		dials:     map[dialKey]*dial{},
		acceptQ:   make(chan *Conn, rc.AcceptQueue),
		hsQ:       make(chan inbound, handshakeQueue),
		done:      make(chan struct{}),
	}
	size := rc.recvBufSize()
	e.bufs.New = func() any { b := make([]byte, size); return &b }
	e.responder, err = handshake.NewResponder(handshake.ResponderConfig{
		Identity: rc.Identity,
		Allow:    rc.Allow,
		Accept:   rc.Accept,
		Params:   rc.transportParams().encode(),
	})
	if err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	// The parameters must fit the initiator's message too; check now so
	// that a bad Config fails here and not at the first Dial.
	if _, err := handshake.NewInitiator(handshake.InitiatorConfig{Identity: rc.Identity, Peer: rc.Identity.Card(), Params: rc.transportParams().encode()}); err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	for i, c := range cars {
		l := &link{c: c, kind: kindOf(c), id: i}
		e.links = append(e.links, l)
		if t, ok := c.(*carrier.TCP); ok {
			t.OnBreak(func(addr netip.AddrPort) { e.pathBroke(l, addr) })
		}
		if u, ok := c.(*carrier.UDP); ok {
			gso, gro := u.Offload()
			e.log.Debug("rudp: endpoint", "addr", u.LocalAddr(), "gso", gso, "gro", gro)
			if w := u.BufferWarning(); w != "" {
				e.log.Warn("rudp: " + w) // once per socket
			}
		}
	}
	e.workers.Add(1 + len(e.links))
	for _, l := range e.links {
		go e.readLoop(l)
	}
	go e.handshakeLoop()
	return e, nil
}

// pathBroke hears from a TCP carrier that its connection to addr broke.
// The connections sending there send a PING at once: it dials a new TCP
// connection, and the peer, who cannot dial back, learns of it from the
// PING. Without it a connection with nothing to send, waiting on the
// peer's acknowledgments or window, would be cut off until its next
// keepalive.
func (e *Endpoint) pathBroke(l *link, addr netip.AddrPort) {
	e.mu.Lock()
	conns := make([]*Conn, 0, len(e.conns))
	for _, c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		c.post(func() {
			if c.state == stateOpen && c.active.link == l && c.active.addr == addr {
				c.ping = true
			}
		})
	}
}

// Identity returns the endpoint's identity.
func (e *Endpoint) Identity() *handshake.Identity { return e.cfg.Identity }

// Addr returns the endpoint's local address: its first path's (see
// Addrs).
func (e *Endpoint) Addr() net.Addr { return e.carrier.LocalAddr() }

// Addrs returns the local address of each of the endpoint's paths, in the
// order Listen and Dial make them: its UDP socket, its TCP listener (a
// *net.TCPAddr), and one *relay.Addr per relay.
func (e *Endpoint) Addrs() []net.Addr {
	as := make([]net.Addr, len(e.links))
	for i, l := range e.links {
		as[i] = l.c.LocalAddr()
	}
	return as
}

func (e *Endpoint) getBuf() *[]byte  { return e.bufs.Get().(*[]byte) }
func (e *Endpoint) putBuf(b *[]byte) { e.bufs.Put(b) }

// newConnID returns a random connection ID not in use; the caller holds
// e.mu. Random, so IDs say nothing about how many connections there are
// and cannot be guessed by an off-path attacker.
func (e *Endpoint) newConnID() uint64 {
	for {
		var b [8]byte
		rand.Read(b[:])
		id := binary.BigEndian.Uint64(b[:])
		if _, taken := e.conns[id]; !taken && id != 0 {
			return id
		}
	}
}

// readLoop reads datagrams from l in batches and hands each to its
// connection.
func (e *Endpoint) readLoop(l *link) {
	defer e.workers.Done()
	bufs := make([]*[]byte, batchSize)
	raw := make([][]byte, batchSize)
	sizes := make([]int, batchSize)
	addrs := make([]netip.AddrPort, batchSize)
	for i := range bufs {
		bufs[i] = e.getBuf()
		raw[i] = *bufs[i]
	}
	for {
		n, err := l.c.Recv(raw, sizes, addrs)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || e.isDone() {
				return
			}
			e.log.Debug("rudp: read error", "err", err)
			continue
		}
		for i := range n {
			if e.dispatch(inbound{buf: bufs[i], n: sizes[i], from: addrs[i], link: l}) {
				bufs[i] = e.getBuf()
				raw[i] = *bufs[i]
			}
		}
	}
}

func (e *Endpoint) isDone() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// dispatch routes one datagram; it reports whether it kept the buffer.
func (e *Endpoint) dispatch(in inbound) bool {
	b := in.bytes()
	if len(b) == 0 {
		e.counters.malformed.Add(1)
		return false
	}
	var id uint64
	switch {
	case b[0] == wire.PacketType:
		var ok bool
		if id, ok = wire.ConnID(b); !ok {
			e.counters.malformed.Add(1)
			return false
		}
	default:
		t, hid, ok := handshake.Peek(b)
		if !ok {
			e.counters.malformed.Add(1)
			return false
		}
		if t == handshake.TypeInitiation {
			if !e.accepting {
				e.counters.handshakeDropped.Add(1)
				return false
			}
			select {
			case e.hsQ <- in:
				return true
			default:
				e.counters.queueFull.Add(1)
				return false
			}
		}
		id = hid // a response or cookie reply for one of our dials
	}
	e.mu.Lock()
	c := e.conns[id]
	e.mu.Unlock()
	if c == nil {
		e.counters.unknownConn.Add(1)
		return false
	}
	if !c.in.push(in) {
		e.counters.queueFull.Add(1)
		return false
	}
	c.wakeLoop()
	return true
}

// Accept returns the next connection a peer established with this
// endpoint.
func (e *Endpoint) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-e.acceptQ:
		return c, nil
	case <-e.done:
		return nil, fmt.Errorf("rudp: accept: %w", net.ErrClosed)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() EndpointStats {
	e.mu.Lock()
	n := len(e.conns)
	e.mu.Unlock()
	return EndpointStats{
		Connections:        n,
		DroppedUnknownConn: e.counters.unknownConn.Load(),
		DroppedMalformed:   e.counters.malformed.Load(),
		DroppedQueueFull:   e.counters.queueFull.Load(),
		HandshakesDropped:  e.counters.handshakeDropped.Load(),
		CookiesSent:        e.counters.cookiesSent.Load(),
		HandshakesAccepted: e.counters.handshakesAccepted.Load(),
	}
}

// Close closes every connection (each peer is told, with
// CodeEndpointClosed) and then the socket.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil
	}
	e.closing = true
	conns := make([]*Conn, 0, len(e.conns))
	for _, c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	close(e.done)
	for _, c := range conns {
		c.wakeLoop() // a parked loop must see done too
	}
	e.loops.Wait()
	var err error
	for _, l := range e.links {
		if cerr := l.c.Close(); err == nil {
			err = cerr
		}
	}
	e.workers.Wait()
	for {
		select {
		case in := <-e.hsQ:
			e.putBuf(in.buf)
		default:
			return err
		}
	}
}

// Listener accepts connections on an endpoint of its own.
type Listener struct {
	e *Endpoint
}

// Accept returns the next connection.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) { return l.e.Accept(ctx) }

// Addr returns the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.e.Addr() }

// Endpoint returns the listener's endpoint, to dial from the same socket
// or read its counters.
func (l *Listener) Endpoint() *Endpoint { return l.e }

// Close closes the listener, its endpoint and every connection on it.
func (l *Listener) Close() error { return l.e.Close() }
