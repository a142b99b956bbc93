package rudp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/rudp/internal/ack"
	"github.com/pydevts/pydevts/rudp/internal/cc"
	"github.com/pydevts/pydevts/stream"
)

// A Conn is one encrypted connection to a peer: it carries any number of
// streams and messages. Its methods are safe for concurrent use.
//
// One goroutine at a time, the connection's loop, owns all its protocol
// state: packets, timers, user requests and wake-ups are queued for it and
// it takes them in turn, so nothing of it needs a lock. Streams and
// messages keep their own locks, shared with the users reading and
// writing them. A connection with nothing due for a while parks its loop:
// the goroutine ends, and a timer or any arriving work starts a new one.
// An idle connection then costs its state and a timer, no goroutine.
type Conn struct {
	e         *Endpoint
	cfg       *config
	log       *slog.Logger
	initiator bool
	localID   uint64

	// Set before established is closed, read-only afterwards.
	peerID      uint64
	peer        handshake.Card
	sess        *handshake.Session
	streams     *stream.Map
	msgs        *message.Set
	idleTimeout time.Duration
	maxSend     int // size of the packets we send (path MTU discovery raises it)
	pmtu        pmtuState
	suite       handshake.Suite

	established  chan struct{} // closed when the handshake completes
	closed       chan struct{} // closed when the connection stops being open
	done         chan struct{} // closed when the loop has ended
	err          error         // why it ended; written before closed is closed
	ownsEndpoint atomic.Bool   // a Dial's private endpoint closes with it

	in        inQueue
	wake      chan struct{} // datagrams or ops queued, or something to send
	loopState atomic.Int32  // loopNew, loopParked, loopRunning or loopEnded
	opsMu     sync.Mutex
	ops       []func() // run on the loop: user requests that read its state
	parkTimer *time.Timer

	// Loop-owned from here on.
	state      connState
	remote     netip.AddrPort // the active path's address
	paths      []*path        // every way to the peer; see conn_path.go
	peerPath   *path          // the path the peer's newest packet came by
	pathSeq    uint8          // the next path's id, unless taken
	active     *path          // the one traffic goes on
	losingPath bool           // the active path's packets are being given up: not congestion
	ini        *handshake.Initiator
	hsSent     time.Time // when the latest initiation left
	hsNext     time.Time // when to send the next one
	hsRetry    time.Duration
	hsDeadline time.Time
	born       time.Time
	confirmed  bool // a packet from the peer has authenticated

	sender          ack.Sender
	receiver        ack.Receiver
	cc              cc.Algorithm
	pacer           cc.Pacer
	sampler         cc.RateSampler
	ccEvent         ccEvent     // what the packets handled since the last report acknowledged and lost
	newestAckedSent time.Time   // send time of the newest packet ever acknowledged
	ackedSent       []time.Time // send times of the packets the event being gathered acknowledged
	fec             fecState
	nextPN          uint64
	largestPN       uint64 // largest packet number received, for address changes
	lastRecv        time.Time
	lastSent        time.Time // last ack-eliciting packet sent
	probes          int       // probe packets owed after a PTO
	ping            bool      // a PING is wanted (keepalive, confirmation)
	graceful        bool      // Close was called: close once everything is acknowledged
	// peerClosedUnacked: the peer closed while data or messages it had
	// not acknowledged were still ours to deliver.
	peerClosedUnacked bool
	streamsFirst      bool          // which of streams and messages fills the next packet first
	pacingWait        time.Duration // the pacer holds data back this long
	frame             wire.Frame    // reused for parsing
	final             Stats         // the stats when the loop ended
	closingUntil      time.Time
	lastClose         time.Time // when the CLOSE was last sent
	closeCode         uint64
	closeReason       string
	now               time.Time // the loop's current time, for the ack handler
	stats             connCounters
	inBatch           []inbound // the loop's side of in
	outBufs           []*[]byte
	outRaw            [][]byte
	timer             *time.Timer
}

type connState uint8

const (
	stateHandshake connState = iota // dialing: initiations out, no response yet
	stateOpen                       // established
	stateClosing                    // we closed: answer the peer with CLOSE for a while
	stateEnded
)

// newConn makes a connection that reaches the peer at each of paths (at
// least one); the first is the active one until the peer answers.
func newConn(e *Endpoint, initiator bool, id uint64, paths []pathAddr) (*Conn, error) {
	now := time.Now()
	c := &Conn{
		e:           e,
		cfg:         e.cfg,
		log:         e.log,
		initiator:   initiator,
		localID:     id,
		established: make(chan struct{}),
		closed:      make(chan struct{}),
		done:        make(chan struct{}),
		wake:        make(chan struct{}, 1),
		remote:      paths[0].addr,
		born:        now,
		lastRecv:    now,
		hsRetry:     handshakeRetry,
		hsDeadline:  now.Add(e.cfg.HandshakeTimeout),
	}
	for _, a := range paths {
		c.addPath(a).valid = true // ours: the user's addresses, or the initiation's
	}
	c.active = c.paths[0]
	c.sender.MaxAckDelay = maxAckDelay
	c.receiver.MaxAckDelay = maxAckDelay
	c.receiver.AckEvery = ackEveryStart
	return c, nil
}

