package stream

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/pydevts/pydevts/internal/seqbuf"
	"github.com/pydevts/pydevts/internal/wire"
)

func accept(t testing.TB, m *Map) *Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := m.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t testing.TB, m *Map) *Stream {
	t.Helper()
	s, err := m.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNetConn runs x/net's conformance suite for net.Conn on a stream.
func TestNetConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		a, b, l := newLink(t, Config{SendBuffer: 64 << 10, StreamWindow: 64 << 10}, Config{SendBuffer: 64 << 10, StreamWindow: 64 << 10}, 0, 1)
		s1 := open(t, a)
		s2 := accept(t, b)
		return s1, s2, func() {
			s1.Close()
			s2.Close()
			a.CloseAll(net.ErrClosed)
			b.CloseAll(net.ErrClosed)
			_ = l
		}, nil
	})
}

// TestTransferUnderLoss moves several streams both ways over a link that
// loses a fifth of its packets: every byte arrives, in order, once.
func TestTransferUnderLoss(t *testing.T) {
	for _, loss := range []float64{0, 0.2, 0.5} {
		t.Run(fmt.Sprint(loss), func(t *testing.T) {
			a, b, _ := newLink(t, Config{StreamWindow: 256 << 10, ConnWindow: 512 << 10}, Config{}, loss, 7)
			const streams, size = 6, 300 << 10
			var wg sync.WaitGroup
			for i := range streams {
				data := make([]byte, size)
				rand.NewChaCha8([32]byte{byte(i)}).Read(data)
				want := sha256.Sum256(data)
				s := open(t, a)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.Write(data); err != nil {
						t.Error(err)
					}
					s.CloseWrite()
				}()
				peer := accept(t, b)
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := io.ReadAll(peer)
					if err != nil || sha256.Sum256(got) != want {
						t.Errorf("stream %d: %d bytes, err %v, checksum ok %v", s.ID(), len(got), err, sha256.Sum256(got) == want)
					}
					// Echo a little back on the same stream.
					peer.Write([]byte(fmt.Sprint(len(got))))
					peer.Close()
				}()
				wg.Add(1)
				go func() {
					defer wg.Done()
					back, err := io.ReadAll(s)
					if err != nil || string(back) != fmt.Sprint(size) {
						t.Errorf("reply %q, %v", back, err)
					}
					s.Close()
				}()
			}
			wg.Wait()
			waitFor(t, func() bool { return a.Len() == 0 && b.Len() == 0 && !a.Unacked() }, "all streams to finish")
		})
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestFlowControlBoundsMemory: a reader that stops reading stops the
// writer; neither side buffers more than its limits.
func TestFlowControlBoundsMemory(t *testing.T) {
	cfg := Config{StreamWindow: 32 << 10, ConnWindow: 48 << 10, SendBuffer: 16 << 10}
	a, b, _ := newLink(t, cfg, cfg, 0, 3)
	s := open(t, a)
	written := make(chan int, 1)
	go func() {
		n, _ := s.Write(make([]byte, 1<<20))
		written <- n
	}()
	peer := accept(t, b)
	waitFor(t, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return s.send.written == uint64(cfg.StreamWindow+cfg.SendBuffer)
	}, "the writer to fill the window and its buffer")
	time.Sleep(20 * time.Millisecond)
	a.mu.Lock()
	// Buffers are held in chunks, one of which a window may straddle.
	sendBuf, written0 := s.send.buf.Chunks()*seqbuf.ChunkSize, s.send.written
	a.mu.Unlock()
	b.mu.Lock()
	recvBuf := peer.recv.buf.Chunks() * seqbuf.ChunkSize
	b.mu.Unlock()
	if written0 != uint64(cfg.StreamWindow+cfg.SendBuffer) || sendBuf > cfg.SendBuffer+seqbuf.ChunkSize || recvBuf > cfg.StreamWindow+seqbuf.ChunkSize {
		t.Fatalf("written %d, send buffer %d, receive buffer %d", written0, sendBuf, recvBuf)
	}
	select {
	case n := <-written:
		t.Fatalf("Write returned %d while the reader was not reading", n)
	default:
	}
	// Reading drains everything and unblocks the writer.
	got, err := io.ReadFull(peer, make([]byte, 1<<20))
	if err != nil || got != 1<<20 {
		t.Fatal(err)
	}
	if n := <-written; n != 1<<20 {
		t.Fatalf("Write returned %d", n)
	}
}

