package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ClientConfig configures a Client. A nil *ClientConfig, and every zero
// field, mean the default.
type ClientConfig struct {
	// Key is the key pair the client announces: the key other clients
	// route to and OOB packets are addressed to. Zero: a fresh one.
	Key KeyPair
	// QueueBytes bounds the Data and OOB bytes waiting to be sent; past it
	// the oldest are dropped. Default DefaultQueueBytes.
	QueueBytes int
	// RecvQueue bounds the events waiting for Recv; past it, Data and OOB
	// packets are dropped. Default DefaultRecvQueue.
	RecvQueue int
	// HandshakeTimeout bounds the handshake when the context given to Dial
	// or NewClient has no earlier deadline. Default
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PingInterval and PingTimeout: see the defaults of the same names.
	PingInterval, PingTimeout time.Duration
}

// A Client is one connection to a Tox TCP relay: it routes to peers by
// their public keys and exchanges Data with those that route back, and
// OOB packets with any client of the relay. It is strict: it never sends
// what toxcore or tox-rs would refuse (ping id 0, empty Data, Data on a
// link that is not online, OOB data over 1024 bytes), and closes the
// connection on anything malformed from the relay.
//
// Sends never block: packets wait in a bounded queue and the oldest are
// dropped when it is full, since recovering from loss is the job of
// whatever runs over the relay. Received packets and link changes come out
// of Recv, in batches. Methods are safe for concurrent use, except Recv,
// which one goroutine calls.
type Client struct {
	cfg   ClientConfig
	key   KeyPair
	relay PublicKey
	fc    *frameConn
	cnt   counters
	png   pinger
	wg    sync.WaitGroup // reader and writer goroutines

	mu        sync.Mutex // guards links, byPeer, requested
	links     [NumLinks]clientLink
	byPeer    map[PublicKey]int  // link index of every registered or online peer
	requested map[PublicKey]bool // route requests unanswered; false: unrouted meanwhile

	in inbox

	pingsAnswered, ignored atomic.Uint64
}

type clientLink struct {
	state linkState // linkFree, linkRegistered or linkOnline
	peer  PublicKey
}

// ErrNotConnected is returned by Send for a peer whose link is not online:
// not routed, not yet routed back, or gone.
var ErrNotConnected = errors.New("relay: peer not connected through this relay")

// Dial connects to the relay at addr ("host:port") whose long-term public
// key is relay, and runs the handshake. ctx bounds the dial and the
// handshake.
func Dial(ctx context.Context, addr string, relay PublicKey, cfg *ClientConfig) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("relay: dial %s: %w", addr, err)
	}
	return NewClient(ctx, nc, relay, cfg)
}

// NewClient runs the handshake over nc, a connection to the relay whose
// long-term public key is relay, and returns the client, which owns nc
// from then on (on error, NewClient closes it). ctx bounds the handshake.
// The client's first packet is a ping, as toxcore's is.
func NewClient(ctx context.Context, nc net.Conn, relay PublicKey, cfg *ClientConfig) (*Client, error) {
	cc := ClientConfig{}
	if cfg != nil {
		cc = *cfg
	}
	if err := cc.Key.orFresh(); err != nil {
		nc.Close()
		return nil, err
	}
	cc.QueueBytes = max(orDefault(cc.QueueBytes, DefaultQueueBytes), MaxPlaintext)
	cc.RecvQueue = orDefault(cc.RecvQueue, DefaultRecvQueue)
	cc.HandshakeTimeout = orDefault(cc.HandshakeTimeout, DefaultHandshakeTimeout)
	cc.PingInterval = orDefault(cc.PingInterval, DefaultPingInterval)
	cc.PingTimeout = orDefault(cc.PingTimeout, DefaultPingTimeout)

	sess, br, err := clientHandshake(ctx, nc, cc, relay)
	if err != nil {
		nc.Close()
		return nil, err
	}
	cl := &Client{
		cfg: cc, key: cc.Key, relay: relay,
		byPeer:    make(map[PublicKey]int),
		requested: make(map[PublicKey]bool),
	}
	cl.in.init(cc.RecvQueue)
	cl.fc = newFrameConn(nc, br, sess, newSendQueue(DefaultMaxPriority, cc.QueueBytes, true), &cl.cnt)
	cl.png = pinger{
		interval: cc.PingInterval,
		timeout:  cc.PingTimeout,
		send:     func(id PingID) bool { return cl.sendControl(TypePingRequest, id[:]) == nil },
		expire:   func() { cl.fc.close(errors.New("relay: no pong within the ping timeout")) },
	}
	cl.png.start(true) // queued before anything else can be
	cl.wg.Add(2)
	go func() {
		defer cl.wg.Done()
		cl.fc.writeLoop()
	}()
	go func() {
		defer cl.wg.Done()
		cl.readLoop()
	}()
	return cl, nil
}

