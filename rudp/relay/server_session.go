package relay

import (
	"bufio"
	"container/list"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// A session is one client connection of a Server:
//
//	          128-byte hello          first frame that decrypts
//	CONNECTED ───────────────► UNCONFIRMED ───────────────────────► CONFIRMED
//	    │      96-byte reply sent     │      (key registered; an older      │
//	    │                             │       session with it is closed)    │
//	    └──── HandshakeTimeout, a bad hello or frame, eviction ─────────────┴──► closed
//
// Its goroutine runs the handshake and then reads and handles packets; a
// writer goroutine (frameConn.writeLoop) sends what is queued for it.
// Anyone may kill it; its own goroutine then cleans up.
type session struct {
	srv *Server
	nc  net.Conn
	key PublicKey    // the client's announced key, once the hello opened
	fc  *frameConn   // set by the session goroutine before confirming
	png pinger       // started once confirmed
	why atomic.Int32 // the killReason of the first kill, or -1

	// Guarded by srv.mu:
	elem      *list.Element // in srv.pending while unconfirmed
	confirmed bool
	detached  bool // confirmed, then taken out of the routing tables
	links     [NumLinks]link
}

// A link is one of a client's connection ids:
//
//	free ── RouteRequest ──► registered ── peer routes back ──► online
//	  ▲                         │  ▲                               │
//	  └─ DisconnectNotification ┘  └── peer unroutes or leaves ────┘
//	     (from either state)           (peer's DisconnectNotification)
type link struct {
	state   linkState
	peer    PublicKey // the key routed to
	other   *session  // online: the peer's session
	otherID ConnID    // online: the peer's id for this link
}

type linkState uint8

const (
	linkFree linkState = iota
	linkRegistered
	linkOnline
)

func newSession(s *Server, nc net.Conn) *session {
	ss := &session{srv: s, nc: nc}
	ss.why.Store(-1)
	ss.png = pinger{
		interval: s.cfg.PingInterval,
		timeout:  s.cfg.PingTimeout,
		send:     ss.sendPing,
		expire:   func() { ss.kill(killPingTimeout) },
	}
	return ss
}

// kill closes the session's connection for reason r; its goroutine then
// cleans up. The first reason is the one counted. It never blocks, so it
// may be called with srv.mu held.
func (ss *session) kill(r killReason) {
	ss.why.CompareAndSwap(-1, int32(r))
	ss.nc.Close()
}

// run is the session's goroutine.
func (ss *session) run() {
	defer ss.srv.wg.Done()
	r, err := ss.serve()
	ss.finish(r, err)
}

// serve runs the handshake and then the read loop, and returns why it
// ended.
func (ss *session) serve() (killReason, error) {
	s := ss.srv
	ss.nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	br := bufio.NewReaderSize(ss.nc, readBufferSize)
	var hello [ClientHelloSize]byte
	if _, err := io.ReadFull(br, hello[:]); err != nil {
		return handshakeReason(err), err
	}
	key, reply, sess, err := AcceptClientHello(s.cfg.Key, hello[:], rand.Reader)
	if err != nil {
		return killHandshake, err
	}
	if _, err := ss.nc.Write(reply); err != nil {
		return handshakeReason(err), err
	}
	ss.key = key
	ss.fc = newFrameConn(ss.nc, br, sess, newSendQueue(s.cfg.MaxPriority, s.cfg.QueueBytes, false), &s.cnt.counters)
	first, err := ss.fc.readPacket()
	if err != nil {
		return handshakeReason(err), err
	}
	ss.nc.SetDeadline(time.Time{})
	if !s.confirm(ss) {
		return killShutdown, net.ErrClosed // already killed; that reason stays
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ss.fc.writeLoop()
	}()
	ss.png.start(false)
	for pkt := first; ; {
		if r, err := ss.handle(pkt); err != nil {
			return r, err
		}
		if pkt, err = ss.fc.readPacket(); err != nil {
			if isFrameError(err) {
				return killFrame, err
			}
			return killClosed, err
		}
	}
}

// handshakeReason classifies an error before confirmation.
func handshakeReason(err error) killReason {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return killHandshakeTimeout
	}
	return killHandshake
}