// TestConnectionWindow: several streams together cannot exceed the
// connection window.
func TestConnectionWindow(t *testing.T) {
	cfg := Config{StreamWindow: 64 << 10, ConnWindow: 40 << 10, SendBuffer: 64 << 10}
	a, b, _ := newLink(t, cfg, cfg, 0, 4)
	var peers []*Stream
	for range 3 {
		s := open(t, a)
		go s.Write(make([]byte, 64<<10))
		peers = append(peers, accept(t, b))
	}
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.recvData == uint64(cfg.ConnWindow)
	}, "the connection window to fill")
	time.Sleep(20 * time.Millisecond)
	b.mu.Lock()
	total := b.recvData
	b.mu.Unlock()
	if total != uint64(cfg.ConnWindow) {
		t.Fatalf("received %d bytes across streams, window %d", total, cfg.ConnWindow)
	}
	for _, p := range peers {
		go io.Copy(io.Discard, p)
	}
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.consumed == 3*64<<10
	}, "all data to arrive")
}

func TestHalfCloseAndEOF(t *testing.T) {
	a, b, _ := newLink(t, Config{}, Config{}, 0, 5)
	s := open(t, a)
	s.Write([]byte("question"))
	s.CloseWrite()
	if _, err := s.Write([]byte("more")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after CloseWrite: %v", err)
	}
	peer := accept(t, b)
	q, err := io.ReadAll(peer)
	if err != nil || string(q) != "question" {
		t.Fatalf("%q %v", q, err)
	}
	peer.Write([]byte("answer"))
	peer.Close()
	ans, err := io.ReadAll(s)
	if err != nil || string(ans) != "answer" {
		t.Fatalf("%q %v", ans, err)
	}
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("Read after EOF: %v", err)
	}
	s.Close()
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	waitFor(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, "streams to be forgotten")
}

// TestStopSending: a reader that closes stops the writer with an error
// naming the peer; the stream is then forgotten on both sides.
func TestStopSending(t *testing.T) {
	a, b, _ := newLink(t, Config{}, Config{}, 0, 6)
	s := open(t, a)
	s.Write([]byte("hello"))
	peer := accept(t, b)
	peer.Read(make([]byte, 5))
	peer.CloseRead()
	if _, err := peer.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after CloseRead: %v", err)
	}
	var serr *Error
	waitFor(t, func() bool {
		_, err := s.Write([]byte("more"))
		return errors.As(err, &serr)
	}, "the writer to learn of STOP_SENDING")
	if !serr.Remote || serr.Code != 0 {
		t.Fatalf("error %+v", serr)
	}
	s.Close()
	peer.Close()
	waitFor(t, func() bool { return a.Len() == 0 && b.Len() == 0 }, "streams to be forgotten")
}

