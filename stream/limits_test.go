package stream

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/internal/wire"
)

// abuser plays a peer that follows the frame format but not the spirit:
// it drives a responder's Map (peer streams have odd IDs) frame by frame
// and acknowledges whatever the Map sends at once.
type abuser struct {
	t         testing.TB
	m         *Map
	maxStream uint64 // streams the Map lets it open in all, from MAX_STREAMS
	next      uint64 // its next stream ID
}

func newAbuser(t testing.TB, cfg Config) *abuser {
	m := NewMap(cfg, true, LimitsOf(Config{}), func() {})
	cfg.fill()
	return &abuser{t: t, m: m, maxStream: uint64(cfg.MaxIncoming), next: 1}
}

// exchange takes what the Map sends, notes the stream credit it grants
// and acknowledges it all.
func (a *abuser) exchange() {
	b, sent := a.m.AppendFrames(nil, 1<<20, nil)
	for len(b) > 0 {
		var f wire.Frame
		n, err := wire.ParseFrame(b, &f)
		if err != nil {
			a.t.Fatalf("Map sent a malformed frame: %v", err)
		}
		if f.Type == wire.FrameMaxStreams {
			a.maxStream = max(a.maxStream, f.Max.Value)
		}
		b = b[n:]
	}
	for _, s := range sent {
		a.m.OnAcked(s)
	}
}

// churn opens the next stream with data and ends it both ways at once
// (RESET_STREAM, STOP_SENDING), so that nothing is left for the
// application to read or write; it returns the Map's verdict.
func (a *abuser) churn(data int) error {
	id := a.next
	a.next += 2
	for _, f := range []*wire.Frame{
		{Type: wire.FrameStream, Stream: wire.StreamFrame{ID: id, Data: make([]byte, data)}},
		{Type: wire.FrameResetStream, Reset: wire.ResetFrame{ID: id, Code: 1, FinalSize: uint64(data)}},
		{Type: wire.FrameStopSending, Reset: wire.ResetFrame{ID: id, Code: 1}},
	} {
		if err := a.m.HandleFrame(f); err != nil {
			return err
		}
	}
	a.exchange()
	return nil
}

// TestPeerStreamChurnBounded: a peer that opens streams and ends them
// itself, faster than the application accepts them, gets no new stream
// credit for them until they are accepted, so we never hold more than
// MaxIncoming of its streams; opening one more than it was granted is a
// protocol violation.
func TestPeerStreamChurnBounded(t *testing.T) {
	const limit = 8
	a := newAbuser(t, Config{MaxIncoming: limit})
	for a.next/2 < a.maxStream {
		if err := a.churn(100); err != nil {
			t.Fatalf("stream %d within the limit: %v", a.next-2, err)
		}
		if held := a.m.PeerHeld(); held > limit {
			t.Fatalf("holding %d of the peer's streams, the limit is %d", held, limit)
		}
		if a.next/2 > 10*limit {
			t.Fatalf("peer opened %d streams while the application accepted none", a.next/2)
		}
	}
	if a.next/2 != limit {
		t.Fatalf("peer could open %d streams with none accepted, want %d", a.next/2, limit)
	}
	var pe *ProtocolError
	if err := a.churn(1); !errors.As(err, &pe) {
		t.Fatalf("stream beyond the limit: %v, want a ProtocolError", err)
	}
	t.Logf("beyond the limit: %v", pe)

	// Accepting the finished streams gives the credit back.
	b := newAbuser(t, Config{MaxIncoming: limit})
	for range limit {
		if err := b.churn(100); err != nil {
			t.Fatal(err)
		}
	}
	for range limit {
		accept(t, b.m)
	}
	b.exchange()
	if b.maxStream != 2*limit {
		t.Fatalf("after accepting %d finished streams the peer may open %d in all, want %d", limit, b.maxStream, 2*limit)
	}
}

// TestPeerStreamsMemory: a peer that opens every stream it may and fills
// the connection window, while the application reads nothing, makes us
// hold about the connection window and no more.
func TestPeerStreamsMemory(t *testing.T) {
	cfg := Config{}
	cfg.fill()
	a := newAbuser(t, Config{})
	per := cfg.ConnWindow / cfg.MaxIncoming
	chunk := make([]byte, 1200)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range cfg.MaxIncoming {
		id := uint64(2*i + 1)
		for off := 0; off < per; off += len(chunk) {
			n := min(len(chunk), per-off)
			f := &wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{ID: id, Offset: uint64(off), Data: chunk[:n]}}
			if err := a.m.HandleFrame(f); err != nil {
				t.Fatalf("within the windows: %v", err)
			}
		}
	}
	// One byte more on a fresh stream is refused twice over: past the
	// stream limit and past the connection window.
	var pe *ProtocolError
	f := &wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{ID: uint64(2*cfg.MaxIncoming + 1), Data: chunk[:1]}}
	if err := a.m.HandleFrame(f); !errors.As(err, &pe) {
		t.Fatalf("stream %d past the limit: %v", f.Stream.ID, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d streams holding %d bytes of unread data: heap in use grew by %d bytes (%.2f x the connection window)",
		cfg.MaxIncoming, cfg.ConnWindow, held, float64(held)/float64(cfg.ConnWindow))
	if held > 2*int64(cfg.ConnWindow) {
		t.Fatalf("heap grew by %d bytes for a connection window of %d", held, cfg.ConnWindow)
	}
	runtime.KeepAlive(a)
}

// gapsHeld has a peer send 1-byte frames every stride bytes over each
// stream's share of the connection window, on every stream it may open,
// with the application reading nothing. It returns the heap in use
// grown and the first error the Map returned (nil: none).
func gapsHeld(t *testing.T, stride int) (int64, error) {
	cfg := Config{}
	cfg.fill()
	a := newAbuser(t, Config{})
	per := cfg.ConnWindow / cfg.MaxIncoming
	one := []byte{1}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var err error
	for i := 0; i < cfg.MaxIncoming && err == nil; i++ {
		id := uint64(2*i + 1)
		for off := 0; off < per && err == nil; off += stride {
			err = a.m.HandleFrame(&wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{ID: id, Offset: uint64(off), Data: one}})
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(a)
	return int64(after.HeapInuse) - int64(before.HeapInuse), err
}

// TestPeerStreamGapsBounded: a peer that leaves a gap after every byte it
// sends would make the record of what arrived (a range per byte) far
// larger than the data. A stream holds at most maxRecvRanges ranges; the
// peer spreading its gaps to just that many on every stream makes us
// hold well under twice the connection window, and one gap more on a
// stream is a protocol violation.
func TestPeerStreamGapsBounded(t *testing.T) {
	cfg := Config{}
	cfg.fill()
	per := cfg.ConnWindow / cfg.MaxIncoming
	limit := maxRecvRanges(cfg.StreamWindow)
	held, err := gapsHeld(t, per/limit)
	t.Logf("%d streams, %d ranges each (1 byte every %d): heap in use grew by %d bytes (%.2f x the connection window of %d)",
		cfg.MaxIncoming, limit, per/limit, held, float64(held)/float64(cfg.ConnWindow), cfg.ConnWindow)
	if err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	if held > 2*int64(cfg.ConnWindow) {
		t.Errorf("heap grew by %d bytes for a connection window of %d", held, cfg.ConnWindow)
	}
	_, err = gapsHeld(t, 2)
	var pe *ProtocolError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "gaps") {
		t.Fatalf("a byte every 2 bytes: %v, want a protocol violation for the gaps", err)
	}
	t.Log(err)
}
