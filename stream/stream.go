package stream

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Stream is one ordered, reliable byte stream; it implements net.Conn. Read
// and Write may be called from different goroutines at once; so may
// several Reads or several Writes, which then take turns.
type Stream struct {
	m  *Map
	id uint64

	// Guarded by m.mu:
	send      sendState
	recv      recvState
	rcond     sync.Cond // readers wait here for data
	wcond     sync.Cond // writers wait here for buffer space
	rdl, wdl  deadline
	closed    bool // Close was called
	queued    bool // in m.ready
	ctlQueued bool // in m.ctl
	removed   bool // gone from m.streams
	pending   bool // a peer stream in m.acceptQ, not yet accepted
	owed      bool // removed while pending: its MAX_STREAMS credit waits for Accept
}

func (m *Map) newStream(id uint64) *Stream {
	s := &Stream{m: m, id: id}
	s.rcond.L, s.wcond.L = &m.mu, &m.mu
	s.send.maxData = m.peerStreamData
	s.recv.maxData = uint64(m.cfg.StreamWindow)
	m.streams[id] = s
	return s
}

// ID returns the stream's number.
func (s *Stream) ID() uint64 { return s.id }

// Read reads the next bytes of the stream. It returns io.EOF once the peer
// has closed its side and everything before has been read.
func (s *Stream) Read(p []byte) (int, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		switch {
		case s.closed || s.recv.discard:
			return 0, net.ErrClosed
		case s.recv.available() > 0:
			if len(p) == 0 {
				return 0, nil
			}
			return s.readLocked(p), nil
		case s.recv.finKnown && s.recv.readOff == s.recv.finalSize:
			return 0, io.EOF
		case s.recv.err != nil:
			return 0, s.recv.err
		case s.rdl.passed():
			return 0, os.ErrDeadlineExceeded
		}
		s.rcond.Wait()
	}
}

// Write writes p to the stream. It returns when all of p is buffered for
// sending (not when the peer has it; see CloseWrite and the connection's
// graceful Close), blocking while the send buffer is full.
func (s *Stream) Write(p []byte) (int, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for {
		switch {
		case s.send.err != nil:
			return n, s.send.err
		case s.closed || s.send.finWanted:
			return n, errWriteClosed
		case len(p) == 0:
			return n, nil
		case s.wdl.passed():
			return n, os.ErrDeadlineExceeded
		}
		if space := m.cfg.SendBuffer - int(s.send.written-s.send.buf.Base()); space > 0 {
			// Copy at most 64 KiB per turn, so a large Write holds the
			// lock, which the engine loop needs too, only briefly.
			k := min(space, len(p), 64<<10)
			s.send.buf.WriteAt(p[:k], s.send.written)
			s.send.written += uint64(k)
			p, n = p[k:], n+k
			m.markReady(s)
			if len(p) > 0 {
				m.mu.Unlock()
				m.mu.Lock()
			}
			continue
		}
		s.wcond.Wait()
	}
}

// CloseWrite ends the sending side: the peer reads everything written so
// far and then io.EOF. Reads go on.
func (s *Stream) CloseWrite() error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.send.err != nil {
		return s.send.err
	}
	s.send.finWanted = true
	s.wcond.Broadcast()
	m.markReady(s)
	return nil
}

// CloseRead ends the receiving side: buffered and later data is discarded
// and the peer is asked to stop sending (STOP_SENDING, code 0). Writes go
// on.
func (s *Stream) CloseRead() error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	s.closeReadLocked(0)
	m.maybeRemove(s)
	return nil
}

// Close closes both sides: what was written is still delivered, followed
// by the end of the stream, and what arrives is discarded. Reads and
// writes, blocked or later, fail with net.ErrClosed.
func (s *Stream) Close() error {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.send.err == nil && !s.send.finWanted {
		s.send.finWanted = true
		m.markReady(s)
	}
	s.closeReadLocked(0)
	s.rcond.Broadcast()
	s.wcond.Broadcast()
	m.maybeRemove(s)
	return nil
}

// LocalAddr implements net.Conn.
func (s *Stream) LocalAddr() net.Addr { return s.m.cfg.LocalAddr }

// RemoteAddr implements net.Conn.
func (s *Stream) RemoteAddr() net.Addr {
	if f := s.m.cfg.RemoteAddrFunc; f != nil {
		return f()
	}
	return s.m.cfg.RemoteAddr
}

// SetDeadline implements net.Conn.
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn: a blocked or later Read fails with
// os.ErrDeadlineExceeded once t passes; a zero t means no deadline.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.rdl.set(t, &s.rcond)
	return nil
}

// SetWriteDeadline implements net.Conn, for Write.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.wdl.set(t, &s.wcond)
	return nil
}

// deadline is a time after which blocked calls fail; its timer wakes them.
type deadline struct {
	t     time.Time
	timer *time.Timer
}

// set changes the deadline; the caller holds the lock of c.
func (d *deadline) set(t time.Time, c *sync.Cond) {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.t = t
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		d.timer = time.AfterFunc(dur, func() {
			c.L.Lock()
			c.Broadcast()
			c.L.Unlock()
		})
	} else {
		c.Broadcast()
	}
}

func (d *deadline) passed() bool { return !d.t.IsZero() && !time.Now().Before(d.t) }

var _ net.Conn = (*Stream)(nil)