// finish cleans up after the session's goroutine: closes, unlinks, counts.
func (ss *session) finish(r killReason, err error) {
	s := ss.srv
	ss.png.stop()
	ss.why.CompareAndSwap(-1, int32(r))
	r = killReason(ss.why.Load())
	if ss.fc != nil {
		ss.fc.close(err)
	} else {
		ss.nc.Close()
	}
	s.mu.Lock()
	if ss.elem != nil {
		s.pending.Remove(ss.elem)
		ss.elem = nil
	}
	s.detachLocked(ss)
	delete(s.all, ss)
	s.mu.Unlock()
	s.cnt.kills[r].Add(1)
	if l := s.cfg.Logger; l != nil {
		l.Debug("relay: connection closed", "client", ss.key, "addr", ss.nc.RemoteAddr(), "reason", killNames[r], "err", err)
	}
}

var killNames = [numKillReasons]string{
	"handshake failed", "handshake timeout", "evicted", "bad frame", "protocol violation",
	"ping timeout", "queue overflow", "replaced", "closed", "shutdown",
}

// confirm moves a session from the handshake into the routing tables. It
// fails when the session was killed meanwhile.
func (s *Server) confirm(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || ss.elem == nil || ss.why.Load() >= 0 {
		return false
	}
	s.pending.Remove(ss.elem)
	ss.elem = nil
	if old := s.clients[ss.key]; old != nil {
		// toxcore takes a second connection with a key for a reconnect
		// whose old connection has not timed out yet.
		s.detachLocked(old)
		old.kill(killReplaced)
	}
	s.clients[ss.key] = ss
	ss.confirmed = true
	s.cnt.confirmed.Add(1)
	return true
}

// handle acts on one packet from a confirmed client. It returns an error
// (and its reason) when the client must be closed. The rules are tox-rs's
// where it is the more lenient of the two implementations: ignore what can
// be ignored, and close only on what both close on or what cannot be
// understood (research/tox.md, section 2).
func (ss *session) handle(b []byte) (killReason, error) {
	s := ss.srv
	p, err := ParsePacket(b)
	switch p.Type {
	case TypeOnionRequest, TypeForwardRequest:
		// No onion or DHT instance here: toxcore without one ignores
		// onion requests whatever their size, so do we, and forward
		// requests too (toxcore without forwarding closes).
		s.drop(dropOnion)
		return 0, nil
	}
	if err != nil {
		return killProtocol, err
	}
	switch p.Type {
	case TypeRouteRequest:
		s.route(ss, p.Key)
	case TypeDisconnectNotification:
		s.unroute(ss, p.ConnID)
	case TypeConnectNotification:
		s.drop(dropIgnored) // only a server sends these; c-toxcore ignores one
	case TypePingRequest:
		// Answered even for id 0, as c-toxcore does (tox-rs closes).
		if !ss.sendControl([]byte{byte(TypePongResponse)}, p.PingID[:]) {
			// Killed for overflow (that reason stays), or closing anyway.
			return killClosed, errNotQueued
		}
		s.cnt.pongs.Add(1)
	case TypePongResponse:
		if p.PingID.IsZero() {
			return killProtocol, errors.New("relay: pong with id 0")
		}
		if !ss.png.pong(p.PingID) {
			s.drop(dropIgnored)
		}
	case TypeOOBSend:
		s.oob(ss, p.Key, p.Payload)
	case TypeData:
		s.forward(ss, p.ConnID, p.Payload)
	default: // packets only a server sends
		return killProtocol, errors.New("relay: client sent a " + p.Type.String())
	}
	return 0, nil
}

var errNotQueued = errors.New("relay: pong not queued: the client does not read, or is closing")

// sendControl queues a priority packet made of parts for the client. It
// kills the session and returns false when the priority queue is full.
func (ss *session) sendControl(parts ...[]byte) bool {
	b := getBuf()
	for _, p := range parts {
		*b = append(*b, p...)
	}
	switch ss.fc.send(b, true) {
	case overflow:
		ss.kill(killOverflow)
		return false
	case closedQ:
		return false
	}
	return true
}

func (ss *session) sendPing(id PingID) bool {
	return ss.sendControl([]byte{byte(TypePingRequest)}, id[:])
}
