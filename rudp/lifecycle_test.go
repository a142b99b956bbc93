package rudp

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/handshake"
)

// pair is two endpoints joined by an in-memory link; run it inside a
// synctest bubble.
type pair struct {
	la, lb *linkemu.MemConn
	ea, eb *Endpoint
}

func newPair(t *testing.T, spec linkemu.Spec, cfgA, cfgB *Config) *pair {
	t.Helper()
	return newPairMTU(t, spec, 0, cfgA, cfgB)
}

// newPairMTU is newPair over a link that carries datagrams of at most mtu
// bytes (0: linkemu's default).
func newPairMTU(t *testing.T, spec linkemu.Spec, mtu int, cfgA, cfgB *Config) *pair {
	t.Helper()
	la, lb, err := linkemu.MemPair(linkemu.MemConfig{AB: spec, BA: spec, Seed: 1, MTU: mtu})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{la: la, lb: lb}
	if p.ea, err = NewEndpoint(la, cfgA); err != nil {
		t.Fatal(err)
	}
	if p.eb, err = NewEndpoint(lb, cfgB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.ea.Close()
		p.eb.Close()
	})
	return p
}

var link10ms = linkemu.Spec{Delay: 10 * time.Millisecond}

// connect dials from a to b and accepts there.
func (p *pair) connect(t *testing.T) (client, server *Conn) {
	t.Helper()
	ctx := context.Background()
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := p.eb.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := p.ea.Dial(ctx, p.lb.LocalAddr().String(), p.eb.Identity().Card())
	if err != nil {
		t.Fatal(err)
	}
	return c, <-accepted
}

// TestVanishedPeer: when the path goes dark, both ends notice after the
// idle timeout, not before and not much after.
func TestVanishedPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &Config{IdleTimeout: 6 * time.Second}
		p := newPair(t, link10ms, cfg, cfg)
		client, server := p.connect(t)
		synctest.Wait()
		cut := time.Now()
		p.la.SetSpec(linkemu.Spec{Loss: 1})
		p.lb.SetSpec(linkemu.Spec{Loss: 1})
		<-client.Done()
		took := time.Since(cut)
		if took > 6*time.Second || took < 5*time.Second {
			t.Fatalf("vanished peer noticed after %v with a 6s idle timeout", took)
		}
		var te interface{ Timeout() bool }
		if !errors.As(client.Err(), &te) || !te.Timeout() || !errors.Is(client.Err(), net.ErrClosed) {
			t.Fatalf("client.Err() = %v, want an idle timeout", client.Err())
		}
		<-server.Done()
	})
}

// TestKeepAlive: a connection with nothing to say stays up for many idle
// timeouts, and sends only keepalives.
func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := &Config{IdleTimeout: 3 * time.Second}
		p := newPair(t, link10ms, cfg, cfg)
		client, server := p.connect(t)
		time.Sleep(time.Minute)
		if client.Err() != nil || server.Err() != nil {
			t.Fatalf("idle connection ended: %v / %v", client.Err(), server.Err())
		}
		// The client sends a keepalive every second (a third of the
		// idle timeout), the server acknowledges each and sends none.
		cs, ss := client.Stats(), server.Stats()
		t.Logf("a quiet minute: client sent %d packets, server %d", cs.PacketsSent, ss.PacketsSent)
		if cs.PacketsSent > 70 || ss.PacketsSent > 70 {
			t.Fatalf("%d and %d packets in a quiet minute, want about 60 each", cs.PacketsSent, ss.PacketsSent)
		}
		ctx := context.Background()
		if err := client.SendMessage(ctx, []byte("still there")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAllowAndWrongKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stranger, _ := handshake.NewIdentity()
		cfgB := &Config{Allow: []string{stranger.Fingerprint()}, HandshakeTimeout: 3 * time.Second}
		p := newPair(t, link10ms, &Config{HandshakeTimeout: 3 * time.Second}, cfgB)
		ctx := context.Background()
		start := time.Now()
		_, err := p.ea.Dial(ctx, p.lb.LocalAddr().String(), p.eb.Identity().Card())
		if !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("dial by a peer not on the allow-list: %v", err)
		}
		// At the timeout, not later: a loop that a timer ended must not
		// park first (nothing would wake it for an hour).
		if took := time.Since(start); took > 3*time.Second+100*time.Millisecond {
			t.Fatalf("dial gave up after %v, HandshakeTimeout is 3s", took)
		}
		if p.eb.Stats().HandshakesDropped == 0 {
			t.Fatal("refused initiations not counted")
		}
		// Dialling with the wrong identity for the peer gets no answer.
		other, _ := handshake.NewIdentity()
		if _, err := p.ea.Dial(ctx, p.lb.LocalAddr().String(), other.Card()); !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("dial with the wrong peer key: %v", err)
		}
		// A context that ends first ends the dial.
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := p.ea.Dial(short, p.lb.LocalAddr().String(), other.Card()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial with an ending context: %v", err)
		}
	})
}

