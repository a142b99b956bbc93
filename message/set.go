package message

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pydevts/pydevts/internal/rangeset"
	"github.com/pydevts/pydevts/internal/wire"
)

// Config holds the limits of one connection's messages.
type Config struct {
	// Window is how many bytes of messages the peer may have at our side
	// at once, complete or not: the receiver's memory for messages. Each
	// message counts Overhead bytes more than its size, so the window
	// bounds the number of messages held as well as their bytes. It is
	// at least MaxSize+Overhead. Zero means DefaultWindow.
	Window int
}

// MaxSize is the largest message.
const MaxSize = wire.MaxMessageSize

// Overhead is what each message counts in the window besides its bytes:
// the receiver's bookkeeping for a message (its record, its map entry,
// its ranges) is about 200 bytes whatever its size. Without it a window of
// 8 MiB would admit 8 million one-byte (or empty, unbounded) messages,
// over a gigabyte of records; with it the receiver holds at most
// Window/Overhead messages, and its memory stays within about twice the
// window (TestIncompleteMessagesBounded measures it). An honest sender
// loses little: 32,768 small messages still fit the default window.
const Overhead = 256

// span is the room a message of n bytes takes in the window.
func span(n uint64) uint64 { return n + Overhead }

// DefaultWindow is 8 MiB: eight of the largest messages, or thousands of
// small ones, in flight at once; enough to keep a 100 Mbit/s, 300 ms path
// busy with messages.
const DefaultWindow = 8 << 20

func (c *Config) fill() {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	c.Window = max(c.Window, MaxSize+Overhead)
}

// LimitOf returns the initial MAX_MESSAGE_DATA a peer with configuration c
// grants.
func LimitOf(c Config) uint64 {
	c.fill()
	return uint64(c.Window)
}

// Errors of Send.
var (
	// ErrTooLarge: the message is larger than MaxSize.
	ErrTooLarge = fmt.Errorf("message: larger than %d bytes", MaxSize)
	// ErrExpired: the message's TTL passed before the peer acknowledged
	// it; it was abandoned.
	ErrExpired = errors.New("message: TTL expired before the peer acknowledged the message")
)

// ProtocolError is a peer breaking the message protocol; the engine closes
// the connection.
type ProtocolError struct{ Reason string }

func (e *ProtocolError) Error() string { return "message: protocol violation: " + e.Reason }

func violation(format string, args ...any) error {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}

// Set is the messages of one connection, both ways.
type Set struct {
	// mu guards everything in the Set and in its outMsg and inMsg records.
	mu   sync.Mutex
	cfg  Config
	wake func()
	err  error // the connection's end

	// Sending.
	nextID    uint64
	nextStart uint64 // where the next admitted message starts in our message space
	peerMax   uint64 // the peer's MAX_MESSAGE_DATA
	waiting   []*outMsg
	active    map[uint64]*outMsg
	ready     []*outMsg
	abandons  []*outMsg
	resent    uint64 // bytes sent again after a loss

	// Receiving.
	done      rangeset.Set // IDs delivered or abandoned
	partial   map[uint64]*inMsg
	claimed   rangeset.Set // message space held by partial or undelivered messages
	freed     rangeset.Set // message space given back, above freedBase
	freedBase uint64       // everything below is given back
	localMax  uint64       // our MAX_MESSAGE_DATA
	sendMax   bool
	inbox     []*inMsg
	inCond    sync.Cond
}

// NewSet returns the message set of a connection; peerLimit is the
// peer's initial MAX_MESSAGE_DATA, wake is called (possibly with the lock
// held, so it must not block) when there is something to send.
func NewSet(cfg Config, peerLimit uint64, wake func()) *Set {
	cfg.fill()
	s := &Set{
		cfg:      cfg,
		wake:     wake,
		peerMax:  peerLimit,
		active:   map[uint64]*outMsg{},
		partial:  map[uint64]*inMsg{},
		localMax: uint64(cfg.Window),
	}
	s.inCond.L = &s.mu
	return s
}

// Send sends b and waits until the peer has acknowledged all of it. It
// gives the message up, and returns an error, when ctx ends, when ttl
// (if not zero) passes first, or when the connection ends. b may be reused
// once Send returns.
func (s *Set) Send(ctx context.Context, b []byte, ttl time.Duration) error {
	if len(b) > MaxSize {
		return ErrTooLarge
	}
	m := &outMsg{data: append([]byte(nil), b...), size: uint64(len(b)), result: make(chan error, 1)}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return s.err
	}
	s.waiting = append(s.waiting, m)
	s.admit()
	s.mu.Unlock()

	var expired <-chan time.Time
	if ttl > 0 {
		t := time.NewTimer(ttl)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case err = <-m.result:
		return err
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = ErrExpired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case res := <-m.result: // finished while we were giving up
		return res
	default:
	}
	s.abandon(m)
	return err
}

// Receive returns the next complete message.
func (s *Set) Receive(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.inbox) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		stop := context.AfterFunc(ctx, func() {
			s.mu.Lock()
			s.inCond.Broadcast()
			s.mu.Unlock()
		})
		s.inCond.Wait()
		stop()
	}
	in := s.inbox[0]
	s.inbox[0] = nil
	s.inbox = s.inbox[1:]
	s.free(in.start, span(in.total))
	return in.buf, nil
}

// free gives [start, start+n) of the peer's message space back (n is a
// message's span) and moves
// the window on once a quarter of it is free, so that updates cost one
// frame per quarter window.
func (s *Set) free(start, n uint64) {
	s.claimed.Remove(start, start+n)
	s.freed.Add(start, start+n)
	if base := s.freed.Prefix(s.freedBase); base > s.freedBase {
		s.freedBase = base
		s.freed.RemoveBelow(base)
	}
	window := uint64(s.cfg.Window)
	if limit := s.freedBase + window; limit >= s.localMax+window/4 {
		s.localMax = limit
		s.sendMax = true
		s.wake()
	}
}

// CloseAll ends every message with err because the connection ended.
func (s *Set) CloseAll(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	for _, m := range s.waiting {
		m.finish(err)
	}
	for _, m := range s.active {
		m.finish(err)
	}
	s.waiting, s.ready, s.abandons = nil, nil, nil
	clear(s.active)
	s.inCond.Broadcast()
}

// Retransmitted returns how many bytes of messages were sent again.
func (s *Set) Retransmitted() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resent
}

// Pending reports whether messages wait for acknowledgment.
func (s *Set) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)+len(s.active) > 0
}
