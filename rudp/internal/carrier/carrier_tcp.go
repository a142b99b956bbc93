package carrier

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// TCP is a Carrier over TCP connections: the direct TCP path, for networks
// that block UDP. Each datagram travels as one frame on a connection to
// its peer:
//
//	+----------------+---------------------------------+
//	| length (2, BE) | datagram (1 to 65535 bytes)     |
//	+----------------+---------------------------------+
//
// the framing of the Tox relay protocol without the relay's encryption:
// the engine's packets are sealed already, and a frame that was changed on
// the way fails their authentication like a changed UDP datagram.
//
// A TCP carrier that listens accepts connections from anyone and reads
// datagrams from each, their source being the connection's remote
// address; a datagram sent to an address goes on the connection from or
// to that address, and when there is none, on a new connection dialed to
// it (the datagrams wait in its queue while it connects), unless the
// address is that of an accepted connection that ended: it is the peer's
// ephemeral port, and the peer reconnects from a new one. So one carrier
// both accepts and dials, as a UDP socket both receives and sends.
//
// The carrier never blocks the engine: each connection has a queue of
// tcpQueue frames, and a datagram that finds it full is dropped, as a UDP
// socket drops what its buffer cannot take; the engine's loss recovery
// and congestion control slow down to what the connection carries. A
// connection that delivers nothing for tcpIdle is closed, and so is one
// that sends a frame of length 0 (the engine never sends an empty
// datagram, so the stream is not ours or out of step). Reliable reports
// true, so the engine adds no FEC on it.
type TCP struct {
	ln     net.Listener // nil: the carrier only dials
	local  net.Addr
	dialer net.Dialer
	ctx    context.Context // ends at Close: cancels dials
	cancel context.CancelFunc

	in     chan tcpDatagram
	bufs   sync.Pool // *[]byte of tcpBufSize
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu     sync.Mutex
	links  map[netip.AddrPort]*tcpLink
	failed map[netip.AddrPort]time.Time // when a dial to it last failed
	gone   map[netip.AddrPort]time.Time // when an accepted connection from it ended
	broke  func(netip.AddrPort)         // see OnBreak

	dropped, tooLong, refused atomic.Uint64
}

// Limits of the TCP carrier.
const (
	// MaxTCPDatagram is the largest datagram a frame carries.
	MaxTCPDatagram = 1<<16 - 1
	// tcpQueue is how many frames wait for one connection: about 1.5 MB
	// of full-size packets, more than a round trip of a fast path.
	tcpQueue = 1024
	// tcpIdle closes a connection that delivered nothing for this long:
	// far longer than any engine keepalive, short enough that connections
	// of peers that went away do not pile up.
	tcpIdle = 2 * time.Minute
	// tcpMaxLinks bounds the connections a listening carrier keeps: more
	// are closed as they are accepted.
	tcpMaxLinks = 4096
	// tcpRedial is how long after a failed dial Send fails at once for
	// that address rather than dialing again.
	tcpRedial = time.Second
	// tcpBufSize is the pooled frame buffer: a full-size packet and its
	// length; larger frames get a buffer of their own.
	tcpBufSize = 2048
	// tcpIOBuf is the size of each connection's read and write buffers.
	tcpIOBuf = 64 << 10
)

// ErrQueueFull is returned by TCP.Send when a connection's queue could
// not take every datagram; those were dropped.
var ErrQueueFull = errors.New("carrier: queue full, datagrams dropped")

type tcpDatagram struct {
	buf  *[]byte
	n    int
	from netip.AddrPort
}

// tcpLink is one TCP connection to a peer.
type tcpLink struct {
	addr     netip.AddrPort
	accepted bool         // the peer connected to us: its address is no place to dial
	out      chan *[]byte // frames: length and datagram
	done     chan struct{}
	once     sync.Once
	conn     net.Conn // set once connected; guarded by TCP.mu
}

func (l *tcpLink) close() {
	l.once.Do(func() { close(l.done) })
}

