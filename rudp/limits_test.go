package rudp

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/stream"
)

// TestConfigLimits: every limit has its default, and a value out of range
// is refused with an error that names the field.
func TestConfigLimits(t *testing.T) {
	cfg, err := (*Config)(nil).resolve()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConnections != defaultMaxConnections || cfg.AcceptQueue != 1024 {
		t.Fatalf("defaults: MaxConnections %d, AcceptQueue %d", cfg.MaxConnections, cfg.AcceptQueue)
	}
	p := cfg.transportParams()
	want := transportParams{streams: stream.Limits{MaxData: stream.DefaultConnWindow, MaxStreamData: stream.DefaultStreamWindow,
		MaxStreams: stream.DefaultMaxIncoming}, messages: message.DefaultWindow}
	if p.streams != want.streams || p.messages != want.messages {
		t.Fatalf("announced limits %+v, %d; want %+v, %d", p.streams, p.messages, want.streams, want.messages)
	}
	for _, c := range []struct {
		field string
		cfg   Config
	}{
		{"StreamWindow", Config{StreamWindow: -1}},
		{"ConnWindow", Config{ConnWindow: maxWindow + 1}},
		{"SendBuffer", Config{SendBuffer: -5}},
		{"MaxIncomingStreams", Config{MaxIncomingStreams: maxWindow + 1}},
		{"MessageWindow", Config{MessageWindow: -1}},
		{"MaxConnections", Config{MaxConnections: -1}},
		{"MaxConnections", Config{MaxConnections: maxConnections + 1}},
	} {
		if _, err := c.cfg.resolve(); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s out of range: %v, want an error naming it", c.field, err)
		}
	}
}

// TestAbuserClosedWithReason: a peer that authenticated and then goes
// past a limit we announced, which the honest engine never does, is
// closed with CodeProtocolViolation and a reason that names the limit.
func TestAbuserClosedWithReason(t *testing.T) {
	for _, c := range []struct {
		name    string
		packets func(limit transportParams) [][]byte
		reason  string
	}{
		{"a stream beyond MaxIncomingStreams", func(l transportParams) [][]byte {
			// The peer dialed, so its streams have even IDs: 0, 2, ...
			var ps [][]byte
			for i := range l.streams.MaxStreams + 1 {
				ps = append(ps, wire.AppendStream(nil, 2*i, 0, []byte("x"), false, true))
			}
			return ps
		}, "beyond its limit"},
		{"stream data past ConnWindow", func(l transportParams) [][]byte {
			var ps [][]byte
			chunk := make([]byte, 1024)
			for off := uint64(0); off <= l.streams.MaxData; off += uint64(len(chunk)) {
				id := 2 * (off / l.streams.MaxStreamData)
				ps = append(ps, wire.AppendStream(nil, id, off%l.streams.MaxStreamData, chunk, false, true))
			}
			return ps
		}, "connection window"},
		{"message fragments past MessageWindow", func(l transportParams) [][]byte {
			// First fragments of 1 MiB messages, never the rest.
			var ps [][]byte
			span := uint64(message.MaxSize + message.Overhead)
			for i := range l.messages/span + 1 {
				ps = append(ps, wire.AppendMessage(nil, i, i*span, message.MaxSize, 0, make([]byte, 1000)))
			}
			return ps
		}, "past the window"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHandDriven(t)
			defer h.close()
			ps := c.packets(h.e.cfg.transportParams())
			for i, p := range ps {
				if h.c.state != stateOpen {
					t.Fatalf("closed after %d of %d packets: %v", i, len(ps), h.c.err)
				}
				h.deliver(p)
			}
			var ce *CloseError
			if !errors.As(h.c.err, &ce) || ce.Code != CodeProtocolViolation || ce.Remote || !strings.Contains(ce.Reason, c.reason) {
				t.Fatalf("after the last packet: %v, want a local close with CodeProtocolViolation naming %q", h.c.err, c.reason)
			}
			t.Logf("closed: %v", ce)
		})
	}
}

// TestSilentPeerBoundsSendSide: a peer that advertises the largest
// windows (1 GiB) and then acknowledges nothing (here: everything it
// sends is lost, as if it dropped its acknowledgments on purpose) gets no
// more than our SendBuffer of one stream: Write blocks there, probe
// timeouts resend without holding more, and the idle timeout ends it.
func TestSilentPeerBoundsSendSide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const sendBuffer = 1 << 20
		abuser := &Config{StreamWindow: maxWindow, ConnWindow: maxWindow, IdleTimeout: 5 * time.Minute}
		us := &Config{SendBuffer: sendBuffer, IdleTimeout: time.Minute}
		p := newPair(t, link10ms, abuser, us)
		client, server := p.connect(t)
		synctest.Wait()
		before := memInUse()
		p.la.SetSpec(linkemu.Spec{Loss: 1}) // the abuser goes silent
		s, err := server.OpenStream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var written atomic.Int64
		done := make(chan error, 1)
		go func() {
			chunk := make([]byte, 64<<10)
			for {
				n, err := s.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(5 * time.Second)
		early, ptosEarly := memInUse(), server.Stats().ProbeTimeouts
		time.Sleep(40 * time.Second) // probe timeouts back off to their cap and repeat
		late, st := memInUse(), server.Stats()
		if w := written.Load(); w != sendBuffer {
			t.Fatalf("wrote %d bytes to a peer that acknowledges nothing, want the send buffer, %d", w, sendBuffer)
		}
		if st.ProbeTimeouts <= ptosEarly {
			t.Fatalf("no probe timeouts in 40 s of silence (%d, then %d)", ptosEarly, st.ProbeTimeouts)
		}
		t.Logf("silent peer: %d bytes written, %d probe timeouts, %d packets sent; heap and stacks grew %d bytes after 5 s, %d after 45 s (both ends)",
			written.Load(), st.ProbeTimeouts, st.PacketsSent, early-before, late-before)
		// Both ends live here: our send buffer, and what the abuser
		// received of it; the bound is generous, but far below what the
		// advertised window would allow.
		if late-before > 4*sendBuffer {
			t.Fatalf("memory grew by %d bytes with a send buffer of %d", late-before, sendBuffer)
		}
		if late-early > sendBuffer/4 {
			t.Fatalf("memory grew by %d bytes more while the peer stayed silent", late-early)
		}
		err = <-done // the idle timeout
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("Write ended with %v, want the idle timeout", err)
		}
		if w := written.Load(); w != sendBuffer {
			t.Fatalf("wrote %d bytes in all, want %d", w, sendBuffer)
		}
		client.CloseWithError(0, "")
	})
}

