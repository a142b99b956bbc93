package relay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
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
	client, server := connectPair(t, ctx,
		func() (l *rudp.Listener, err error) {
			err = inside(func() error { l, err = rudp.ListenRelay(ctx, addr, key, nil); return err })
			return l, err
		},
		func(peer handshake.Card) (c *rudp.Conn, err error) {
			err = inside(func() error { c, err = rudp.DialRelay(ctx, addr, key, peer, nil); return err })
			return c, err
		})
	transfer(t, ctx, client, server, engineStreamBytes, engineMessages, nil)
	if t.Failed() {
		return
	}
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

// receiveMessages receives the n messages that from sends on c (each
// engineMessage(seed, from, i)) and checks each, failing on a repeat.
func receiveMessages(t *testing.T, ctx context.Context, c *rudp.Conn, seed uint64, from string, n int) {
	seen := make([]bool, n)
	for range n {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			t.Errorf("receiving %s's messages: %v (have %v)", from, err, seen)
			return
		}
		var i int
		if _, err := fmt.Sscanf(string(m), from+" %d:", &i); err != nil || i < 0 || i >= n {
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