// TestGarbageIsDroppedAndCounted throws junk at an endpoint while a real
// connection works: nothing is answered, everything is counted, and the
// connection carries on.
func TestGarbageIsDroppedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, link10ms, nil, nil)
		client, server := p.connect(t)
		ctx := context.Background()
		synctest.Wait()
		before := p.lb.Stats()
		beforeB := server.Stats()
		to := p.lb.LocalAddr()
		r := rand.New(rand.NewPCG(1, 1))
		junk := [][]byte{{}, {0x80}, {1, 1, 0, 0}, make([]byte, 2000)}
		for range 200 {
			b := make([]byte, r.IntN(1500))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			junk = append(junk, b)
		}
		// Valid-looking data packets for the server's connection: right
		// header, garbage payload.
		for i := range 50 {
			b := make([]byte, 100)
			b[0] = 0x80
			for j := 2; j < 10; j++ {
				b[j] = byte(server.localID >> (8 * (9 - j)))
			}
			b[17] = byte(i)
			junk = append(junk, b)
		}
		for _, b := range junk {
			p.la.WriteTo(b, to)
		}
		synctest.Wait()
		time.Sleep(time.Second)
		if after := p.lb.Stats(); after.Packets-before.Packets > 5 {
			t.Fatalf("the endpoint under attack sent %d packets", after.Packets-before.Packets)
		}
		st := p.eb.Stats()
		if st.DroppedMalformed+st.DroppedUnknownConn == 0 || server.Stats().PacketsDropped-beforeB.PacketsDropped < 50 {
			t.Fatalf("junk not counted: endpoint %+v, connection dropped %d", st, server.Stats().PacketsDropped)
		}
		if err := client.SendMessage(ctx, []byte("unharmed")); err != nil {
			t.Fatal(err)
		}
		if m, err := server.ReceiveMessage(ctx); err != nil || string(m) != "unharmed" {
			t.Fatalf("%q %v", m, err)
		}
	})
}

func TestAcceptQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, link10ms, nil, &Config{AcceptQueue: 1})
		ctx := context.Background()
		first, err := p.ea.Dial(ctx, p.lb.LocalAddr().String(), p.eb.Identity().Card())
		if err != nil {
			t.Fatal(err)
		}
		second, err := p.ea.Dial(ctx, p.lb.LocalAddr().String(), p.eb.Identity().Card())
		if err != nil {
			t.Fatal(err)
		}
		<-second.Done()
		var ce *CloseError
		if !errors.As(second.Err(), &ce) || ce.Code != CodeAcceptQueueFull || !ce.Remote {
			t.Fatalf("second connection: %v, want CodeAcceptQueueFull", second.Err())
		}
		if first.Err() != nil {
			t.Fatalf("first connection: %v", first.Err())
		}
		if c, err := p.eb.Accept(ctx); err != nil || c == nil {
			t.Fatal(err)
		}
	})
}

func TestMessageTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, link10ms, &Config{MessageTTL: time.Second}, nil)
		client, _ := p.connect(t)
		p.la.SetSpec(linkemu.Spec{Loss: 1})
		start := time.Now()
		err := client.SendMessage(context.Background(), []byte("too late"))
		if err == nil || time.Since(start) != time.Second {
			t.Fatalf("SendMessage over a dead path: %v after %v", err, time.Since(start))
		}
	})
}

