package rudp

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
)

// These tests attack a listener from raw UDP sockets on loopback, the way
// an attacker on the internet would: with datagrams it crafts, and with
// copies of an honest connection's packets. They assert outcomes
// (bytes answered, data delivered, packets counted), never durations.

// gatedConn is a UDP socket whose first read waits for open to close: a
// test can change the endpoint built on it (its responder) before the
// endpoint sees a datagram, with the channel ordering the two.
type gatedConn struct {
	*net.UDPConn
	open chan struct{}
}

func (g *gatedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	<-g.open
	return g.UDPConn.ReadFrom(b)
}

// listenCookieMode returns an endpoint on loopback whose responder is
// always under load: every initiation that carries no valid cookie gets a
// cookie reply, as during a flood.
func listenCookieMode(t *testing.T) *Endpoint {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u.SetReadBuffer(4 << 20) // as carrier.NewUDP does
	g := &gatedConn{UDPConn: u, open: make(chan struct{})}
	e, err := NewEndpoint(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.responder, err = handshake.NewResponder(handshake.ResponderConfig{
		Identity:      e.cfg.Identity,
		Params:        e.cfg.transportParams().encode(),
		HandshakeRate: -1, // always under load
	})
	if err != nil {
		t.Fatal(err)
	}
	close(g.open)
	t.Cleanup(func() { e.Close() })
	return e
}

// attacker is a raw UDP socket that counts what it sends and receives.
type attacker struct {
	kind       string
	conn       *net.UDPConn
	sent, recv int // bytes
	datagrams  int // sent
	replies    int // received
}

func newAttacker(t *testing.T, kind string) *attacker {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u.SetReadBuffer(4 << 20)
	t.Cleanup(func() { u.Close() })
	return &attacker{kind: kind, conn: u}
}

func (a *attacker) send(t *testing.T, to net.Addr, b []byte) {
	t.Helper()
	if _, err := a.conn.WriteTo(b, to); err != nil {
		t.Fatalf("%s: send %d bytes: %v", a.kind, len(b), err)
	}
	a.sent += len(b)
	a.datagrams++
}

// drain reads whatever waits on the socket. Loopback delivers a datagram
// into the receiver's buffer before the sender's call returns, so once
// the listener has closed, everything it sent is already there; the
// deadline only ends the read of an empty socket.
func (a *attacker) drain() {
	buf := make([]byte, 1<<16)
	for {
		a.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := a.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		a.recv += n
		a.replies++
	}
}

// endpointSeen is how many datagrams an endpoint has counted, whatever it
// did with them.
func endpointSeen(s EndpointStats) uint64 {
	return s.DroppedUnknownConn + s.DroppedMalformed + s.DroppedQueueFull + s.HandshakesDropped + s.CookiesSent + s.HandshakesAccepted
}

// waitCounted waits until every datagram sent to e has been counted.
func waitCounted(t *testing.T, e *Endpoint, want uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for endpointSeen(e.Stats()) < want {
		if time.Now().After(deadline) {
			t.Fatalf("endpoint counted %d datagrams, want %d: %+v", endpointSeen(e.Stats()), want, e.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNoAmplification: the responder never sends an address that has not
// proven itself more bytes than that address sent it. Each kind of
// datagram an unproven source can send comes from its own socket, to a
// listener with the default load meter and to one that is always under
// load (cookie mode); each socket's bytes received, the listeners' CLOSE
// at shutdown included, must not exceed its bytes sent.
func TestNoAmplification(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}

	normal := listenLoopback(t, nil).Endpoint()
	cookie := listenCookieMode(t)
	targets := []*Endpoint{normal, cookie}
	counted := map[*Endpoint]uint64{}
	sendAll := func(a *attacker, b []byte) {
		for _, e := range targets {
			a.send(t, e.Addr(), b)
			counted[e]++
		}
	}
	// initiation returns a valid initiation to e from a fresh identity.
	initiator := func(e *Endpoint) *handshake.Initiator {
		id, err := handshake.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ini, err := handshake.NewInitiator(handshake.InitiatorConfig{Identity: id, Peer: e.Identity().Card(), LocalID: rng.Uint64() | 1, Params: e.cfg.transportParams().encode()})
		if err != nil {
			t.Fatal(err)
		}
		return ini
	}
	var attackers []*attacker
	// settle waits until both listeners have counted everything sent so
	// far, so that no burst outgrows a socket buffer and is lost unseen.
	settle := func() {
		waitCounted(t, normal, counted[normal])
		waitCounted(t, cookie, counted[cookie])
	}

	// A valid initiation: the normal listener answers with its response,
	// the other with a cookie reply, and neither with anything more (the
	// connection the response opened stays unconfirmed, and sends
	// nothing, not even a CLOSE when the listener shuts down).
	inits := map[*Endpoint][]byte{}
	valid := map[*Endpoint]*attacker{}
	for i, e := range targets {
		m, err := initiator(e).Initiation(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		inits[e] = m
		valid[e] = newAttacker(t, []string{"valid initiation", "valid initiation, cookie mode"}[i])
		attackers = append(attackers, valid[e])
		valid[e].send(t, e.Addr(), m)
		counted[e]++
	}
	settle()

	// The same initiations again, from another address, ten times each:
	// replays, refused by timestamp (the cookie listener answers each with
	// a cookie reply, smaller than the initiation).
	replay := newAttacker(t, "replayed initiation")
	attackers = append(attackers, replay)
	for range 10 {
		for _, e := range targets {
			replay.send(t, e.Addr(), inits[e])
			counted[e]++
		}
	}

	settle()

	// A flood of distinct valid initiations from one address: past the
	// load meter's burst the normal listener answers with cookie
	// replies, and past its queue it drops them.
	flood := newAttacker(t, "initiation flood")
	attackers = append(attackers, flood)
	n := 400
	if testing.Short() {
		n = 150
	}
	for _, e := range targets {
		ini := initiator(e)
		now := time.Now()
		for i := range n {
			m, err := ini.Initiation(now.Add(time.Duration(i) * time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			flood.send(t, e.Addr(), m)
			counted[e]++
		}
	}

	settle()

	// Initiations cut short at every length, and one byte too long.
	trunc := newAttacker(t, "truncated initiation")
	attackers = append(attackers, trunc)
	for _, e := range targets {
		m := inits[e]
		for l := 1; l < len(m); l++ {
			trunc.send(t, e.Addr(), m[:l])
			counted[e]++
		}
		trunc.send(t, e.Addr(), append(bytes.Clone(m), 0))
		counted[e]++
	}

	settle()

	// Responses and cookie replies nobody asked for, and data packets
	// for connections that do not exist.
	forged := newAttacker(t, "forged response, cookie reply, data")
	attackers = append(attackers, forged)
	for range 50 {
		r := random(handshake.ResponseSize)
		r[0] = byte(handshake.TypeResponse)
		sendAll(forged, r)
		c := random(handshake.CookieReplySize)
		c[0] = byte(handshake.TypeCookieReply)
		sendAll(forged, c)
		d := random(wire.HeaderLen + rng.IntN(1400))
		d[0] = wire.PacketType
		sendAll(forged, d)
	}

	settle()

	// Garbage of every size up to a large datagram, with the type byte
	// of each kind of message and random ones.
	garbage := newAttacker(t, "garbage 1-2000 bytes")
	attackers = append(attackers, garbage)
	for size := 1; size <= 2000; size += 1 + size/8 {
		for _, first := range []byte{0, 1, 2, 3, wire.PacketType, byte(rng.Uint32())} {
			b := random(size)
			b[0] = first
			sendAll(garbage, b)
		}
	}

	settle()

	zero := newAttacker(t, "zero-length")
	attackers = append(attackers, zero)
	for range 20 {
		sendAll(zero, nil)
	}

	settle()

	// The largest UDP payload: random, a data header, an initiation
	// followed by junk.
	huge := newAttacker(t, "oversize 65507 bytes")
	attackers = append(attackers, huge)
	for _, e := range targets {
		for _, prefix := range [][]byte{nil, {wire.PacketType}, inits[e]} {
			b := random(65507)
			copy(b, prefix)
			huge.send(t, e.Addr(), b)
			counted[e]++
		}
	}

	settle()
	stNormal, stCookie := normal.Stats(), cookie.Stats()
	// Closing sends each connection's CLOSE (the pending ones' too):
	// that counts as an answer as well.
	normal.Close()
	cookie.Close()

	replies := 0
	for _, a := range attackers {
		a.drain()
		replies += a.replies
		ratio := 0.0
		if a.sent > 0 {
			ratio = float64(a.recv) / float64(a.sent)
		}
		t.Logf("%-36s %5d datagrams, %7d bytes sent, %4d replies, %6d bytes received: ratio %.3f", a.kind, a.datagrams, a.sent, a.replies, a.recv, ratio)
		if a.recv > a.sent {
			t.Errorf("%s: the listeners sent %d bytes to an unproven address that sent %d", a.kind, a.recv, a.sent)
		}
	}
	t.Logf("normal listener: %+v", stNormal)
	t.Logf("cookie-mode listener: %+v", stCookie)
	// The attacks did reach both paths of the responder.
	if stNormal.HandshakesAccepted == 0 || stCookie.CookiesSent == 0 || stCookie.HandshakesAccepted != 0 {
		t.Errorf("the responders were not exercised as intended: normal %+v, cookie mode %+v", stNormal, stCookie)
	}
	// Every reply was a handshake response or a cookie reply, one per
	// initiation counted as answered: nothing else went out.
	if want := stNormal.HandshakesAccepted + stNormal.CookiesSent + stCookie.CookiesSent; uint64(replies) != want {
		t.Errorf("the attackers got %d datagrams; the listeners sent %d responses and cookie replies", replies, want)
	}
	if a := valid[normal]; a.replies != 1 || a.recv != handshake.ResponseSize {
		t.Errorf("a valid initiation got %d replies, %d bytes; want one response of %d", a.replies, a.recv, handshake.ResponseSize)
	}
	if a := valid[cookie]; a.replies != 1 || a.recv != handshake.CookieReplySize {
		t.Errorf("a valid initiation under load got %d replies, %d bytes; want one cookie reply of %d", a.replies, a.recv, handshake.CookieReplySize)
	}
}
