package linkemu

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// MemConfig describes an in-memory link for [MemPair]. The zero MemConfig
// is a perfect link with the default MTU and inbox.
type MemConfig struct {
	AB Spec // the A->B direction
	BA Spec // the B->A direction
	// Seed seeds both directions' models (each differently), so
	// a run is repeatable; under testing/synctest it is bit for bit.
	Seed uint64
	// MTU is the largest datagram the path carries: a larger one is
	// dropped silently and counted in Stats.MTUDrops, as a path MTU
	// smaller than the packet would (no fragmentation here). 0 means
	// DefaultMTU.
	MTU int
	// Inbox is how many datagrams a receiver holds before it drops new
	// ones (counted in the sender's Stats.InboxDrops), like SO_RCVBUF
	// overflow. 0 means DefaultInbox.
	Inbox int
}

// DefaultMTU is the largest datagram by default: an IPv4 packet's total
// length field cannot say more than 65535.
const DefaultMTU = 65535

// DefaultInbox is the receiver's default queue in datagrams. It is the
// research prototype's (research/linkemu.md, section 3), and of the order
// of a 4 MiB SO_RCVBUF (this machine's rmem_max) full of ~1400-byte
// datagrams with the kernel's per-skb overhead.
const DefaultInbox = 4096

// The two ends' addresses. They are fixed so that runs are repeatable and
// logs comparable; 10.99.0.0/24 is private (RFC 1918) and not the TUN
// backend's 10.77.0.0/24.
var (
	addrA = netip.MustParseAddrPort("10.99.0.1:4000")
	addrB = netip.MustParseAddrPort("10.99.0.2:4000")
)

// MemPair returns the two ends of an in-memory point-to-point link: A at
// 10.99.0.1:4000 and B at 10.99.0.2:4000. Datagrams from A to B go through
// a Model of cfg.AB (the very model NewModel(cfg.AB, cfg.Seed) would be, so
// a test can predict every fate), the other way through one of cfg.BA
// seeded differently. The error comes from validating cfg and names the
// wrong field.
//
// The pair starts no goroutine; a datagram in flight is delivered by a
// time.AfterFunc timer. Created inside a testing/synctest bubble, it runs
// on the bubble's virtual clock: delays are exact and runs repeatable, and
// once both ends are closed nothing of it remains pending.
func MemPair(cfg MemConfig) (a, b *MemConn, err error) {
	if err := cfg.AB.check("MemConfig.AB."); err != nil {
		return nil, nil, fmt.Errorf("linkemu: %w", err)
	}
	if err := cfg.BA.check("MemConfig.BA."); err != nil {
		return nil, nil, fmt.Errorf("linkemu: %w", err)
	}
	if cfg.MTU < 0 {
		return nil, nil, fmt.Errorf("linkemu: MemConfig.MTU = %d: must not be negative (0 is %d)", cfg.MTU, DefaultMTU)
	}
	if cfg.Inbox < 0 {
		return nil, nil, fmt.Errorf("linkemu: MemConfig.Inbox = %d: must not be negative (0 is %d)", cfg.Inbox, DefaultInbox)
	}
	mtu := cmp.Or(cfg.MTU, DefaultMTU)
	inbox := cmp.Or(cfg.Inbox, DefaultInbox)
	a = newMemConn(addrA, addrB, inbox)
	b = newMemConn(addrB, addrA, inbox)
	// The two directions start the PCG from different second state words
	// (any two distinct constants do): the same seed must not make them
	// lose the same packet numbers.
	ab := &memLink{model: newModel(cfg.AB, cfg.Seed, pcgLow), mtu: mtu, dst: b}
	ba := &memLink{model: newModel(cfg.BA, cfg.Seed, pcgLow+2), mtu: mtu, dst: a}
	a.out, a.in = ab, ba
	b.out, b.in = ba, ab
	return a, b, nil
}

