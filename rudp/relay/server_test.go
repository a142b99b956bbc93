package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestServerExercise(t *testing.T) {
	s, addr := startServer(t, nil)
	exercise(t, tcpDialer(addr, s.PublicKey()))
	st := s.Stats()
	if st.Active != 2 || st.Confirmed != 2 || st.Forwarded == 0 || st.OOB == 0 || st.Pongs < 2 {
		t.Errorf("stats after the exercise: %+v", st)
	}
}

func TestServerWrongKey(t *testing.T) {
	s, addr := startServer(t, nil)
	other, _ := NewKeyPair()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, err := Dial(ctx, addr, other.Public, nil)
	if err == nil {
		t.Fatal("handshake with the wrong relay key succeeded")
	}
	t.Logf("wrong key: %v", err)
	waitFor(t, "the server to count the failed handshake", func() bool { return s.Stats().Kills.Handshake == 1 })
}

func TestServerPings(t *testing.T) {
	s, addr := startServer(t, &Config{PingInterval: 20 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	c := newTestClient(t, tcpDialer(addr, s.PublicKey()), nil)
	waitFor(t, "the client to answer three server pings", func() bool { return c.Stats().PingsAnswered >= 3 })

	// A client that never reads never sees a ping, so never answers.
	r := dialRaw(t, addr, s.PublicKey())
	ck := c.PublicKey()
	r.mustSend(packet(TypeRouteRequest, ck[:]))
	waitFor(t, "the silent client to be dropped", func() bool { return s.Stats().Kills.PingTimeout == 1 })
	r.expectClosed()
	select {
	case <-c.Done():
		t.Fatalf("the answering client was closed too: %v", c.Err())
	default:
	}
}

func TestClientPingTimeout(t *testing.T) {
	// A "relay" that completes the handshake and then reads but never
	// answers: the client must give up after its ping timeout.
	srv, _ := NewKeyPair()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		var hello [ClientHelloSize]byte
		if _, err := io.ReadFull(nc, hello[:]); err != nil {
			return
		}
		_, reply, _, err := AcceptClientHello(srv, hello[:], rand.Reader)
		if err != nil {
			return
		}
		nc.Write(reply)
		io.Copy(io.Discard, nc)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := Dial(ctx, l.Addr().String(), srv.Public, &ClientConfig{PingTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var evs [1]Event
	if _, err := c.Recv(ctx, evs[:]); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv: %v, want the connection closed", err)
	}
	t.Logf("closed: %v", c.Err())
}

func TestServerDisconnectOnClose(t *testing.T) {
	s, addr := startServer(t, nil)
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	connect(t, a, b)
	a.Close()
	b.expect(EventDisconnected, a.PublicKey())
	waitFor(t, "the server to count the close", func() bool { return s.Stats().Kills.Closed == 1 })
}

func TestServerSameKeyReconnect(t *testing.T) {
	s, addr := startServer(t, nil)
	dial := tcpDialer(addr, s.PublicKey())
	key, _ := NewKeyPair()
	a1 := newTestClient(t, dial, &ClientConfig{Key: key})
	b := newTestClient(t, dial, nil)
	connect(t, a1, b)

	a2 := newTestClient(t, dial, &ClientConfig{Key: key})
	if err := a2.Route(b.PublicKey()); err != nil { // its first packet is a ping: confirmed by then
		t.Fatal(err)
	}
	select {
	case <-a1.Done():
	case <-time.After(patience):
		t.Fatal("old connection not closed")
	}
	b.expect(EventDisconnected, key.Public)
	a2.expect(EventRouted, b.PublicKey())
	// b's link stayed registered: a2's route brings it online at once.
	a2.expect(EventConnected, b.PublicKey())
	b.expect(EventConnected, key.Public)
	if err := b.Send(key.Public, []byte("to the new one")); err != nil {
		t.Fatal(err)
	}
	if ev := a2.expect(EventData, b.PublicKey()); string(ev.Data) != "to the new one" {
		t.Fatalf("got %q", ev.Data)
	}
	waitFor(t, "the old connection counted as replaced", func() bool { return s.Stats().Kills.Replaced == 1 })
}

func TestServerLinkExhaustion(t *testing.T) {
	s, addr := startServer(t, nil)
	r := dialRaw(t, addr, s.PublicKey())
	r.ping()
	var peers []PublicKey
	for i := range NumLinks + 1 {
		kp, _ := NewKeyPair()
		peers = append(peers, kp.Public)
		r.mustSend(packet(TypeRouteRequest, kp.Public[:]))
		p := r.expect(TypeRouteResponse)
		want := ConnID(0)
		if i < NumLinks {
			want = connIDOf(i)
		}
		if p.ConnID != want || p.Key != kp.Public {
			t.Fatalf("route %d: response id %d for %.8s, want %d for %.8s", i, p.ConnID, p.Key, want, kp.Public)
		}
	}
	// Asking again for a routed peer gives the same id.
	r.mustSend(packet(TypeRouteRequest, peers[7][:]))
	if p := r.expect(TypeRouteResponse); p.ConnID != connIDOf(7) {
		t.Fatalf("repeated route: id %d, want %d", p.ConnID, connIDOf(7))
	}
	// A freed link is the next one given.
	r.mustSend(packet(TypeDisconnectNotification, []byte{byte(connIDOf(100))}))
	kp, _ := NewKeyPair()
	r.mustSend(packet(TypeRouteRequest, kp.Public[:]))
	if p := r.expect(TypeRouteResponse); p.ConnID != connIDOf(100) {
		t.Fatalf("route after a free: id %d, want %d", p.ConnID, connIDOf(100))
	}
	// Routing to oneself is refused.
	r.mustSend(packet(TypeRouteRequest, r.key.Public[:]))
	if p := r.expect(TypeRouteResponse); p.ConnID != 0 {
		t.Fatalf("route to self: id %d, want 0", p.ConnID)
	}
}

func TestClientRefusedRoute(t *testing.T) {
	s, addr := startServer(t, nil)
	c := newTestClient(t, tcpDialer(addr, s.PublicKey()), nil)
	if err := c.Route(c.PublicKey()); err == nil {
		t.Error("client routed to its own key")
	}
	var last PublicKey
	for range NumLinks + 1 {
		kp, _ := NewKeyPair()
		last = kp.Public
		if err := c.Route(kp.Public); err != nil {
			t.Fatal(err)
		}
	}
	c.expect(EventRefused, last)
}

// TestServerLenient sends what one implementation or the other ignores:
// the server must ignore it too, answer, and forward none of it.
func TestServerLenient(t *testing.T) {
	s, addr := startServer(t, nil)
	r := dialRaw(t, addr, s.PublicKey())
	r.ping()
	peer := dialRaw(t, addr, s.PublicKey())
	peer.ping()
	// r routes to peer, who has not routed back: registered, not online.
	r.mustSend(packet(TypeRouteRequest, peer.key.Public[:]))
	id := r.expect(TypeRouteResponse).ConnID
	onion := bytes.Repeat([]byte{1}, 200)
	r.mustSend(
		packet(Type(id), []byte("not online yet")),                         // dropped, NotOnline
		packet(Type(200), []byte("no such link")),                          // dropped, NoLink (c-toxcore closes)
		packet(TypeDisconnectNotification, []byte{201}),                    // ignored, NoLink (c-toxcore closes)
		packet(TypeConnectNotification, []byte{byte(id)}),                  // ignored
		packet(TypePongResponse, []byte{9, 9, 9, 9, 9, 9, 9, 9}),           // unmatched: ignored (tox-rs closes)
		packet(TypeOnionRequest, onion),                                    // no onion here: ignored
		packet(TypeOnionRequest, []byte{1, 2, 3}),                          // too short, and still ignored
		packet(TypeForwardRequest, []byte{1, 2, 3}),                        // no DHT here: ignored
		packet(TypeOOBSend, bytes.Repeat([]byte{7}, 32), []byte("nobody")), // no such key: dropped
		packet(TypePingRequest, make([]byte, 8)),                           // id 0: answered (tox-rs closes)
	)
	if p := r.expect(TypePongResponse); !p.PingID.IsZero() {
		t.Fatalf("pong to ping 0 carries %x", p.PingID)
	}
	r.ping()
	peer.ping() // and nothing reached peer but pongs: expect would fail on a bad packet
	d := s.Stats().Drops
	want := Drops{NotOnline: 1, NoLink: 2, Ignored: 2, Onion: 3, NoPeer: 1}
	if d != want {
		t.Errorf("drops %+v, want %+v", d, want)
	}
	if k := s.Stats().Kills; k != (Kills{}) {
		t.Errorf("kills %+v, want none", k)
	}
}

// TestServerKills sends, each on its own connection, what both toxcore
// and tox-rs close a connection for.
func TestServerKills(t *testing.T) {
	s, addr := startServer(t, nil)
	k := bytes.Repeat([]byte{3}, 32)
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"short route request", packet(TypeRouteRequest, k[:31])},
		{"route response from a client", packet(TypeRouteResponse, []byte{16}, k)},
		{"OOB receive from a client", packet(TypeOOBReceive, k, []byte{1})},
		{"empty OOB", packet(TypeOOBSend, k)},
		{"1025-byte OOB", packet(TypeOOBSend, k, make([]byte, 1025))},
		{"pong id 0", packet(TypePongResponse, make([]byte, 8))},
		{"short ping", packet(TypePingRequest, make([]byte, 7))},
		{"onion response from a client", packet(TypeOnionResponse, []byte{1})},
		{"reserved type 12", packet(12, []byte{1})},
		{"empty data", packet(TypeData)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr, s.PublicKey())
			r.ping()
			r.mustSend(tc.pkt)
			r.expectClosed()
		})
	}
	waitFor(t, "ten protocol kills", func() bool { return s.Stats().Kills.Protocol == 10 })

	// A frame that does not decrypt, and one longer than 2048 bytes.
	r := dialRaw(t, addr, s.PublicKey())
	r.ping()
	bad, _ := (&Session{}).SealFrame(nil, []byte{4, 1, 1, 1, 1, 1, 1, 1, 1})
	r.nc.Write(bad)
	r.expectClosed()
	r = dialRaw(t, addr, s.PublicKey())
	r.ping()
	r.nc.Write([]byte{0x08, 0x01})
	r.expectClosed()
	waitFor(t, "two frame kills", func() bool { return s.Stats().Kills.Frame == 2 })
}