// TestMaxConnections: with MaxConnections taken by idle connections, new
// initiations are dropped before any work or state, so the endpoint holds
// exactly its cap; when one goes, another gets in. It measures the memory
// of an idle connection too.
func TestMaxConnections(t *testing.T) {
	limit, extra := 1000, 1000
	if testing.Short() {
		limit, extra = 100, 100
	}
	// As in TestThousandConnections: give the handshakes of a loaded
	// machine time, and keep the first connections from idling out
	// while the last are made.
	cfg := &Config{HandshakeTimeout: 2 * time.Minute, IdleTimeout: 5 * time.Minute, MaxConnections: limit}
	l := listenLoopback(t, cfg)
	ce := clientEndpoint(t, &Config{HandshakeTimeout: 2 * time.Minute, IdleTimeout: 5 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	go func() {
		for {
			if _, err := l.Accept(ctx); err != nil {
				return
			}
		}
	}()
	before := memInUse()
	dial := func(n, atOnce int, c *Config) (conns []*Conn, errs []error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, atOnce)
		for range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx := ctx
				if c != nil {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, c.HandshakeTimeout)
					defer cancel()
				}
				conn, err := ce.Dial(ctx, l.Addr().String(), l.Endpoint().Identity().Card())
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else {
					conns = append(conns, conn)
				}
			}()
		}
		wg.Wait()
		return conns, errs
	}
	conns, errs := dial(limit, 100, nil) // a hundred handshakes at a time
	if len(errs) > 0 {
		t.Fatalf("%d of %d dials under the cap failed, the first: %v", len(errs), limit, errs[0])
	}
	// Retried initiations leave pending connections on the listener until
	// their dial confirms one of its connections; wait for them to go, so
	// that the cap holds exactly the established ones.
	for deadline := time.Now().Add(time.Minute); l.Endpoint().Stats().Connections != limit; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("listener holds %d connections, want %d", l.Endpoint().Stats().Connections, limit)
		}
	}
	waitParked(t, l.Endpoint(), ce)
	idle := memInUse()
	perConn := (idle - before) / int64(2*limit) // both ends live here
	t.Logf("memory per idle connection: %d bytes (%d connections, both ends)", perConn, 2*limit)

	// Past the cap: a short handshake timeout, since every one of them
	// must time out (after two initiations), and more at once, since
	// they cost the listener nothing; not so many that the handshake
	// queue overflows, which would drop them before they are counted.
	st0 := l.Endpoint().Stats()
	more, errs := dial(extra, handshakeQueue/2, &Config{HandshakeTimeout: 1500 * time.Millisecond})
	if len(more) > 0 {
		t.Fatalf("%d dials past MaxConnections succeeded", len(more))
	}
	for _, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("dial past MaxConnections: %v, want a handshake timeout", err)
		}
	}
	st := l.Endpoint().Stats()
	if st.Connections != limit || st.HandshakesAccepted != st0.HandshakesAccepted {
		t.Fatalf("past the cap the listener holds %d connections and accepted %d more handshakes", st.Connections, st.HandshakesAccepted-st0.HandshakesAccepted)
	}
	if dropped := st.HandshakesDropped - st0.HandshakesDropped; dropped < uint64(extra) {
		t.Fatalf("%d initiations dropped for %d dials past the cap", dropped, extra)
	}
	after := memInUse()
	t.Logf("%d dials refused: %d initiations dropped, memory %+d bytes", extra, st.HandshakesDropped-st0.HandshakesDropped, after-idle)

	// The listener's own Dial is refused at its cap as well.
	if _, err := l.Endpoint().Dial(ctx, ce.Addr().String(), ce.Identity().Card()); !errors.Is(err, ErrMaxConnections) {
		t.Fatalf("Dial at the cap: %v, want ErrMaxConnections", err)
	}
	// One goes, another gets in.
	conns[0].CloseWithError(0, "")
	<-conns[0].Done()
	for deadline := time.Now().Add(time.Minute); l.Endpoint().Stats().Connections >= limit; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection still counts a minute later")
		}
	}
	if _, err := ce.Dial(ctx, l.Addr().String(), l.Endpoint().Identity().Card()); err != nil {
		t.Fatalf("dial after one left: %v", err)
	}
}

// waitParked waits until every connection loop of the endpoints has
// parked, so that what is measured next is idle connections.
func waitParked(t *testing.T, es ...*Endpoint) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		running := 0
		for _, e := range es {
			e.mu.Lock()
			for _, c := range e.conns {
				if c.loopState.Load() == loopRunning {
					running++
				}
			}
			e.mu.Unlock()
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connection loops still running a minute after the last exchange", running)
		}
	}
}