// MemConn is one end of a [MemPair]: a net.PacketConn whose peer is the
// other end. WriteTo copies the datagram and never blocks; ReadFrom blocks
// until a datagram arrives, the read deadline passes or the end is closed.
// It is safe for concurrent use.
//
// mu guards the inbox, closed, the deadlines and rtimer; cond (on mu) wakes
// readers. A blocked reader waits in cond.Wait, which testing/synctest
// counts as durably blocked, and never holds mu while it waits.
type MemConn struct {
	local, peer *net.UDPAddr
	peerAP      netip.AddrPort
	out, in     *memLink // to the peer, from the peer

	mu        sync.Mutex
	cond      sync.Cond
	inbox     ring
	limit     int // inbox capacity in datagrams
	closed    bool
	rdeadline time.Time
	wdeadline time.Time
	rtimer    *time.Timer // wakes readers at rdeadline
}

func newMemConn(local, peer netip.AddrPort, limit int) *MemConn {
	c := &MemConn{
		local:  net.UDPAddrFromAddrPort(local),
		peer:   net.UDPAddrFromAddrPort(peer),
		peerAP: peer,
		limit:  limit,
	}
	c.cond.L = &c.mu
	return c
}

// ReadFrom waits for the next datagram and copies it into p. A datagram
// longer than p is truncated to len(p), and n is len(p), as with UDP. addr
// is always the peer's address, the same *net.UDPAddr every time: do not
// modify it. The error is a *net.OpError that wraps net.ErrClosed once the
// end is closed, or os.ErrDeadlineExceeded (a net.Error whose Timeout is
// true) once the read deadline has passed, checked before the inbox, as the
// net package does.
func (c *MemConn) ReadFrom(p []byte) (n int, addr net.Addr, err error) {
	c.mu.Lock()
	for {
		if c.closed {
			c.mu.Unlock()
			return 0, nil, c.opError("read", nil, net.ErrClosed)
		}
		if !c.rdeadline.IsZero() && !time.Now().Before(c.rdeadline) {
			c.mu.Unlock()
			return 0, nil, c.opError("read", nil, os.ErrDeadlineExceeded)
		}
		if pk := c.inbox.pop(); pk != nil {
			c.mu.Unlock()
			n = copy(p, pk.data)
			pk.free()
			return n, c.peer, nil
		}
		c.cond.Wait()
	}
}

// WriteTo sends p to the peer through the link's model and returns
// len(p): loss, an MTU drop or a full inbox are the link's, reported in
// Stats, never as errors. It copies p, so the caller may reuse it at once,
// and it never blocks. addr must be the peer's address (any net.Addr whose
// string is "10.99.0.x:4000", IPv4-mapped forms included): the pair is
// point-to-point, and an error for another address finds a wrong reply
// address in the code under test sooner than silent loss would. It fails
// once the end is closed (net.ErrClosed) or its write deadline has passed
// (os.ErrDeadlineExceeded).
func (c *MemConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if err := c.checkPeer(addr); err != nil {
		return 0, c.opError("write", addr, err)
	}
	c.mu.Lock()
	closed, deadline := c.closed, c.wdeadline
	c.mu.Unlock()
	if closed {
		return 0, c.opError("write", addr, net.ErrClosed)
	}
	now := time.Now()
	if !deadline.IsZero() && !now.Before(deadline) {
		return 0, c.opError("write", addr, os.ErrDeadlineExceeded)
	}
	c.out.send(p, now)
	return len(p), nil
}

// errNoRoute is WriteTo's error for an address other than the peer's.
var errNoRoute = errors.New("linkemu: no route: the in-memory pair reaches only its peer")

// checkPeer accepts addr if it names the peer.
func (c *MemConn) checkPeer(addr net.Addr) error {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case nil:
		return errors.New("linkemu: missing address")
	case *net.UDPAddr:
		if a == nil {
			return errors.New("linkemu: missing address")
		}
		ap = a.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return errNoRoute
		}
	}
	if netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) != c.peerAP {
		return errNoRoute
	}
	return nil
}

