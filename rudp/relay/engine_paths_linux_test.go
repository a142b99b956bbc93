package relay_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
	"github.com/pydevts/pydevts/rudp/relay"
)

// Transfers of the relay failover tests: enough for the event to land in
// the middle of a busy stream and of messages in flight.
const (
	failoverBytes    = 16 << 20
	failoverMessages = 200 // each way
)

// relayPair connects a client to a listener through the relays alone
// (no UDP, no TCP), each side a client of every one of them.
func relayPair(t *testing.T, ctx context.Context, servers ...*relay.TestServer) (client, server *rudp.Conn) {
	t.Helper()
	var relays []rudp.Relay
	for _, s := range servers {
		relays = append(relays, rudp.Relay{Addr: s.Addr, Key: s.Key})
	}
	cfg := &rudp.Config{NoUDP: true, Relays: relays}
	return connectPair(t, ctx,
		func() (*rudp.Listener, error) { return rudp.Listen("udp", "", cfg) },
		func(peer handshake.Card) (*rudp.Conn, error) { return rudp.Dial(ctx, "udp", "", peer, cfg) })
}

// connectPair makes a listener with listen and a client with dial, and
// returns the client and the connection the listener accepted, each
// closed when the test ends or ctx does.
func connectPair(t *testing.T, ctx context.Context, listen func() (*rudp.Listener, error), dial func(handshake.Card) (*rudp.Conn, error)) (client, server *rudp.Conn) {
	t.Helper()
	l, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan *rudp.Conn, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = dial(l.Endpoint().Identity().Card())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseWithError(1, "test over") })
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { server.CloseWithError(1, "test over") })
	// Stream reads and writes take no context: a hang ends them here.
	stop := context.AfterFunc(ctx, func() {
		client.CloseWithError(1, "out of patience")
		server.CloseWithError(1, "out of patience")
	})
	t.Cleanup(func() { stop() })
	return client, server
}

// twoRelays starts two of our relays and connects a client and a server
// through them (relayPair), under a context that ends with the test or
// after failoverPatience.
func twoRelays(t *testing.T) (ctx context.Context, a, b *relay.TestServer, client, server *rudp.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), failoverPatience)
	t.Cleanup(cancel)
	a, b = relay.StartTestServer(t), relay.StartTestServer(t)
	client, server = relayPair(t, ctx, a, b)
	return ctx, a, b, client, server
}

// activeRelay returns which of servers carries c's traffic; nil: none.
func activeRelay(c *rudp.Conn, servers ...*relay.TestServer) *relay.TestServer {
	for _, p := range c.Stats().Paths {
		if p.Active {
			for _, s := range servers {
				if p.Addr == s.Addr {
					return s
				}
			}
		}
	}
	return nil
}

// transfer sends size bytes on a stream from client to server and
// messages messages each way (engineMessage), and calls event (if not
// nil) once when half the stream has arrived; it checks the stream with
// SHA-256 and that every message arrives exactly once, intact.
func transfer(t *testing.T, ctx context.Context, client, server *rudp.Conn, size, messages int, event func()) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var chachaSeed [32]byte
	binary.LittleEndian.PutUint64(chachaSeed[:], seed)
	data := make([]byte, size)
	rand.NewChaCha8(chachaSeed).Read(data)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		s, err := client.OpenStream(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := s.Write(data); err != nil {
			t.Errorf("stream write: %v", err)
		}
		s.CloseWrite()
	})
	wg.Go(func() {
		s, err := server.AcceptStream(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		got := make([]byte, 0, len(data))
		buf := make([]byte, 64<<10)
		fired := false
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			if !fired && event != nil && len(got) >= len(data)/2 {
				fired = true
				t.Logf("event after %d bytes, %v", len(got), time.Since(start).Round(time.Millisecond))
				event()
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("stream read after %d bytes: %v", len(got), err)
				return
			}
		}
		if sha256.Sum256(got) != sha256.Sum256(data) {
			t.Errorf("stream: %d of %d bytes arrived, SHA-256 %x, sent %x", len(got), len(data), sha256.Sum256(got), sha256.Sum256(data))
		}
	})
	for _, from := range []struct {
		name     string
		src, dst *rudp.Conn
	}{{"client", client, server}, {"server", server, client}} {
		var next atomic.Int64
		for range 8 {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= messages {
						return
					}
					if err := from.src.SendMessage(ctx, engineMessage(seed, from.name, i)); err != nil {
						t.Errorf("%s message %d: %v", from.name, i, err)
						return
					}
					time.Sleep(10 * time.Millisecond) // spread over the transfer
				}
			})
		}
		wg.Go(func() { receiveMessages(t, ctx, from.dst, seed, from.name, messages) })
	}
	wg.Wait()
	t.Logf("%d bytes and %d messages each way in %v", len(data), messages, time.Since(start).Round(time.Millisecond))
}

func logPaths(t *testing.T, name string, c *rudp.Conn) {
	t.Helper()
	s := c.Stats()
	t.Logf("%s: %d packets sent, %d lost, %d switches, %d failures, %d demotions", name, s.PacketsSent, s.PacketsLost, s.PathSwitches, s.PathFailures, s.PathDemotions)
	for _, p := range s.Paths {
		t.Logf("  %s %s rtt %v sent %d lost %d auth failures %d demotions %d", p.Name, p.State, p.RTT, p.PacketsSent, p.Lost, p.AuthFailures, p.Demotions)
	}
}

