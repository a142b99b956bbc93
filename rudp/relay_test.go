package rudp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/rudp/relay"
)

// startRelay runs our relay server on 127.0.0.1, closed when the test
// ends.
func startRelay(t *testing.T) (string, relay.PublicKey) {
	t.Helper()
	s, err := relay.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return l.Addr().String(), s.PublicKey()
}

// relayPair connects two endpoints through the relay at addr only.
func relayPair(t *testing.T, ctx context.Context, addr string, key relay.PublicKey) (client, server *Conn) {
	t.Helper()
	l, err := ListenRelay(ctx, addr, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := acceptOne(t, ctx, l)
	client, err = DialRelay(ctx, addr, key, l.Endpoint().Identity().Card(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if server = <-accepted; server == nil {
		t.FailNow()
	}
	return client, server
}

// exchange sends data on a stream from client to server and a message
// each way, and checks that the path is of network (over a carrier that
// does not lose packets) and that no FEC parity was sent.
func exchange(t *testing.T, ctx context.Context, client, server *Conn, data []byte, network string) {
	t.Helper()
	transfer(t, client, server, data)
	if err := server.SendMessage(ctx, []byte("and back")); err != nil {
		t.Fatal(err)
	}
	if m, err := client.ReceiveMessage(ctx); err != nil || string(m) != "and back" {
		t.Fatalf("message %q, %v", m, err)
	}
	if err := client.SendMessage(ctx, []byte("and forth")); err != nil {
		t.Fatal(err)
	}
	if m, err := server.ReceiveMessage(ctx); err != nil || string(m) != "and forth" {
		t.Fatalf("message %q, %v", m, err)
	}
	cs, ss := client.Stats(), server.Stats()
	if !strings.HasPrefix(cs.Path, network+" ") || !strings.HasPrefix(ss.Path, network+" ") {
		t.Errorf("paths %q and %q, want %s", cs.Path, ss.Path, network)
	}
	if cs.ParitySent != 0 || ss.ParitySent != 0 {
		t.Errorf("%d and %d parity packets over %s", cs.ParitySent, ss.ParitySent, network)
	}
	t.Logf("client %s: %d packets sent, %d lost; max datagram %d", cs.Path, cs.PacketsSent, cs.PacketsLost, cs.MaxDatagram)
}

// TestRelay: two endpoints that reach each other only through our relay
// server: the handshake goes as OOB, then a 5 MB stream arrives intact as
// Data, messages go both ways, the path says relay, and no FEC parity is
// sent on a relay.
func TestRelay(t *testing.T) {
	addr, key := startRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, server := relayPair(t, ctx, addr, key)
	exchange(t, ctx, client, server, bytes.Repeat([]byte("over a tox relay"), 5<<20/16), "relay")
}

// TestRelayWrongKey: a relay key that is not the relay's fails the dial
// quickly, with nothing left open.
func TestRelayWrongKey(t *testing.T) {
	addr, _ := startRelay(t)
	var wrong relay.PublicKey
	wrong[0] = 9
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ListenRelay(ctx, addr, wrong, nil); err == nil {
		t.Fatal("ListenRelay with the wrong relay key succeeded")
	}
}

// acceptOne accepts one connection on l in the background: nil if it
// fails.
func acceptOne(t *testing.T, ctx context.Context, l *Listener) <-chan *Conn {
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	return accepted
}