func TestServerMaxConns(t *testing.T) {
	s, addr := startServer(t, &Config{MaxConns: 2})
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if c, err := Dial(ctx, addr, s.PublicKey(), nil); err == nil {
		c.Close()
		t.Fatal("a third connection was served")
	}
	connect(t, a, b) // the two are still served
	if st := s.Stats(); st.Refused != 1 || st.Active != 2 {
		t.Errorf("stats %+v, want 1 refused and 2 active", st)
	}
}

func TestServerClose(t *testing.T) {
	s, addr := startServer(t, nil)
	c := newTestClient(t, tcpDialer(addr, s.PublicKey()), nil)
	connect(t, c, newTestClient(t, tcpDialer(addr, s.PublicKey()), nil))
	s.Close()
	select {
	case <-c.Done():
	case <-time.After(patience):
		t.Fatal("client not closed by Server.Close")
	}
	if err := c.Err(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Err() = %v", err)
	}
	if err := c.Send(c.PublicKey(), []byte{1}); err == nil {
		t.Error("Send after close succeeded")
	}
	if k := s.Stats().Kills; k.Shutdown != 2 {
		t.Errorf("kills %+v, want 2 at shutdown", k)
	}
	s.Close() // again: fine

	// Serve after Close returns at once, and closes its listener too:
	// nothing is left accepting connections on its address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close: %v, want net.ErrClosed", err)
	}
	if nc, err := net.Dial("tcp", l.Addr().String()); err == nil {
		nc.Close()
		t.Fatal("the listener given to Serve after Close still accepts")
	}
}