// TestEngineTwoRelays: with two healthy relays, a bulk transfer stays on
// one, and neither side takes the congestion drops of a busy relay for
// misbehaviour (no demotion, no failure).
func TestEngineTwoRelays(t *testing.T) {
	ctx, _, _, client, server := twoRelays(t)
	transfer(t, ctx, client, server, failoverBytes, failoverMessages, nil)
	for _, c := range []struct {
		name string
		c    *rudp.Conn
	}{{"client", client}, {"server", server}} {
		logPaths(t, c.name, c.c)
		if s := c.c.Stats(); s.PathDemotions != 0 || s.PathFailures != 0 || len(s.Paths) != 2 {
			t.Errorf("%s: %d demotions, %d failures, %d paths; want 0, 0, 2", c.name, s.PathDemotions, s.PathFailures, len(s.Paths))
		}
	}
}

// TestEngineRelayKilled: the relay that carries a connection dies in the
// middle of a stream and of messages both ways; the connection moves to
// the other relay, and every byte and message arrives, once.
func TestEngineRelayKilled(t *testing.T) {
	ctx, a, b, client, server := twoRelays(t)
	var first *relay.TestServer
	transfer(t, ctx, client, server, failoverBytes, failoverMessages, func() {
		if first = activeRelay(client, a, b); first == nil {
			t.Error("no relay is active")
			return
		}
		if err := first.Stop(); err != nil {
			t.Error(err)
		}
	})
	logPaths(t, "client", client)
	logPaths(t, "server", server)
	for _, c := range []*rudp.Conn{client, server} {
		if now := activeRelay(c, a, b); now == nil || now == first {
			t.Errorf("on relay %v; want the one not killed", now)
		}
		if s := c.Stats(); s.PathSwitches == 0 {
			t.Errorf("no path switch: %+v", s.Paths)
		}
	}
}

// TestEngineRelayTampers: the relay that carries a connection starts to
// flip a bit in one of every three Data packets it forwards, both ways,
// in the middle of a transfer. The engine tells (the packets fail
// authentication), demotes that relay, and goes on through the other:
// the connection survives and the data arrive intact.
func TestEngineRelayTampers(t *testing.T) {
	ctx, a, b, client, server := twoRelays(t)
	var bad *relay.TestServer
	var n, flipped atomic.Uint64
	transfer(t, ctx, client, server, failoverBytes, failoverMessages, func() {
		if bad = activeRelay(client, a, b); bad == nil {
			t.Error("no relay is active")
			return
		}
		bad.Tamper(func(payload []byte) bool {
			if n.Add(1)%3 == 0 && len(payload) > 0 {
				i := int(n.Load()*7919) % (len(payload) * 8)
				payload[i/8] ^= 1 << (i % 8)
				flipped.Add(1)
			}
			return true
		})
	})
	logPaths(t, "client", client)
	logPaths(t, "server", server)
	t.Logf("the relay flipped a bit in %d of %d packets", flipped.Load(), n.Load())
	if flipped.Load() == 0 {
		t.Fatal("the relay tampered with nothing: the test tests nothing")
	}
	demotions, authFailures := uint64(0), uint64(0)
	for _, c := range []*rudp.Conn{client, server} {
		if now := activeRelay(c, a, b); now == nil || now == bad {
			t.Errorf("on relay %v; want the one that does not tamper", now)
		}
		s := c.Stats()
		demotions += s.PathDemotions
		for _, p := range s.Paths {
			authFailures += p.AuthFailures
		}
	}
	if demotions == 0 || authFailures == 0 {
		t.Errorf("%d demotions, %d packets failed authentication: want some of each", demotions, authFailures)
	}
}

// TestEngineRelayStalls: the relay that carries a connection stops
// forwarding Data in the middle of a transfer, its connections to the
// clients up all the while. The connection finds the path silent, moves
// to the other relay, and every byte and message arrives, once.
func TestEngineRelayStalls(t *testing.T) {
	ctx, a, b, client, server := twoRelays(t)
	var stalled *relay.TestServer
	var dropped atomic.Uint64
	transfer(t, ctx, client, server, failoverBytes, failoverMessages, func() {
		if stalled = activeRelay(client, a, b); stalled == nil {
			t.Error("no relay is active")
			return
		}
		stalled.Tamper(func([]byte) bool { dropped.Add(1); return false })
	})
	logPaths(t, "client", client)
	logPaths(t, "server", server)
	if dropped.Load() == 0 {
		t.Fatal("the relay dropped nothing: the test tests nothing")
	}
	for _, c := range []*rudp.Conn{client, server} {
		if now := activeRelay(c, a, b); now == nil || now == stalled {
			t.Errorf("on relay %v; want the one that forwards", now)
		}
	}
	if s := client.Stats(); s.PathFailures == 0 {
		t.Errorf("the client saw no path fail: %+v", s.Paths)
	}
}

// failoverPatience is a safety net against a hang, never a performance
// threshold.
const failoverPatience = 2 * time.Minute
