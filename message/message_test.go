package message

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/pydevts/pydevts/internal/wire"
)

// payload is message i of a test: its first 8 bytes say i, the rest
// derive from i, so the receiver can check it whole.
func payload(i, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(b, uint64(i))
	rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}).Read(b[8:])
	return b[:max(size, 8)]
}

// TestExactlyOnce sends messages of 8 bytes to 1 MiB from many goroutines
// over a link that loses and duplicates packets: every Send succeeds and
// every message arrives exactly once, whole.
func TestExactlyOnce(t *testing.T) {
	for _, c := range []struct {
		name      string
		loss, dup float64
	}{{"clean", 0, 0}, {"lossy", 0.2, 0}, {"duplicating", 0, 0.3}, {"both", 0.3, 0.3}} {
		t.Run(c.name, func(t *testing.T) {
			l := newLink(t, Config{}, Config{Window: 2 << 20}, c.loss, c.dup, 11)
			r := rand.New(rand.NewPCG(5, 5))
			var sizes []int
			for range 300 {
				sizes = append(sizes, 8+r.IntN(4096))
			}
			sizes = append(sizes, MaxSize, 700<<10, 8)
			var wg sync.WaitGroup
			for i, size := range sizes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := l.a.Send(context.Background(), payload(i, size), 0); err != nil {
						t.Errorf("message %d: %v", i, err)
					}
				}()
			}
			seen := map[uint64]bool{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for range sizes {
				got, err := l.b.Receive(ctx)
				if err != nil {
					t.Fatalf("after %d messages: %v", len(seen), err)
				}
				i := binary.BigEndian.Uint64(got)
				if seen[i] {
					t.Fatalf("message %d delivered twice", i)
				}
				seen[i] = true
				if !bytes.Equal(got, payload(int(i), sizes[i])) {
					t.Fatalf("message %d damaged", i)
				}
			}
			wg.Wait()
			short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel2()
			if extra, err := l.b.Receive(short); err == nil {
				t.Fatalf("an extra message arrived: %d bytes", len(extra))
			}
			if l.a.Pending() {
				t.Fatal("messages still pending after all were acknowledged")
			}
		})
	}
}