// ListenTCP listens on address ("host:port"; network "tcp", "tcp4" or
// "tcp6") and returns a carrier that accepts connections there and dials
// others.
func ListenTCP(network, address string) (*TCP, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	t := newTCP(ln, ln.Addr())
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// DialTCP returns a carrier that only dials: it accepts no connections.
func DialTCP() *TCP { return newTCP(nil, &net.TCPAddr{}) }

func newTCP(ln net.Listener, local net.Addr) *TCP {
	ctx, cancel := context.WithCancel(context.Background())
	t := &TCP{
		ln: ln, local: local, ctx: ctx, cancel: cancel,
		in:     make(chan tcpDatagram, tcpQueue),
		closed: make(chan struct{}),
		links:  map[netip.AddrPort]*tcpLink{},
		failed: map[netip.AddrPort]time.Time{},
		gone:   map[netip.AddrPort]time.Time{},
	}
	t.bufs.New = func() any { b := make([]byte, tcpBufSize); return &b }
	return t
}

// buf returns a buffer of n bytes: pooled when it fits.
func (t *TCP) buf(n int) *[]byte {
	if n > tcpBufSize {
		b := make([]byte, n)
		return &b
	}
	b := t.bufs.Get().(*[]byte)
	*b = (*b)[:n]
	return b
}

func (t *TCP) put(b *[]byte) {
	if cap(*b) == tcpBufSize {
		*b = (*b)[:tcpBufSize]
		t.bufs.Put(b)
	}
}

// Recv implements Carrier. A datagram longer than its buffer is dropped
// (counted in Stats), never cut short.
func (t *TCP) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	n := 0
	for n == 0 {
		var d tcpDatagram
		select {
		case d = <-t.in:
		case <-t.closed:
			return 0, net.ErrClosed
		}
		for {
			if d.n <= len(bufs[n]) {
				sizes[n] = copy(bufs[n], (*d.buf)[:d.n])
				addrs[n] = d.from
				n++
			} else {
				t.tooLong.Add(1)
			}
			t.put(d.buf)
			if n == len(bufs) {
				return n, nil
			}
			select {
			case d = <-t.in:
				continue
			default:
			}
			break
		}
	}
	return n, nil
}

// Send implements Carrier: the datagrams go on the connection to addr,
// which is dialed if there is none. It returns ErrQueueFull when some
// were dropped, or why the connection cannot be had.
func (t *TCP) Send(bufs [][]byte, addr netip.AddrPort) error {
	l, err := t.link(addr)
	if err != nil {
		t.dropped.Add(uint64(len(bufs)))
		return err
	}
	full := false
	for _, b := range bufs {
		if len(b) == 0 || len(b) > MaxTCPDatagram {
			t.dropped.Add(1)
			continue
		}
		f := t.buf(2 + len(b))
		binary.BigEndian.PutUint16(*f, uint16(len(b)))
		copy((*f)[2:], b)
		select {
		case l.out <- f:
		default:
			t.put(f)
			t.dropped.Add(1)
			full = true
		}
	}
	if full {
		return ErrQueueFull
	}
	return nil
}

// link returns the connection to addr, starting a dial when there is none.
func (t *TCP) link(addr netip.AddrPort) (*tcpLink, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.closed:
		return nil, net.ErrClosed
	default:
	}
	if l := t.links[addr]; l != nil {
		select {
		case <-l.done:
			// Ending: what went into its queue now would be lost.
			delete(t.links, addr)
			if l.accepted {
				t.forget(addr)
				return nil, fmt.Errorf("carrier: tcp %s: the peer's connection closed", addr)
			}
		default:
			return l, nil
		}
	}
	if at, ok := t.gone[addr]; ok && time.Since(at) < tcpIdle {
		// A peer's own connection, from an ephemeral port: dialing
		// it back would reach nobody. The peer reconnects.
		return nil, fmt.Errorf("carrier: tcp %s: the peer's connection closed", addr)
	}
	if at, ok := t.failed[addr]; ok && time.Since(at) < tcpRedial {
		return nil, fmt.Errorf("carrier: tcp %s: the last dial failed %v ago", addr, time.Since(at).Round(time.Millisecond))
	}
	l := &tcpLink{addr: addr, out: make(chan *[]byte, tcpQueue), done: make(chan struct{})}
	t.links[addr] = l
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		conn, err := t.dialer.DialContext(t.ctx, "tcp", addr.String())
		if err != nil {
			t.mu.Lock()
			t.failed[addr] = time.Now()
			t.mu.Unlock()
			t.drop(l)
			return
		}
		t.mu.Lock()
		delete(t.failed, addr)
		t.mu.Unlock()
		t.run(l, conn)
	}()
	return l, nil
}

// acceptLoop accepts connections until Close.
func (t *TCP) acceptLoop() {
	defer t.wg.Done()
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.closed:
				return
			default:
			}
			// Out of descriptors and the like: wait a little rather
			// than spin, as net/http does.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		addr := AddrPort(conn.RemoteAddr())
		l := &tcpLink{addr: addr, accepted: true, out: make(chan *[]byte, tcpQueue), done: make(chan struct{})}
		t.mu.Lock()
		if len(t.links) >= tcpMaxLinks || !addr.IsValid() {
			t.mu.Unlock()
			t.refused.Add(1)
			conn.Close()
			continue
		}
		if old := t.links[addr]; old != nil {
			old.close() // the peer reconnected from the same port
		}
		delete(t.gone, addr)
		t.links[addr] = l
		t.wg.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.wg.Done()
			t.run(l, conn)
		}()
	}
}

