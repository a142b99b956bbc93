package relay_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pydevts/pydevts/rudp"
	"github.com/pydevts/pydevts/rudp/relay"
)

// TestEngineToxBootstrapd runs a whole pydevts connection through
// toxcore's own relay, tox-bootstrapd: the handshake as OOB, then a
// stream and messages both ways as Data, every byte checked. It skips
// where TestInteropToxBootstrapd does, and fails there in CI.
func TestEngineToxBootstrapd(t *testing.T) {
	addr, key, inside := relay.StartToxBootstrapd(t)
	exerciseEngine(t, addr, key, inside)
}

// TestEngineOwnServer is the same test body against our server, so the
// two runs can be compared.
func TestEngineOwnServer(t *testing.T) {
	addr, key := relay.StartServer(t)
	exerciseEngine(t, addr, key, func(f func() error) error { return f() })
}

// The exchange is small: tox-bootstrapd passes packets on once per 30 ms
// loop (research/tox.md, section 5), so it moves a few hundred KB a
// second at best. This is enough for many round trips of congestion
// control, some fragmented messages, and messages beside a busy stream.
const (
	engineStreamBytes = 256 << 10 // client to server
	engineMessages    = 25        // each way, about 10 to 4000 bytes
	enginePatience    = 2 * time.Minute
)

// exerciseEngine connects a client to a listener, both through the relay
// at addr only, and checks that a stream arrives intact and that each
// message arrives exactly once, both ways, while the stream runs. inside
// runs a function where the relay's sockets must be made (its network
// namespace): ListenRelay and DialRelay dial the relay in it.
func exerciseEngine(t *testing.T, addr string, key relay.PublicKey, inside func(func() error) error) {
	// A safety net against a hang, never a performance threshold.
	ctx, cancel := context.WithTimeout(context.Background(), enginePatience)
	defer cancel()
	var l *rudp.Listener
	if err := inside(func() (err error) { l, err = rudp.ListenRelay(ctx, addr, key, nil); return err }); err != nil {
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
	var client *rudp.Conn
	if err := inside(func() (err error) {
		client, err = rudp.DialRelay(ctx, addr, key, l.Endpoint().Identity().Card(), nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseWithError(1, "test over") })
	server := <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { server.CloseWithError(1, "test over") })
	// Reads and writes on streams take no context: a hang ends them here.
	stop := context.AfterFunc(ctx, func() {
		client.CloseWithError(1, "out of patience")
		server.CloseWithError(1, "out of patience")
	})
	defer stop()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var chachaSeed [32]byte
	binary.LittleEndian.PutUint64(chachaSeed[:], seed)
	data := make([]byte, engineStreamBytes)
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
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("stream: %d of %d bytes arrived, SHA-256 %x, sent %x (%v)", len(got), len(data), sha256.Sum256(got), sha256.Sum256(data), err)
		}
	})
	for _, from := range []struct {
		name     string
		src, dst *rudp.Conn
	}{{"client", client, server}, {"server", server, client}} {
		for i := range engineMessages {
			wg.Go(func() {
				if err := from.src.SendMessage(ctx, engineMessage(seed, from.name, i)); err != nil {
					t.Errorf("%s message %d: %v", from.name, i, err)
				}
			})
		}
		wg.Go(func() { receiveMessages(t, ctx, from.dst, seed, from.name) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d bytes and %d messages each way in %v", len(data), engineMessages, time.Since(start).Round(time.Millisecond))
	for _, c := range []*rudp.Conn{client, server} {
		s := c.Stats()
		if !strings.HasPrefix(s.Path, "relay ") {
			t.Errorf("path %q, want relay", s.Path)
		}
		t.Logf("%s: %d packets sent, %d lost, %d bytes retransmitted, %d probe timeouts", s.Path, s.PacketsSent, s.PacketsLost, s.Retransmitted, s.ProbeTimeouts)
	}

	// Exactly once: after a graceful close (everything sent has been
	// acknowledged) neither side may have a message left to deliver;
	// ReceiveMessage returns what is queued before the close's error.
	if err := client.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	for _, c := range []*rudp.Conn{client, server} {
		m, err := c.ReceiveMessage(ctx)
		if err == nil {
			t.Errorf("a message delivered once too often: %.24q", m)
		} else if !errors.Is(err, net.ErrClosed) {
			t.Errorf("receiving after the close: %v, want net.ErrClosed", err)
		}
	}
}

// receiveMessages receives the engineMessages messages that from sends
// on c and checks each, failing on a repeat.
func receiveMessages(t *testing.T, ctx context.Context, c *rudp.Conn, seed uint64, from string) {
	seen := make([]bool, engineMessages)
	for range engineMessages {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			t.Errorf("receiving %s's messages: %v (have %v)", from, err, seen)
			return
		}
		var i int
		if _, err := fmt.Sscanf(string(m), from+" %d:", &i); err != nil || i < 0 || i >= engineMessages {
			t.Errorf("a message not from %s: %.24q", from, m)
			continue
		}
		if seen[i] {
			t.Errorf("%s's message %d delivered twice", from, i)
		}
		seen[i] = true
		if !bytes.Equal(m, engineMessage(seed, from, i)) {
			t.Errorf("%s's message %d altered: %d bytes %.24q", from, i, len(m), m)
		}
	}
}

// engineMessage is message i from from: its name and number, then bytes
// of the seed's, some messages short, some several datagrams long.
func engineMessage(seed uint64, from string, i int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	m := fmt.Appendf(nil, "%s %d:", from, i)
	tail := make([]byte, r.IntN(4000))
	for j := range tail {
		tail[j] = byte(r.Uint32())
	}
	return append(m, tail...)
}