func TestEmptyMessage(t *testing.T) {
	l := newLink(t, Config{}, Config{}, 0.3, 0.3, 12)
	for range 20 {
		if err := l.a.Send(context.Background(), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		got, err := l.b.Receive(context.Background())
		if err != nil || len(got) != 0 {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
	}
}

// TestTTL: a message the peer cannot get in time is abandoned: Send
// reports ErrExpired and the receiver never delivers it, even once the
// path works again and the fragments it holds could be completed.
func TestTTL(t *testing.T) {
	l := newLink(t, Config{}, Config{}, 0, 0, 13)
	// Let a hundred packets of a 600 KiB message through (about a fifth
	// of it), then cut the path.
	l.passThen(100)
	big := payload(1, 600<<10)
	if err := l.a.Send(context.Background(), big, 100*time.Millisecond); !errors.Is(err, ErrExpired) {
		t.Fatalf("Send over a dead path: %v", err)
	}
	l.b.mu.Lock()
	partial := len(l.b.partial)
	l.b.mu.Unlock()
	if partial != 1 {
		t.Fatalf("receiver holds %d partial messages before the ABANDON, want 1", partial)
	}
	l.set(0, false)
	if err := l.a.Send(context.Background(), payload(2, 100), 0); err != nil {
		t.Fatal(err)
	}
	got, err := l.b.Receive(context.Background())
	if err != nil || binary.BigEndian.Uint64(got) != 2 {
		t.Fatalf("got message %d (%v), want only message 2", binary.BigEndian.Uint64(got), err)
	}
	// The abandoned message's space was freed at the receiver.
	l.b.mu.Lock()
	partial, claimed := len(l.b.partial), l.b.claimed.NumRanges()
	l.b.mu.Unlock()
	if partial != 0 || claimed != 0 {
		t.Fatalf("receiver still holds %d partial messages, %d claimed ranges", partial, claimed)
	}
}

func TestContextCancel(t *testing.T) {
	l := newLink(t, Config{}, Config{}, 0, 0, 14)
	l.set(0, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := l.a.Send(ctx, []byte("never"), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send with an ended context: %v", err)
	}
	if err := l.a.Send(context.Background(), make([]byte, MaxSize+1), 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
}

// TestFlowControlBoundsMemory: a receiver that does not take its messages
// holds at most its window; senders wait, and go on once it reads.
func TestFlowControlBoundsMemory(t *testing.T) {
	l := newLink(t, Config{}, Config{Window: MaxSize}, 0, 0, 15)
	sent := make(chan int, 10)
	for i := range 5 {
		go func() {
			if err := l.a.Send(context.Background(), payload(i, 400<<10), 0); err != nil {
				t.Error(err)
			}
			sent <- i
		}()
	}
	heldNow := func() int {
		l.b.mu.Lock()
		defer l.b.mu.Unlock()
		held := 0
		for _, in := range l.b.inbox {
			held += len(in.buf)
		}
		for _, in := range l.b.partial {
			held += len(in.buf)
		}
		return held
	}
	// Wait (on a loaded machine, as long as it takes) for the two
	// messages the window has room for; then give the others time to
	// push past the window, which they must not.
	for deadline := time.Now().Add(time.Minute); heldNow() < 2*(400<<10); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("receiver holds %d bytes after a minute, want the 2 messages its window fits", heldNow())
		}
	}
	time.Sleep(50 * time.Millisecond)
	if held := heldNow(); held > MaxSize {
		t.Fatalf("receiver holds %d bytes with a window of %d", held, MaxSize)
	}
	if len(sent) > 2 {
		t.Fatalf("%d messages acknowledged with room for 2", len(sent))
	}
	for range 5 {
		if _, err := l.b.Receive(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		<-sent
	}
}

func TestCloseAll(t *testing.T) {
	l := newLink(t, Config{}, Config{}, 0, 0, 16)
	l.set(0, true)
	errs := make(chan error, 2)
	go func() { errs <- l.a.Send(context.Background(), []byte("x"), 0) }()
	go func() { _, err := l.b.Receive(context.Background()); errs <- err }()
	time.Sleep(10 * time.Millisecond)
	closed := errors.New("closed")
	l.a.CloseAll(closed)
	l.b.CloseAll(closed)
	for range 2 {
		if err := <-errs; !errors.Is(err, closed) {
			t.Fatalf("after CloseAll: %v", err)
		}
	}
}

func TestProtocolViolations(t *testing.T) {
	msg := func(id, start, total, off uint64, n int) *wire.Frame {
		return &wire.Frame{Type: wire.FrameMessage, Message: wire.MessageFrame{ID: id, Start: start, Total: total, Offset: off, Data: make([]byte, n)}}
	}
	for _, c := range []struct {
		name   string
		frames []*wire.Frame
	}{
		{"past the window", []*wire.Frame{msg(0, MaxSize, 10, 0, 1)}},
		{"two messages in one place", []*wire.Frame{msg(0, 0, 100, 0, 1), msg(1, 50, 100, 0, 1)}},
		{"size changed", []*wire.Frame{msg(0, 0, 100, 0, 1), msg(0, 0, 101, 0, 1)}},
		{"abandon in held space", []*wire.Frame{msg(0, 0, 100, 0, 1), {Type: wire.FrameAbandon, Message: wire.MessageFrame{ID: 1, Start: 10, Total: 10}}}},
	} {
		s := NewSet(Config{Window: MaxSize}, LimitOf(Config{}), func() {})
		var err error
		for _, f := range c.frames {
			if err = s.HandleFrame(f); err != nil {
				break
			}
		}
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a ProtocolError", c.name, err)
		}
	}
	// A fragment of a message delivered already is ignored.
	s := NewSet(Config{}, LimitOf(Config{}), func() {})
	s.HandleFrame(msg(0, 0, 2, 0, 2))
	s.Receive(context.Background())
	if err := s.HandleFrame(msg(0, 0, 2, 0, 2)); err != nil || len(s.inbox) != 0 {
		t.Fatalf("late copy of a delivered message: %v, %d in inbox", err, len(s.inbox))
	}
}