// Loop states. A parked loop has no goroutine; wakeLoop starts one. A new
// connection's loop is started by start alone, once it is set up.
const (
	loopNew int32 = iota
	loopParked
	loopRunning
	loopEnded
)

// start starts the connection's loop for the first time.
func (c *Conn) start() {
	c.loopState.Store(loopRunning)
	go c.run()
}

// wakeLoop tells the loop there may be something to do, starting it if it
// is parked; it never blocks.
//
// A loop found running gets a token in c.wake. Park stores its state
// first and looks for a token second; so this looks at the state again
// after leaving the token: either park saw the token and went on, or
// this sees the loop parked and starts it. A wake is never lost between
// the two.
func (c *Conn) wakeLoop() {
	if c.loopState.CompareAndSwap(loopParked, loopRunning) {
		go c.run()
		return
	}
	if c.cfg.parkRace != nil {
		c.cfg.parkRace("wake")
	}
	select {
	case c.wake <- struct{}{}:
	default: // a token is there already
	}
	if c.loopState.CompareAndSwap(loopParked, loopRunning) {
		go c.run()
	}
}

// onLoop runs f on the connection's loop and waits for it; it reports
// false if the loop has ended.
func (c *Conn) onLoop(f func()) bool {
	ran := make(chan struct{})
	c.opsMu.Lock()
	c.ops = append(c.ops, func() { f(); close(ran) })
	c.opsMu.Unlock()
	c.wakeLoop()
	select {
	case <-ran:
		return true
	case <-c.done:
		// The loop ended; it may have run f just before.
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}

// post runs f on the connection's loop, without waiting for it.
func (c *Conn) post(f func()) {
	c.opsMu.Lock()
	c.ops = append(c.ops, f)
	c.opsMu.Unlock()
	c.wakeLoop()
}

// runOps runs the queued ops.
func (c *Conn) runOps() {
	c.opsMu.Lock()
	ops := c.ops
	c.ops = nil
	c.opsMu.Unlock()
	for _, op := range ops {
		if c.state == stateEnded {
			return // their callers see done closed
		}
		op()
	}
}

// OpenStream opens a new stream to the peer. It waits while the peer's
// limit on open streams is reached.
func (c *Conn) OpenStream(ctx context.Context) (*stream.Stream, error) {
	return c.streams.Open(ctx)
}

// AcceptStream returns the next stream the peer opened.
func (c *Conn) AcceptStream(ctx context.Context) (*stream.Stream, error) {
	return c.streams.Accept(ctx)
}

// SendMessage sends b as one message (at most 1 MiB) and returns nil once
// the peer has acknowledged all of it. When ctx ends first (or the
// Config's MessageTTL passes), the message is abandoned: it is not resent,
// the peer never delivers it, and SendMessage returns the error. Messages
// are delivered in the order they complete, not the order they were sent.
func (c *Conn) SendMessage(ctx context.Context, b []byte) error {
	return c.msgs.Send(ctx, b, c.cfg.MessageTTL)
}

// ReceiveMessage returns the next message that arrived complete.
func (c *Conn) ReceiveMessage(ctx context.Context) ([]byte, error) {
	return c.msgs.Receive(ctx)
}

// Peer returns the peer's verified identity card.
func (c *Conn) Peer() handshake.Card { return c.peer }

// LocalAddr returns the address of the connection's socket.
func (c *Conn) LocalAddr() net.Addr { return c.e.Addr() }

// RemoteAddr returns the peer's current address: the source of the latest
// authenticated packet.
func (c *Conn) RemoteAddr() net.Addr {
	var a netip.AddrPort
	if !c.onLoop(func() { a = c.remote }) {
		a = c.remote // the loop has ended: nothing writes it any more
	}
	return net.UDPAddrFromAddrPort(a)
}

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Err returns why the connection ended (a *CloseError or an
// IdleTimeoutError), or nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.closed:
		return c.err
	default:
		return nil
	}
}

// Close closes the connection gracefully: it waits until the peer has
// acknowledged everything written to the streams (including their ends)
// and every message sent, then tells the peer (code 0) and returns nil. If
// the connection ends otherwise first (the peer vanishes, say), Close
// returns that error. If the peer closed gracefully before acknowledging
// everything, Close returns an error that wraps both ErrUnacknowledged and
// the peer's *CloseError.
func (c *Conn) Close() error {
	c.onLoop(func() { c.graceful = true })
	<-c.closed
	c.closeOwnEndpoint()
	var ce *CloseError
	if errors.As(c.err, &ce) && ce.Code == CodeNoError {
		if ce.Remote && c.peerClosedUnacked {
			return fmt.Errorf("%w: %w", ErrUnacknowledged, ce)
		}
		return nil
	}
	return c.err
}

// CloseWithError closes the connection at once: unsent and unacknowledged
// data is dropped, the peer's operations fail with a *CloseError carrying
// code and reason (Remote set), and ours with the same error (Remote not
// set).
func (c *Conn) CloseWithError(code uint64, reason string) error {
	c.onLoop(func() { c.closeLocal(code, reason) })
	<-c.closed
	c.closeOwnEndpoint()
	return nil
}

// abort ends the connection without telling the peer (a Dial given up).
func (c *Conn) abort(err error) {
	c.onLoop(func() { c.end(err) })
}

func (c *Conn) closeOwnEndpoint() {
	if c.ownsEndpoint.Load() {
		go c.e.Close()
	}
}
