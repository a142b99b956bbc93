package relay

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Server. A nil *Config, and every zero field, mean
// the default.
type Config struct {
	// Key is the relay's long-term key pair, the key clients must know to
	// connect. Zero: a fresh key pair, which PublicKey reports.
	Key KeyPair
	// MaxConns caps open connections, handshakes included; more are closed
	// as soon as they are accepted. Default DefaultMaxConns.
	MaxConns int
	// MaxUnconfirmed caps connections still in the handshake; a new one
	// pushes the oldest out. Default DefaultMaxUnconfirmed.
	MaxUnconfirmed int
	// QueueBytes bounds the Data and OOB bytes queued for one client; more
	// are dropped. Default DefaultQueueBytes.
	QueueBytes int
	// MaxPriority bounds the priority packets queued for one client; the
	// client is closed when it lets more pile up. Default
	// DefaultMaxPriority.
	MaxPriority int
	// HandshakeTimeout, PingInterval and PingTimeout: see the defaults of
	// the same names.
	HandshakeTimeout, PingInterval, PingTimeout time.Duration
	// Logger gets a debug line per closed connection and an error line if
	// accepting fails; nil is silent. Nothing is logged per packet.
	Logger *slog.Logger
}

// A Server is a Tox TCP relay: it lets clients that know its public key
// connect, route to each other by public key, and exchange Data and OOB
// packets. See the package documentation for what it does with each
// packet. A Server is safe for concurrent use.
type Server struct {
	cfg Config
	cnt serverCounters

	// mu guards the fields below and every session's links, confirmed and
	// detached fields and pending-list element. Forwarding takes it for
	// reading; routing, confirming and closing take it for writing.
	// tamper, when set, may change each Data payload before it is
	// forwarded, or drop it (false): tests play a relay that tampers with
	// what it forwards, or stalls.
	tamper atomic.Pointer[func([]byte) bool]

	mu        sync.RWMutex
	clients   map[PublicKey]*session // confirmed sessions by key
	pending   *list.List             // unconfirmed sessions, oldest first
	all       map[*session]struct{}  // every session whose goroutine runs
	listeners map[net.Listener]struct{}
	closed    bool

	wg sync.WaitGroup // session goroutines and their writers
}

// NewServer returns a server configured by cfg (nil: defaults). It fails
// only when it cannot make a key pair.
func NewServer(cfg *Config) (*Server, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if err := c.Key.orFresh(); err != nil {
		return nil, err
	}
	c.MaxConns = orDefault(c.MaxConns, DefaultMaxConns)
	c.MaxUnconfirmed = orDefault(c.MaxUnconfirmed, DefaultMaxUnconfirmed)
	c.QueueBytes = orDefault(c.QueueBytes, DefaultQueueBytes)
	c.MaxPriority = orDefault(c.MaxPriority, DefaultMaxPriority)
	c.HandshakeTimeout = orDefault(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.PingInterval = orDefault(c.PingInterval, DefaultPingInterval)
	c.PingTimeout = orDefault(c.PingTimeout, DefaultPingTimeout)
	return &Server{
		cfg:       c,
		clients:   make(map[PublicKey]*session),
		pending:   list.New(),
		all:       make(map[*session]struct{}),
		listeners: make(map[net.Listener]struct{}),
	}, nil
}

// PublicKey returns the relay's long-term public key.
func (s *Server) PublicKey() PublicKey { return s.cfg.Key.Public }

// Serve accepts connections on l and serves each until Close. It returns
// an error wrapping net.ErrClosed after Close (or when l is closed), or
// the error that made accepting impossible. A server may serve several
// listeners at once. Serve closes l when it returns (as net/http's does),
// also when Close came before it.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return fmt.Errorf("relay: serve: %w", net.ErrClosed)
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return fmt.Errorf("relay: serve: %w", net.ErrClosed)
			}
			if !resourceShortage(err) {
				return fmt.Errorf("relay: accept: %w", err)
			}
			// Out of file descriptors or memory: what is open must close
			// first. Back off as net/http does, 5 ms doubling to 1 s.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if s.cfg.Logger != nil {
				s.cfg.Logger.Error("relay: accept failed; retrying", "err", err, "in", backoff)
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.admit(nc)
	}
}

// resourceShortage reports whether an accept error is one that goes away
// when connections close.
func resourceShortage(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (s *Server) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// admit starts serving a new connection, or refuses it.
func (s *Server) admit(nc net.Conn) {
	s.cnt.accepted.Add(1)
	s.mu.Lock()
	if s.closed || len(s.all) >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.cnt.refused.Add(1)
		nc.Close()
		return
	}
	var evicted *session
	if s.pending.Len() >= s.cfg.MaxUnconfirmed {
		evicted = s.pending.Remove(s.pending.Front()).(*session)
		evicted.elem = nil
	}
	ss := newSession(s, nc)
	ss.elem = s.pending.PushBack(ss)
	s.all[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	if evicted != nil {
		evicted.kill(killEvicted)
	}
	go ss.run()
}

// Close stops every Serve, closes every connection and waits until their
// goroutines have ended. It returns nil, also when called again.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for ss := range s.all {
		ss.kill(killShutdown)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
