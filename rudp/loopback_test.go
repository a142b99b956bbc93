package rudp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests use real UDP sockets on loopback.

func listenLoopback(t testing.TB, cfg *Config) *Listener {
	t.Helper()
	l, err := Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// connectLoopback connects a client to a new loopback listener, both
// with cfg, and returns both sides; the test's end closes them.
func connectLoopback(t testing.TB, ctx context.Context, cfg *Config) (client, server *Conn) {
	t.Helper()
	l := listenLoopback(t, cfg)
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err == nil {
			accepted <- c
		}
	}()
	c, err := Dial(ctx, "udp4", l.Addr().String(), l.Endpoint().Identity().Card(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseWithError(0, "") })
	select {
	case s := <-accepted:
		return c, s
	case <-ctx.Done():
		t.Fatal("the listener accepted no connection")
		return nil, nil
	}
}

func clientEndpoint(t testing.TB, cfg *Config) *Endpoint {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEndpoint(pc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestLoopback100MB sends 100 MB through one stream over real sockets and
// checks it with SHA-256.
func TestLoopback100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	l := listenLoopback(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const size = 100 << 20
	type result struct {
		sum [32]byte
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			done <- result{err: err}
			return
		}
		s, err := c.AcceptStream(ctx)
		if err != nil {
			done <- result{err: err}
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, s)
		var r result
		h.Sum(r.sum[:0])
		r.n, r.err = n, err
		done <- r
	}()
	c, err := Dial(ctx, "udp4", l.Addr().String(), l.Endpoint().Identity().Card(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{42})
	h := sha256.New()
	start := time.Now()
	buf := make([]byte, 1<<20)
	for sent := 0; sent < size; sent += len(buf) {
		src.Read(buf)
		h.Write(buf)
		if _, err := s.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	s.CloseWrite()
	if err := c.Close(); err != nil {
		t.Fatalf("graceful close: %v", err)
	}
	elapsed := time.Since(start)
	r := <-done
	var want [32]byte
	h.Sum(want[:0])
	if r.err != nil || r.n != size || r.sum != want {
		t.Fatalf("received %d bytes (err %v), checksum match %v", r.n, r.err, r.sum == want)
	}
	st := c.Stats()
	t.Logf("100 MiB in %v (%.0f MB/s wall); %d packets, %d lost, %d dropped, RTT %v, cwnd %d",
		elapsed.Round(time.Millisecond), size/elapsed.Seconds()/1e6, st.PacketsSent, st.PacketsLost, st.PacketsDropped, st.SmoothedRTT, st.CongestionWindow)
}

// TestThousandConnections: 1000 connections at once on one endpoint, each
// exchanging a message each way. The handshakes beyond the responder's
// burst go through the cookie path.
func TestThousandConnections(t *testing.T) {
	const n = 1000
	// A thousand handshakes at once take seconds of CPU on two cores
	// (ten times that under the race detector) and overflow the
	// handshake queue, so initiators retry; give them the time. The
	// endpoints' queues overflow too, keepalives and acknowledgments
	// among what they drop, so the connections set up first could idle
	// out (15 s) while the last ones are still shaking hands: this test
	// is about capacity, not about noticing a vanished peer.
	cfg := &Config{HandshakeTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	l := listenLoopback(t, cfg)
	ce := clientEndpoint(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := memInUse()
	served := make(chan struct{}, n) // one per server side whose reply was acknowledged
	go func() {
		for {
			c, err := l.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				m, err := c.ReceiveMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("accepted connection %x: %v (%+v)", c.localID, err, c.Stats())
					}
					return
				}
				if err := c.SendMessage(ctx, append([]byte("re: "), m...)); err != nil {
					t.Error(err)
					return
				}
				served <- struct{}{}
			}()
		}
	}()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ce.Dial(ctx, l.Addr().String(), l.Endpoint().Identity().Card())
			if err != nil {
				t.Errorf("dial %d: %v", i, err)
				return
			}
			msg := fmt.Sprintf("hello %d", i)
			if err := c.SendMessage(ctx, []byte(msg)); err != nil {
				t.Errorf("connection %d: %v", i, err)
				return
			}
			reply, err := c.ReceiveMessage(ctx)
			if err != nil || string(reply) != "re: "+msg {
				t.Errorf("connection %d: reply %q, %v", i, reply, err)
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	if ok.Load() != n {
		t.Fatalf("%d of %d connections exchanged their messages; listener %+v; client %+v", ok.Load(), n, l.Endpoint().Stats(), ce.Stats())
	}
	// And each server side's reply was acknowledged.
	for i := range n {
		select {
		case <-served:
		case <-ctx.Done():
			t.Fatalf("%d of %d server sides had their reply acknowledged", i, n)
		}
	}
	if got := l.Endpoint().Stats().Connections; got < n {
		t.Fatalf("the listener holds %d connections, want %d", got, n)
	}
	t.Logf("listener: %+v", l.Endpoint().Stats())
	// Idle means parked: a loop parks a second after its last packet.
	// Wait for that (a loaded machine may take longer), so that what is
	// measured is idle connections, not loops finishing their exchange.
	waitParked(t, l.Endpoint(), ce)
	// Both ends of each connection live in this process (the listener's
	// connections for retried initiations end once their dial confirms
	// one).
	conns := int64(l.Endpoint().Stats().Connections + ce.Stats().Connections)
	perConn := (memInUse() - before) / conns
	t.Logf("memory per idle connection: %d bytes", perConn)
	if perConn >= 16<<10 {
		t.Errorf("an idle connection holds %d bytes, the budget is 16 KiB", perConn)
	}
}

// memInUse returns the heap and stack memory in use after a collection.
func memInUse() int64 {
	var m runtime.MemStats
	// Each collection halves the stacks of goroutines that use less
	// than a quarter of theirs: a few bring idle loops to their size.
	for range 5 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// TestStalledReaderBoundsMemory: a reader that stops reading stops the
// writer once the windows and the send buffer are full, so the sender's
// memory stays bounded however much it tries to write; reading resumes
// everything.
func TestStalledReaderBoundsMemory(t *testing.T) {
	cfg := &Config{StreamWindow: 1 << 20, ConnWindow: 2 << 20, SendBuffer: 1 << 20}
	l := listenLoopback(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	accepted := make(chan io.Reader, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		s, err := c.AcceptStream(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		accepted <- s
	}()
	c, err := Dial(ctx, "udp4", l.Addr().String(), l.Endpoint().Identity().Card(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(0, "")
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	const total = 256 << 20
	go func() {
		chunk := make([]byte, 64<<10)
		for written.Load() < total {
			n, err := s.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
		s.CloseWrite()
	}()
	peer := <-accepted
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	time.Sleep(time.Second)
	stalled := written.Load()
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// The writer may be ahead of the reader by its send buffer plus the
	// stream window, and no more.
	if limit := int64(1<<20 + 1<<20 + 64<<10); stalled > limit || written.Load() != stalled {
		t.Fatalf("writer got %d (then %d) bytes ahead of a reader that reads nothing; limit %d", stalled, written.Load(), limit)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Fatalf("heap grew by %d MB while the writer was blocked", grew>>20)
	}
	// Reading again drains everything.
	n, err := io.Copy(io.Discard, peer)
	if err != nil || n != total {
		t.Fatalf("read %d of %d bytes after resuming: %v", n, total, err)
	}
}

// TestIdleConnectionParks: a connection with nothing to do parks its
// loop (no goroutine) and wakes for the peer's packets, its own user and
// its keepalive timer alike.
func TestIdleConnectionParks(t *testing.T) {
	defer func(d time.Duration) { parkAfter = d }(parkAfter)
	parkAfter = 50 * time.Millisecond
	cfg := &Config{IdleTimeout: 3 * time.Second, KeepAlive: 300 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, s := connectLoopback(t, ctx, cfg)
	parked := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for c.loopState.Load() != loopParked || s.loopState.Load() != loopParked {
			if time.Now().After(deadline) {
				t.Fatalf("%s: loops not parked (%d, %d)", what, c.loopState.Load(), s.loopState.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	parked("after the handshake")
	for i := range 3 {
		// A message each way wakes both loops; then they park again.
		want := fmt.Sprintf("ping %d", i)
		if err := c.SendMessage(ctx, []byte(want)); err != nil {
			t.Fatal(err)
		}
		got, err := s.ReceiveMessage(ctx)
		if err != nil || string(got) != want {
			t.Fatalf("received %q, %v", got, err)
		}
		parked(want)
	}
	// Keepalives (every 300 ms) wake the parked loops and keep the
	// connection alive well past its 3 s idle timeout.
	before := c.Stats().PacketsSent
	time.Sleep(4 * time.Second)
	if c.Err() != nil || s.Err() != nil {
		t.Fatalf("connection ended while idle: %v, %v", c.Err(), s.Err())
	}
	if sent := c.Stats().PacketsSent - before; sent < 3 {
		t.Fatalf("%d keepalives in 4 s", sent)
	}
	parked("after keepalives")
	if err := c.Close(); err != nil {
		t.Fatalf("graceful close of a parked connection: %v", err)
	}
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("the peer did not see the close")
	}
}

// TestParkWakeRace: loops that park between pings, woken by the peer's
// packets and their own user just as they park, never miss a wake.
// parkRace holds open the windows where a wake and a park cross, which
// otherwise last nanoseconds; nothing else would wake a loop that missed
// a wake (keepalive and idle timeout are an hour away), so a lost one
// stalls a ping until the test's deadline. Both cases failed every
// run or two before wakeLoop put its token in before it looked at the
// state: a wake that saw the loop running, then a park that saw no token.
func TestParkWakeRace(t *testing.T) {
	for name, delays := range map[string]map[string]time.Duration{
		"wake-while-parking": {"park": 300 * time.Microsecond, "wake": time.Millisecond},
		"both-slow":          {"parked": 200 * time.Microsecond, "wake": 200 * time.Microsecond},
	} {
		t.Run(name, func(t *testing.T) { parkWakeRace(t, delays) })
	}
}

func parkWakeRace(t *testing.T, delays map[string]time.Duration) {
	defer func(d time.Duration) { parkAfter = d }(parkAfter)
	defer func() { parkRace = nil }()
	parkAfter = 10 * time.Minute
	parkRace = func(where string) { time.Sleep(delays[where]) }
	cfg := &Config{IdleTimeout: time.Hour, KeepAlive: 59 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, s := connectLoopback(t, ctx, cfg)
	go func() {
		for {
			m, err := s.ReceiveMessage(ctx)
			if err != nil {
				return
			}
			go s.SendMessage(ctx, m)
		}
	}()
	const pings = 2000
	for i := range pings {
		want := fmt.Sprintf("ping %d", i)
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.SendMessage(pctx, []byte(want))
		var got []byte
		if err == nil {
			got, err = c.ReceiveMessage(pctx)
		}
		pcancel()
		if err != nil || string(got) != want {
			t.Fatalf("ping %d of %d: got %q, %v; client %+v", i, pings, got, err, c.Stats())
		}
	}
}