// opError wraps err as the net package does, so callers can use
// errors.Is(err, net.ErrClosed) and net.Error's Timeout.
func (c *MemConn) opError(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.local, Addr: addr, Err: err}
}

// Close closes this end: blocked and later reads and writes fail with
// net.ErrClosed, its inbox and the datagrams still in flight to it are
// discarded (counted in the peer's Stats.ClosedDrops), and its timers are
// stopped. Datagrams it sent before are still delivered to the peer, as a
// real network would. Close is idempotent and always returns nil.
func (c *MemConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for pk := c.inbox.pop(); pk != nil; pk = c.inbox.pop() {
		pk.free()
	}
	if c.rtimer != nil {
		c.rtimer.Stop()
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	c.in.discard() // after mu: a link's lock comes before a conn's
	return nil
}

// deliver puts pk in the inbox and wakes a reader, or frees it and
// returns false if the inbox is full or the end closed.
// deliver puts pk in the inbox; it reports false, and whether because the
// receiver is closed, when it could not.
func (c *MemConn) deliver(pk *packet) (ok, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.inbox.len() >= c.limit {
		pk.free()
		return false, c.closed
	}
	c.inbox.push(pk)
	// One datagram is one read: wake one reader. A reader that wakes to
	// find the datagram taken by another waits again.
	c.cond.Signal()
	return true, false
}

func (c *MemConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// LocalAddr returns this end's address, a *net.UDPAddr.
func (c *MemConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address, a *net.UDPAddr: the one address
// WriteTo accepts.
func (c *MemConn) RemoteAddr() net.Addr { return c.peer }

// SetDeadline sets both the read and the write deadline.
func (c *MemConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets when blocked and later reads fail with
// os.ErrDeadlineExceeded; the zero time means never. A timer wakes blocked
// readers at t, so under testing/synctest they return exactly then.
func (c *MemConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.rdeadline = t
	if c.rtimer != nil {
		c.rtimer.Stop()
	}
	if !t.IsZero() {
		if d := time.Until(t); d > 0 {
			if c.rtimer == nil {
				c.rtimer = time.AfterFunc(d, c.wakeReaders)
			} else {
				c.rtimer.Reset(d)
			}
		}
	}
	// Readers re-check: a deadline in the past fails them now, a later
	// one sends them back to wait.
	c.cond.Broadcast()
	return nil
}

// wakeReaders is the read deadline timer's function.
func (c *MemConn) wakeReaders() {
	c.mu.Lock()
	c.cond.Broadcast()
	c.mu.Unlock()
}

// SetWriteDeadline sets when later writes fail with
// os.ErrDeadlineExceeded; the zero time means never. WriteTo never blocks,
// so the deadline only matters once it has passed.
func (c *MemConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.wdeadline = t
	return nil
}

// SetSpec changes the impairment of this end's outgoing direction for
// datagrams sent from now on (see [Model.SetSpec]): a blackhole is
// Spec{Loss: 1}, and the old Spec restores the link. Datagrams already in
// flight keep their fates. It panics if s is invalid.
func (c *MemConn) SetSpec(s Spec) { c.out.setSpec(s) }

// Stats returns the counters of this end's outgoing direction, the drop
// counters (MTUDrops, InboxDrops, ClosedDrops) included.
func (c *MemConn) Stats() Stats { return c.out.stats() }

// ring is a FIFO of packets. It grows by doubling when full (deliver keeps
// it within the inbox limit) and then reuses its slots.
type ring struct {
	buf  []*packet
	head int
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) push(pk *packet) {
	if r.n == len(r.buf) {
		grown := make([]*packet, max(2*len(r.buf), 16))
		for i := range r.n {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = pk
	r.n++
}

func (r *ring) pop() *packet {
	if r.n == 0 {
		return nil
	}
	pk := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return pk
}