// run serves a connected link: it writes its queue and reads its frames
// until either fails, the link is replaced or the carrier closes.
func (t *TCP) run(l *tcpLink, conn net.Conn) {
	t.mu.Lock()
	l.conn = conn
	t.mu.Unlock()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		t.read(l, conn)
		l.close()
	}()
	t.write(l, conn)
	l.close()
	conn.Close() // ends the reader
	<-readDone
	t.drop(l)
}

// write sends l's queued frames, a buffer's worth per system call.
func (t *TCP) write(l *tcpLink, conn net.Conn) {
	w := bufio.NewWriterSize(conn, tcpIOBuf)
	for {
		var f *[]byte
		select {
		case f = <-l.out:
		case <-l.done:
			return
		case <-t.closed:
			return
		}
		for f != nil {
			_, err := w.Write(*f)
			t.put(f)
			if err != nil {
				return
			}
			select {
			case f = <-l.out:
			default:
				f = nil
			}
		}
		if w.Flush() != nil {
			return
		}
	}
}

// read reads frames from conn and queues them for Recv, until the
// connection fails, idles for tcpIdle or breaks the framing.
func (t *TCP) read(l *tcpLink, conn net.Conn) {
	r := bufio.NewReaderSize(conn, tcpIOBuf)
	var hdr [2]byte
	for {
		conn.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			return // not a stream of our frames
		}
		b := t.buf(n)
		if _, err := io.ReadFull(r, *b); err != nil {
			t.put(b)
			return
		}
		select {
		case t.in <- tcpDatagram{buf: b, n: n, from: l.addr}:
		case <-l.done:
			t.put(b)
			return
		case <-t.closed:
			t.put(b)
			return
		}
	}
}

// OnBreak sets f to be called, on a goroutine of the carrier, when a
// connection this carrier dialed breaks: the engine then sends to the
// address again soon, which dials a new connection, so that the peer (who
// cannot dial back) hears from it on the new one.
func (t *TCP) OnBreak(f func(netip.AddrPort)) {
	t.mu.Lock()
	t.broke = f
	t.mu.Unlock()
}

// drop forgets a link that ended and returns its queued frames.
func (t *TCP) drop(l *tcpLink) {
	l.close()
	var broke func(netip.AddrPort)
	t.mu.Lock()
	if t.links[l.addr] == l {
		delete(t.links, l.addr)
		if l.accepted {
			t.forget(l.addr)
		}
	}
	select {
	case <-t.closed:
	default:
		if !l.accepted && l.conn != nil {
			broke = t.broke
		}
	}
	t.mu.Unlock()
	if broke != nil {
		broke(l.addr)
	}
	for {
		select {
		case f := <-l.out:
			t.put(f)
			t.dropped.Add(1)
		default:
			return
		}
	}
}

// forget records that the accepted connection from addr ended, pruning
// records older than tcpIdle so that they stay as few as the links.
// t.mu is held.
func (t *TCP) forget(addr netip.AddrPort) {
	if len(t.gone) >= tcpMaxLinks {
		for a, at := range t.gone {
			if time.Since(at) >= tcpIdle {
				delete(t.gone, a)
			}
		}
	}
	if len(t.gone) < 2*tcpMaxLinks {
		t.gone[addr] = time.Now()
	}
}

// MaxDatagram implements Carrier.
func (t *TCP) MaxDatagram() int { return MaxTCPDatagram }

// Reliable implements Carrier: TCP neither loses nor reorders what it
// accepted (the queue may still drop, which the engine recovers from).
func (t *TCP) Reliable() bool { return true }

// LocalAddr implements Carrier: the listening address, or an unspecified
// TCP address for a carrier that only dials.
func (t *TCP) LocalAddr() net.Addr { return t.local }

// TCPStats counts what a TCP carrier dropped.
type TCPStats struct {
	Links    int    // connections open or being dialed
	Dropped  uint64 // datagrams sent into a full queue, a failed dial or a closed connection
	TooLong  uint64 // datagrams received that did not fit the receive buffer
	Refused  uint64 // connections closed as accepted: tcpMaxLinks reached
	Accepted bool   // whether the carrier listens
}

// Stats returns the carrier's counters.
func (t *TCP) Stats() TCPStats {
	t.mu.Lock()
	n := len(t.links)
	t.mu.Unlock()
	return TCPStats{Links: n, Dropped: t.dropped.Load(), TooLong: t.tooLong.Load(), Refused: t.refused.Load(), Accepted: t.ln != nil}
}

// Close implements Carrier: it closes the listener and every connection
// and waits for their goroutines.
func (t *TCP) Close() error {
	var err error
	t.once.Do(func() {
		t.mu.Lock()
		close(t.closed)
		for _, l := range t.links {
			l.close()
			if l.conn != nil {
				l.conn.Close()
			}
		}
		t.mu.Unlock()
		t.cancel()
		if t.ln != nil {
			err = t.ln.Close()
		}
		t.wg.Wait()
	})
	return err
}