// TestCongestionControlConfig: the controller a Config names is the one
// the connection runs, and a name the engine does not know is refused
// before anything starts.
func TestCongestionControlConfig(t *testing.T) {
	la, _, err := linkemu.MemPair(linkemu.MemConfig{AB: link10ms, BA: link10ms, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	if _, err := NewEndpoint(la, &Config{CongestionControl: "vegas"}); err == nil || !strings.Contains(err.Error(), `"vegas"`) {
		t.Fatalf("unknown controller: %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, link10ms, &Config{CongestionControl: "cubic"}, nil)
		client, server := p.connect(t)
		if st := client.Stats().CongestionState; st != "slow_start" {
			t.Errorf("cubic client in state %q", st)
		}
		if st := server.Stats(); st.CongestionState != "startup" || st.PacingRate <= 0 {
			t.Errorf("default server: state %q, pacing %v", st.CongestionState, st.PacingRate)
		}
	})
}

// TestConcurrentDialsOneIdentity: one endpoint dials 64 connections to a
// listener at once. Their initiations, all from one identity, reach the
// listener in any order; none may be taken for a replay (each would cost
// its dial a retry a second later).
func TestConcurrentDialsOneIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := listenLoopback(t, nil)
	go func() {
		for {
			c, err := l.Accept(ctx)
			if err != nil {
				return
			}
			defer c.CloseWithError(0, "")
		}
	}()
	e := clientEndpoint(t, nil)
	const dials = 64
	errs := make(chan error, dials)
	for range dials {
		go func() {
			c, err := e.Dial(ctx, l.Addr().String(), l.Endpoint().Identity().Card())
			if err == nil {
				c.CloseWithError(0, "")
			}
			errs <- err
		}()
	}
	for range dials {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := l.Endpoint().Stats()
	t.Logf("listener: %d handshakes accepted, %d refused", st.HandshakesAccepted, st.HandshakesDropped)
	if st.HandshakesDropped != 0 || st.HandshakesAccepted < dials {
		t.Errorf("%d initiations refused, %d accepted, for %d dials", st.HandshakesDropped, st.HandshakesAccepted, dials)
	}
}

// TestDialEstablishedThenClosed: a dial whose handshake completed and
// whose connection the peer then closed at once, before Dial looked,
// returns the connection, whose reads report the close; never the
// peer's close as a failed dial, as select's random choice between the
// two would half the time.
func TestDialEstablishedThenClosed(t *testing.T) {
	for range 64 {
		c := &Conn{established: make(chan struct{}), done: make(chan struct{}), err: &CloseError{Remote: true}}
		close(c.established)
		close(c.done)
		if err := c.waitEstablished(context.Background()); err != nil {
			t.Fatalf("established, then closed: %v", err)
		}
	}
	c := &Conn{established: make(chan struct{}), done: make(chan struct{}), err: ErrHandshakeTimeout}
	close(c.done)
	if err := c.waitEstablished(context.Background()); err != ErrHandshakeTimeout {
		t.Fatalf("never established: %v", err)
	}
}

// slowResponses is a socket that loses the first handshake response it
// receives (drop), or delivers every one delay late. Only the endpoint's
// reader calls ReadFrom.
type slowResponses struct {
	net.PacketConn
	drop    bool
	delay   time.Duration
	dropped atomic.Bool
	held    []heldDatagram
}

type heldDatagram struct {
	b    []byte
	from net.Addr
	at   time.Time
}

func (d *slowResponses) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		deadline := time.Time{}
		if len(d.held) > 0 {
			if h := d.held[0]; !time.Now().Before(h.at) {
				d.held = d.held[1:]
				return copy(b, h.b), h.from, nil
			}
			deadline = d.held[0].at
		}
		d.PacketConn.SetReadDeadline(deadline)
		n, from, err := d.PacketConn.ReadFrom(b)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			continue // a held response is due
		}
		if err != nil || n == 0 || handshake.MessageType(b[0]) != handshake.TypeResponse {
			return n, from, err
		}
		switch {
		case d.drop && d.dropped.CompareAndSwap(false, true):
		case d.delay > 0:
			d.held = append(d.held, heldDatagram{bytes.Clone(b[:n]), from, time.Now().Add(d.delay)})
		default:
			return n, from, err
		}
	}
}

