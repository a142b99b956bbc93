package message

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/internal/wire"
)

// fragment is a MESSAGE frame carrying n bytes at off of a message of
// total bytes placed at start.
func fragment(id, start, total, off uint64, n int) *wire.Frame {
	return &wire.Frame{Type: wire.FrameMessage, Message: wire.MessageFrame{ID: id, Start: start, Total: total, Offset: off, Data: make([]byte, n)}}
}

// heapInUse returns the heap in use after a collection.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// TestIncompleteMessagesBounded: a peer that sends the first fragment of
// message after message and never the rest fills our window and is then
// refused with a protocol violation; what we hold stays within about the
// window, for large messages and for tiny ones (where the per-message
// Overhead is what bounds the records).
func TestIncompleteMessagesBounded(t *testing.T) {
	for _, c := range []struct {
		name  string
		total uint64 // size of each message
		first int    // bytes of it sent
	}{
		{"1 MiB messages, first 1200 bytes", MaxSize, 1200},
		{"2-byte messages, first byte", 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := heapInUse()
			s := NewSet(Config{}, LimitOf(Config{}), func() {})
			var err error
			var n uint64
			for ; n < 1<<24; n++ {
				if err = s.HandleFrame(fragment(n, n*span(c.total), c.total, 0, c.first)); err != nil {
					break
				}
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("after %d incomplete messages: %v, want a ProtocolError", n, err)
			}
			held := heapInUse() - before
			window := int64(DefaultWindow)
			t.Logf("%d incomplete messages held, then refused (%v); heap in use grew by %d bytes (%.2f x the window)",
				n, pe, held, float64(held)/float64(window))
			if want := uint64(DefaultWindow) / span(c.total); n != want {
				t.Errorf("%d messages admitted, want the %d the window fits", n, want)
			}
			if held > 2*window {
				t.Fatalf("heap grew by %d bytes for a window of %d", held, window)
			}
			runtime.KeepAlive(s)
		})
	}
}

// TestMessageIDsBounded: a peer that skips every other message ID (the
// skipped ones never come) and otherwise plays by the window, which moves
// on as the application takes every message, would make the record of
// finished IDs grow by one range per message; it is refused once its IDs
// run Window/Overhead past the first one missing.
func TestMessageIDsBounded(t *testing.T) {
	s := NewSet(Config{}, LimitOf(Config{}), func() {})
	var err error
	var id, start uint64
	for id = 1; id < 1<<24; id += 2 { // message 0 never comes, nor 2, 4, ...
		if err = s.HandleFrame(fragment(id, start, 0, 0, 0)); err != nil {
			break
		}
		start += span(0)
		if _, err := s.Receive(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("after message %d: %v, want a ProtocolError", id, err)
	}
	if want := uint64(DefaultWindow/Overhead) + 1; id != want {
		t.Fatalf("refused at message %d, want %d", id, want)
	}
	if n := s.done.NumRanges(); n > DefaultWindow/Overhead {
		t.Fatalf("%d ranges of finished IDs", n)
	}
	t.Logf("refused at message %d: %v", id, pe)
}

// TestMessageGapsBounded: a peer that sends 1 MiB messages a byte at a
// time with a gap after each would make the record of what arrived (a
// range per byte) eight times the message. A message is held in at most
// maxRanges ranges: spread that far over every message the window fits,
// the gaps make us hold well under twice the window, and a byte every 2
// bytes is a protocol violation.
func TestMessageGapsBounded(t *testing.T) {
	send := func(stride uint64) (int64, error) {
		before := heapInUse()
		s := NewSet(Config{}, LimitOf(Config{}), func() {})
		var err error
		for n := uint64(0); n < uint64(DefaultWindow)/span(MaxSize) && err == nil; n++ {
			for off := uint64(0); off < MaxSize-1 && err == nil; off += stride {
				err = s.HandleFrame(fragment(n, n*span(MaxSize), MaxSize, off, 1))
			}
		}
		held := heapInUse() - before
		runtime.KeepAlive(s)
		return held, err
	}
	limit := uint64(maxRanges(MaxSize))
	held, err := send(MaxSize / limit)
	t.Logf("%d messages of %d bytes, %d ranges each: heap in use grew by %d bytes (%.2f x the window)",
		uint64(DefaultWindow)/span(MaxSize), MaxSize, limit, held, float64(held)/float64(DefaultWindow))
	if err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	if held > 2*int64(DefaultWindow) {
		t.Errorf("heap grew by %d bytes for a window of %d", held, DefaultWindow)
	}
	_, err = send(2)
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "gaps") {
		t.Fatalf("a byte every 2 bytes: %v, want a protocol violation for the gaps", err)
	}
	t.Log(err)
}
