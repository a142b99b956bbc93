package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
	"github.com/pydevts/pydevts/rudp"
)

// The messages workload on each transport. pydevts sends each message as
// one of its messages (acknowledged, unordered, each on its own); kernel
// TCP and quic-go send them as length-prefixed records on one ordered
// stream, as an application without a message channel would, so a lost
// packet holds back every message behind it: the comparison is about
// exactly that.

// pydevts: one SendMessage per message, each in its own goroutine, since
// SendMessage returns only once the peer has acknowledged the message.

type pydevtsSender struct {
	c      *rudp.Conn
	ctx    context.Context // the messages' own: cancelling it abandons them
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed atomic.Int64
}

func (c *pydevtsClient) messages(ctx context.Context) (messageSender, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &pydevtsSender{c: c.c, ctx: ctx, cancel: cancel}, nil
}

func (s *pydevtsSender) send(b []byte) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if s.c.SendMessage(s.ctx, b) != nil {
			s.failed.Add(1)
		}
	}()
}

// finish waits for every message's acknowledgement, then sends markEnd
// and waits for the server's markEnd: messages complete in any order, but
// every one acknowledged was delivered before the end mark was sent. The
// last endLinger of ctx is kept for that exchange; messages still not
// acknowledged then are abandoned and count as failed.
func (s *pydevtsSender) finish(ctx context.Context) (int64, error) {
	defer s.cancel()
	wait := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		wait, cancel = context.WithDeadline(ctx, d.Add(-endLinger))
		defer cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-wait.Done():
		s.cancel()
		<-done
	}
	failed := s.failed.Load()
	if err := s.c.SendMessage(ctx, []byte{markEnd}); err != nil {
		return failed, err
	}
	if _, err := s.c.ReceiveMessage(ctx); err != nil {
		return failed, fmt.Errorf("waiting for the server's answer: %w", err)
	}
	return failed, nil
}

func (s *pydevtsServer) receive(ctx context.Context, deliver func([]byte)) error {
	c, err := s.accept(ctx)
	if err != nil {
		return err
	}
	for {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			return err
		}
		if len(m) == 1 && m[0] == markEnd {
			// Answer, and give the answer time to arrive: the client
			// hangs up once it has it, which also ends this wait.
			answer, cancel := context.WithTimeout(ctx, endLinger)
			c.SendMessage(answer, m)
			cancel()
			return nil
		}
		deliver(m)
	}
}

// Kernel TCP: a connection of its own for the messages.

func (c *tcpClient) messages(ctx context.Context) (messageSender, error) {
	nc, err := c.conn(ctx, markMessages)
	if err != nil {
		return nil, err
	}
	nc.(*net.TCPConn).SetNoDelay(true) // Go's default; a message must not wait for Nagle
	c.msgConn = nc
	return newStreamSender(nc, nc.SetDeadline, nc.(*net.TCPConn).CloseWrite), nil
}

func (s *tcpServer) receive(ctx context.Context, deliver func([]byte)) error {
	c, err := s.wait(ctx, markMessages)
	if err != nil {
		return err
	}
	defer c.Close() // the kernel still sends the answer
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	return receiveStream(c, deliver)
}

// quic-go: a stream of its own for the messages.

func (c *quicClient) messages(ctx context.Context) (messageSender, error) {
	st, err := c.stream(ctx, markMessages)
	if err != nil {
		return nil, err
	}
	// A quic-go stream's Close closes its sending direction only.
	return newStreamSender(st, st.SetDeadline, st.Close), nil
}

func (s *quicServer) receive(ctx context.Context, deliver func([]byte)) error {
	s.start.Do(func() { go s.streams(ctx) })
	var st streamReadWriter
	select {
	case st = <-s.msgCh:
	case <-ctx.Done():
		return ctx.Err()
	}
	stop := context.AfterFunc(ctx, func() { st.SetDeadline(time.Now()) })
	defer stop()
	if err := receiveStream(st, deliver); err != nil {
		return err
	}
	st.Close()
	// Closing the transport would drop the answer: wait for the client,
	// which hangs up once it has read it.
	select {
	case <-s.c.Context().Done():
	case <-time.After(endLinger):
	case <-ctx.Done():
	}
	return nil
}

// streamReadWriter is what a stream transport's message stream offers.
type streamReadWriter interface {
	io.ReadWriter
	SetDeadline(time.Time) error
	Close() error
}

// streamSender sends messages as records on an ordered stream: the
// length (4 bytes, big-endian), then the message. send only queues the
// record; one goroutine writes the queue, so a stream that blocks (flow
// control, a retransmission holding back the window) delays the messages,
// never the pacing.
type streamSender struct {
	rw          io.ReadWriter
	setDeadline func(time.Time) error
	closeWrite  func() error
	wrote       chan error // the writer's end

	mu      sync.Mutex // guards pending and closed
	cond    sync.Cond
	pending []byte // records not yet written
	closed  bool
}

func newStreamSender(rw io.ReadWriter, setDeadline func(time.Time) error, closeWrite func() error) *streamSender {
	s := &streamSender{rw: rw, setDeadline: setDeadline, closeWrite: closeWrite, wrote: make(chan error, 1)}
	s.cond.L = &s.mu
	go s.write()
	return s
}

func (s *streamSender) send(b []byte) {
	s.mu.Lock()
	s.pending = binary.BigEndian.AppendUint32(s.pending, uint32(len(b)))
	s.pending = append(s.pending, b...)
	s.cond.Signal()
	s.mu.Unlock()
}

// write writes the queue until finish closes it, or an error.
func (s *streamSender) write() {
	var buf []byte
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.pending) == 0 {
			s.mu.Unlock()
			s.wrote <- nil
			return
		}
		buf, s.pending = s.pending, buf[:0]
		s.mu.Unlock()
		if _, err := s.rw.Write(buf); err != nil {
			s.wrote <- err
			return
		}
	}
}

// finish writes what is queued, closes the sending direction (the
// server's end of the run) and waits for the server's markEnd, all
// within ctx's deadline.
func (s *streamSender) finish(ctx context.Context) (int64, error) {
	if d, ok := ctx.Deadline(); ok {
		s.setDeadline(d)
	}
	s.mu.Lock()
	s.closed = true
	s.cond.Signal()
	s.mu.Unlock()
	if err := <-s.wrote; err != nil {
		return 0, err
	}
	if err := s.closeWrite(); err != nil {
		return 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(s.rw, b[:]); err != nil {
		return 0, fmt.Errorf("waiting for the server's answer: %w", err)
	}
	return 0, nil
}

// receiveStream reads records from rw and delivers each, until the
// client closes its side at a record's end; it then answers markEnd.
func receiveStream(rw io.ReadWriter, deliver func([]byte)) error {
	br := bufio.NewReaderSize(rw, 64<<10)
	var hdr [4]byte
	var b []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			_, err := rw.Write([]byte{markEnd})
			return err
		} else if err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > scenario.MaxMessageSize {
			return fmt.Errorf("a record of %d bytes, more than the largest message", n)
		}
		if cap(b) < int(n) {
			b = make([]byte, n)
		}
		if _, err := io.ReadFull(br, b[:n]); err != nil {
			return fmt.Errorf("a message cut short: %w", err)
		}
		deliver(b[:n])
	}
}