func TestStreamLimit(t *testing.T) {
	a, b, _ := newLink(t, Config{}, Config{MaxIncoming: 2}, 0, 8)
	s1, s2 := open(t, a), open(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := a.Open(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Open over a limit of 2: %v", err)
	}
	opened := make(chan *Stream)
	go func() {
		s, err := a.Open(context.Background())
		if err != nil {
			t.Error(err)
		}
		opened <- s
	}()
	// Finishing one stream both ways frees a slot.
	p1 := accept(t, b)
	accept(t, b)
	s1.Close()
	io.ReadAll(p1)
	p1.Close()
	select {
	case s3 := <-opened:
		if s3.ID() != 4 {
			t.Fatalf("third stream has ID %d", s3.ID())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a finished stream did not free a slot")
	}
	_ = s2
}

func TestDeadlines(t *testing.T) {
	a, b, _ := newLink(t, Config{SendBuffer: 1024, StreamWindow: 1024}, Config{SendBuffer: 1024, StreamWindow: 1024}, 0, 9)
	s := open(t, a)
	accept(t, b)
	s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v", err)
	}
	if time.Since(start) < 15*time.Millisecond {
		t.Fatal("Read returned before its deadline")
	}
	s.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
	n, err := s.Write(make([]byte, 1<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n != 2048 {
		t.Fatalf("Write past its deadline: %d, %v (want the 2048 bytes the window and buffer hold)", n, err)
	}
}

func TestCloseAll(t *testing.T) {
	a, b, _ := newLink(t, Config{}, Config{}, 0, 10)
	s := open(t, a)
	peer := accept(t, b)
	errs := make(chan error, 3)
	go func() { _, err := s.Read(make([]byte, 1)); errs <- err }()
	go func() { _, err := peer.Read(make([]byte, 1)); errs <- err }()
	go func() { _, err := b.Accept(context.Background()); errs <- err }()
	time.Sleep(10 * time.Millisecond)
	closed := errors.New("connection closed")
	a.CloseAll(closed)
	b.CloseAll(closed)
	for range 3 {
		if err := <-errs; !errors.Is(err, closed) {
			t.Fatalf("blocked call after CloseAll: %v", err)
		}
	}
	if _, err := a.Open(context.Background()); !errors.Is(err, closed) {
		t.Fatalf("Open after CloseAll: %v", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, closed) {
		t.Fatalf("Write after CloseAll: %v", err)
	}
}

// TestProtocolViolations feeds frames a correct peer never sends.
func TestProtocolViolations(t *testing.T) {
	mk := func() *Map {
		return NewMap(Config{StreamWindow: 1000, ConnWindow: 1500, MaxIncoming: 2}, true, LimitsOf(Config{}), func() {})
	}
	stream := func(id, off uint64, n int, fin bool) *wire.Frame {
		return &wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{ID: id, Offset: off, Data: make([]byte, n), Fin: fin}}
	}
	for _, c := range []struct {
		name   string
		frames []*wire.Frame
	}{
		{"past stream window", []*wire.Frame{stream(1, 900, 101, false)}},
		{"past connection window", []*wire.Frame{stream(1, 0, 1000, false), stream(3, 0, 501, false)}},
		{"beyond stream limit", []*wire.Frame{stream(5, 0, 1, false)}},
		{"our stream never opened", []*wire.Frame{stream(0, 0, 1, false)}},
		{"final size changed", []*wire.Frame{stream(1, 0, 10, true), stream(1, 0, 11, true)}},
		{"data past final size", []*wire.Frame{stream(1, 0, 10, true), stream(1, 10, 1, false)}},
		{"final size below data", []*wire.Frame{stream(1, 0, 10, false), stream(1, 0, 5, true)}},
		{"reset below data", []*wire.Frame{stream(1, 0, 10, false), {Type: wire.FrameResetStream, Reset: wire.ResetFrame{ID: 1, FinalSize: 5}}}},
	} {
		m := mk()
		var err error
		for _, f := range c.frames {
			if err = m.HandleFrame(f); err != nil {
				break
			}
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a ProtocolError", c.name, err)
		}
	}
	// Frames for a finished stream are ignored, not errors.
	m := mk()
	for _, f := range []*wire.Frame{stream(1, 0, 3, true)} {
		if err := m.HandleFrame(f); err != nil {
			t.Fatal(err)
		}
	}
	s := accept(t, m)
	io.ReadAll(s)
	s.Close()
	m.OnAcked(wire.Sent{Type: wire.FrameStream, ID: 1, Fin: true})
	if m.Len() != 0 {
		t.Fatal("finished stream not forgotten")
	}
	if err := m.HandleFrame(stream(1, 0, 3, true)); err != nil {
		t.Fatalf("late frame for a finished stream: %v", err)
	}
}