// clientHandshake sends the client hello and reads the server's reply,
// within the earlier of ctx's deadline and cfg.HandshakeTimeout.
func clientHandshake(ctx context.Context, nc net.Conn, cfg ClientConfig, relay PublicKey) (*Session, *bufio.Reader, error) {
	deadline := time.Now().Add(cfg.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	h, hello, err := NewClientHandshake(cfg.Key, relay, rand.Reader)
	if err != nil {
		stop()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, readBufferSize)
	var reply [ServerHelloSize]byte
	if _, err = nc.Write(hello); err == nil {
		_, err = io.ReadFull(br, reply[:])
	}
	if !stop() {
		return nil, nil, fmt.Errorf("relay: handshake with %s: %w", nc.RemoteAddr(), ctx.Err())
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// A toxcore relay closes without a word on a hello it cannot
			// open: the likeliest cause is the wrong relay key.
			return nil, nil, fmt.Errorf("relay: handshake with %s: the relay closed the connection (wrong relay key?): %w", nc.RemoteAddr(), err)
		}
		return nil, nil, fmt.Errorf("relay: handshake with %s: %w", nc.RemoteAddr(), err)
	}
	sess, err := h.Finish(reply[:])
	if err != nil {
		return nil, nil, fmt.Errorf("relay: handshake with %s: %w", nc.RemoteAddr(), err)
	}
	nc.SetDeadline(time.Time{})
	return sess, br, nil
}

// PublicKey returns the key the client announced to the relay.
func (c *Client) PublicKey() PublicKey { return c.key.Public }

// RelayKey returns the relay's long-term public key.
func (c *Client) RelayKey() PublicKey { return c.relay }

// LocalAddr and RemoteAddr return the TCP connection's addresses.
func (c *Client) LocalAddr() net.Addr { return c.fc.nc.LocalAddr() }

// RemoteAddr returns the relay's TCP address.
func (c *Client) RemoteAddr() net.Addr { return c.fc.nc.RemoteAddr() }

// errClientClosed is the cause of a connection closed by Close.
var errClientClosed = errors.New("relay: client closed")

// Close closes the connection to the relay and waits for the client's
// goroutines. A blocked Recv returns. It returns nil, also when called
// again.
func (c *Client) Close() error {
	c.png.stop()
	c.fc.close(errClientClosed)
	c.wg.Wait()
	return nil
}

// Flush waits until every packet queued so far has been written to the
// connection to the relay, or ctx ends, or the connection does. Close
// after Flush so that the last packets (a goodbye) leave.
func (c *Client) Flush(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !c.fc.q.idle() {
		select {
		case <-t.C:
		case <-c.fc.done:
			return c.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Done is closed when the connection to the relay has ended, by Close or
// otherwise.
func (c *Client) Done() <-chan struct{} { return c.fc.done }

// Err returns nil while the connection is up, and then why it ended, as
// an error that wraps net.ErrClosed (and the cause).
func (c *Client) Err() error {
	if !c.fc.closed() {
		return nil
	}
	return closedError(c.fc.cause)
}

// closedError is the error of a client whose connection ended for cause.
func closedError(cause error) error {
	if cause == errClientClosed {
		return fmt.Errorf("relay: client closed: %w", net.ErrClosed)
	}
	return &connClosedError{cause}
}

// connClosedError says why the connection to the relay ended; it wraps
// net.ErrClosed and the cause.
type connClosedError struct{ cause error }

func (e *connClosedError) Error() string {
	return "relay: connection to the relay ended: " + strings.TrimPrefix(e.cause.Error(), "relay: ")
}

func (e *connClosedError) Unwrap() []error { return []error{net.ErrClosed, e.cause} }

// ClientStats are a client's counters.
type ClientStats struct {
	FramesIn, FramesOut uint64 // encrypted frames
	BytesIn, BytesOut   uint64 // their bytes, length fields included

	PingsSent     uint64        // pings sent to the relay
	Pongs         uint64        // their pongs
	RTT           time.Duration // of the last ping answered; 0 before one is
	PingsAnswered uint64        // pings from the relay answered

	SendDrops uint64 // queued Data and OOB packets dropped, oldest first, because the queue was full
	RecvDrops uint64 // received Data and OOB packets dropped because Recv did not keep up
	Ignored   uint64 // packets from the relay that matched nothing (an unknown link, an unmatched pong)
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	sent, pongs, rtt := c.png.stats()
	return ClientStats{
		FramesIn: c.cnt.framesIn.Load(), FramesOut: c.cnt.framesOut.Load(),
		BytesIn: c.cnt.bytesIn.Load(), BytesOut: c.cnt.bytesOut.Load(),
		PingsSent: sent, Pongs: pongs, RTT: rtt, PingsAnswered: c.pingsAnswered.Load(),
		SendDrops: c.fc.q.drops.Load(), RecvDrops: c.in.drops.Load(), Ignored: c.ignored.Load(),
	}
}