// dialSlow dials a new listener through sock, made on a fresh socket,
// and returns both ends, the listener's endpoint, and the listener's
// connection for the dial's first initiation.
func dialSlow(t *testing.T, ctx context.Context, sock func(net.PacketConn) net.PacketConn) (c, s, first *Conn, le *Endpoint) {
	t.Helper()
	l := listenLoopback(t, nil)
	le = l.Endpoint()
	accepted := acceptOne(t, ctx, l)
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEndpoint(sock(u), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	dialed := make(chan error, 1)
	go func() {
		var err error
		c, err = e.Dial(ctx, l.Addr().String(), le.Identity().Card())
		dialed <- err
	}()
	// The first initiation's connection, before the retry a second later.
	for first == nil {
		le.mu.Lock()
		for _, x := range le.conns {
			first = x
		}
		le.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if err := <-dialed; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseWithError(0, "") })
	if s = <-accepted; s == nil {
		t.FailNow()
	}
	if err := c.SendMessage(ctx, []byte("through")); err != nil {
		t.Fatal(err)
	}
	if m, err := s.ReceiveMessage(ctx); err != nil || string(m) != "through" {
		t.Fatalf("message %q, %v", m, err)
	}
	return c, s, first, le
}

// waitSuperseded waits for the listener's connection x to end as one the
// initiator did not take.
func waitSuperseded(t *testing.T, ctx context.Context, x *Conn) {
	t.Helper()
	select {
	case <-x.done:
	case <-ctx.Done():
		t.Fatal("the connection the initiator did not take is still there")
	}
	if !errors.Is(x.err, errSuperseded) {
		t.Errorf("the connection the initiator did not take ended with %v, want %v", x.err, errSuperseded)
	}
}

// TestRetriedInitiationReplacesPending: when a dial's first response is
// lost, its retried initiation makes a new connection on the listener;
// once the initiator confirms that one, the one the first initiation
// made ends at once: a dial holds its pending connections only until it
// chooses one (under load they would fill MaxConnections for 10 s).
func TestRetriedInitiationReplacesPending(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, s, first, le := dialSlow(t, ctx, func(u net.PacketConn) net.PacketConn { return &slowResponses{PacketConn: u, drop: true} })
	if s == first {
		t.Fatal("the listener accepted the connection of the initiation whose response was lost")
	}
	waitSuperseded(t, ctx, first)
	if st := le.Stats(); st.Connections != 1 || st.HandshakesAccepted != 2 {
		t.Errorf("listener: %d connections, %d handshakes accepted; want 1 and 2", st.Connections, st.HandshakesAccepted)
	}
}

// TestSlowResponseKeepsFirstConnection: every response takes 1.5 s, so the
// dial sends its second initiation before the first response arrives,
// then takes that first response. The listener must keep the first
// connection, which the initiator uses, and end the second.
func TestSlowResponseKeepsFirstConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, s, first, le := dialSlow(t, ctx, func(u net.PacketConn) net.PacketConn {
		return &slowResponses{PacketConn: u, delay: 1500 * time.Millisecond}
	})
	if s != first {
		t.Fatal("the listener accepted another connection than the first initiation's")
	}
	le.mu.Lock()
	var second *Conn
	for _, x := range le.conns {
		if x != first {
			second = x
		}
	}
	le.mu.Unlock()
	if second != nil {
		waitSuperseded(t, ctx, second)
	}
	if st := le.Stats(); st.Connections != 1 || st.HandshakesAccepted < 2 {
		t.Errorf("listener: %d connections, %d handshakes accepted; want 1 and at least 2", st.Connections, st.HandshakesAccepted)
	}
}
