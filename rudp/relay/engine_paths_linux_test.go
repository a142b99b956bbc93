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
	client, server = connectPair(t, ctx,
		func() (*rudp.Listener, error) { return rudp.Listen("udp", "", cfg) },
		func(peer handshake.Card) (*rudp.Conn, error) { return rudp.Dial(ctx, "udp", "", peer, cfg) })
	// The two sides may start on different relays (each on the first to
	// answer it); within a heartbeat one follows the other. The tests
	// are about what happens to a connection on one relay.
	waitUntil(t, ctx, "both sides on one relay", func() bool {
		r := activeRelay(client, servers...)
		return r != nil && r == activeRelay(server, servers...)
	})
	return client, server
}

// waitUntil polls cond until it holds, failing the test when ctx ends
// first (a safety net against a hang, never a performance threshold).
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// leftRelay checks that client and server have both left bad for the
// other relay, waiting for the one that follows its peer (see rudp's
// path choice) to do so.
func leftRelay(t *testing.T, ctx context.Context, bad *relay.TestServer, client, server *rudp.Conn, servers ...*relay.TestServer) {
	t.Helper()
	if bad == nil {
		return
	}
	for _, c := range []*rudp.Conn{client, server} {
		waitUntil(t, ctx, "both sides to leave relay "+bad.Addr, func() bool {
			r := activeRelay(c, servers...)
			return r != nil && r != bad
		})
	}
}

// counts sums, over client and server, the path failures and demotions.
func counts(client, server *rudp.Conn) (failures, demotions uint64) {
	for _, c := range []*rudp.Conn{client, server} {
		s := c.Stats()
		failures += s.PathFailures
		demotions += s.PathDemotions
	}
	return failures, demotions
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

// TestEngineTwoRelays: with two healthy relays, neither side takes the
// congestion drops of a busy relay for misbehaviour: no demotion. (A path
// failure is logged, not failed: on a machine loaded enough to hold an
// acknowledgment back for a second, the path timeout rightly fires.)
func TestEngineTwoRelays(t *testing.T) {
	ctx, _, _, client, server := twoRelays(t)
	transfer(t, ctx, client, server, failoverBytes, failoverMessages, nil)
	for _, c := range []struct {
		name string
		c    *rudp.Conn
	}{{"client", client}, {"server", server}} {
		logPaths(t, c.name, c.c)
		if s := c.c.Stats(); s.PathDemotions != 0 || len(s.Paths) != 2 {
			t.Errorf("%s: %d demotions, %d paths; want 0 and 2", c.name, s.PathDemotions, len(s.Paths))
		}
	}
}

// TestEngineRelayTrouble: two of our relays carry a connection, and in
// the middle of a 16 MB stream, with messages in flight both ways, the
// relay in use
//
//   - killed: dies;
//   - stalls: stops forwarding Data, its connections to the clients up;
//   - tampers: flips a bit in every third Data packet, both ways;
//   - drops: drops every other Data packet, both ways, while it answers
//     pings: far more than a relay's queue drops under load.
//
// Each time the connection leaves it for the other relay, telling why
// (a path failure, or a demotion), and every byte and message arrives,
// once.
func TestEngineRelayTrouble(t *testing.T) {
	for _, tc := range []struct {
		name string
		// trouble starts on bad; the count it returns must be above
		// zero at the end (what the relay did, to be sure the test
		// tested something).
		trouble func(t *testing.T, bad *relay.TestServer) (did func() uint64)
		// demoted: the relay must be demoted, not only found down.
		demoted bool
	}{
		{"killed", func(t *testing.T, bad *relay.TestServer) func() uint64 {
			if err := bad.Stop(); err != nil {
				t.Error(err)
			}
			return func() uint64 { return 1 }
		}, false},
		{"stalls", func(t *testing.T, bad *relay.TestServer) func() uint64 {
			var n atomic.Uint64
			bad.Tamper(func([]byte) bool { n.Add(1); return false })
			return n.Load
		}, false},
		{"tampers", func(t *testing.T, bad *relay.TestServer) func() uint64 {
			var n, flipped atomic.Uint64
			bad.Tamper(func(payload []byte) bool {
				if k := n.Add(1); k%3 == 0 && len(payload) > 0 {
					i := int(k*7919) % (len(payload) * 8)
					payload[i/8] ^= 1 << (i % 8)
					flipped.Add(1)
				}
				return true
			})
			return flipped.Load
		}, true},
		{"drops", func(t *testing.T, bad *relay.TestServer) func() uint64 {
			var n atomic.Uint64
			bad.Tamper(func([]byte) bool { return n.Add(1)%2 == 0 })
			return n.Load
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, a, b, client, server := twoRelays(t)
			var bad *relay.TestServer
			did := func() uint64 { return 0 }
			transfer(t, ctx, client, server, failoverBytes, failoverMessages, func() {
				if bad = activeRelay(client, a, b); bad == nil {
					t.Error("no relay is active")
					return
				}
				did = tc.trouble(t, bad)
			})
			logPaths(t, "client", client)
			logPaths(t, "server", server)
			if did() == 0 {
				t.Fatal("the relay did nothing wrong: the test tests nothing")
			}
			leftRelay(t, ctx, bad, client, server, a, b)
			failures, demotions := counts(client, server)
			authFailures := uint64(0)
			for _, c := range []*rudp.Conn{client, server} {
				for _, p := range c.Stats().Paths {
					authFailures += p.AuthFailures
				}
			}
			switch {
			case tc.demoted && demotions == 0:
				t.Errorf("neither side demoted the relay")
			case !tc.demoted && failures == 0:
				t.Errorf("neither side saw the path fail")
			case tc.name == "tampers" && authFailures == 0:
				t.Errorf("no packet failed authentication")
			}
		})
	}
}

// failoverPatience is a safety net against a hang, never a performance
// threshold.
const failoverPatience = 2 * time.Minute
