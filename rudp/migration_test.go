package rudp

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pydevts/pydevts/internal/wire"
)

// natBox is a NAT in user space on loopback between a client and a
// server: the client sends to inside, the box forwards to the server
// from its current outside socket, and what the server sends to that
// socket goes back to the client. rebind takes a new outside socket, as
// a NAT whose mapping expired: what reaches the old one is dropped from
// then on. race, when set, picks client packets of which a copy goes to
// the server first from one of the attacker's sockets, in turn: an
// attacker on the path that sees a packet and gets a copy in before the
// original, from addresses of its choosing.
type natBox struct {
	t         *testing.T
	inside    *net.UDPConn
	server    *net.UDPAddr
	race      func(b []byte) bool
	attackers []*net.UDPConn

	mu      sync.Mutex
	outside *net.UDPConn
	client  net.Addr

	attackerSent, attackerRecv atomic.Int64
	raced, attackerGot         atomic.Int64 // datagrams
	attackerLargest            atomic.Int64 // bytes
	wg                         sync.WaitGroup
}

func newNATBox(t *testing.T, server net.Addr, race func([]byte) bool, attackers int) *natBox {
	t.Helper()
	b := &natBox{t: t, server: server.(*net.UDPAddr), race: race}
	b.inside = loopbackUDP(t)
	b.rebind()
	for range attackers {
		u := loopbackUDP(t)
		b.attackers = append(b.attackers, u)
		b.serve(u, b.toAttacker)
	}
	b.serve(b.inside, b.fromClient)
	t.Cleanup(func() {
		b.inside.Close()
		for _, u := range b.attackers {
			u.Close()
		}
		b.mu.Lock()
		b.outside.Close()
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func loopbackUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u.SetReadBuffer(4 << 20)
	u.SetWriteBuffer(4 << 20)
	return u
}

// rebind gives the box a new outside address and returns it.
func (b *natBox) rebind() string {
	u := loopbackUDP(b.t)
	b.mu.Lock()
	old := b.outside
	b.outside = u
	b.mu.Unlock()
	if old != nil {
		old.Close() // its reader ends
	}
	b.serve(u, b.toClient(u))
	return u.LocalAddr().String()
}

// outsideAddr is where the server sees the client now.
func (b *natBox) outsideAddr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.outside.LocalAddr().String()
}

// serve reads u until it is closed, handing each datagram to f, on a
// goroutine of the box's.
func (b *natBox) serve(u *net.UDPConn, f func(d []byte, from net.Addr)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		buf := make([]byte, 1<<16)
		for {
			n, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			f(buf[:n], from)
		}
	}()
}

// fromClient forwards d to the server, after a copy from an attacker's
// address if race picks it.
func (b *natBox) fromClient(d []byte, from net.Addr) {
	b.mu.Lock()
	b.client = from
	out := b.outside
	b.mu.Unlock()
	if b.race != nil && b.race(d) {
		a := b.attackers[b.raced.Load()%int64(len(b.attackers))]
		if k, err := a.WriteTo(d, b.server); err == nil {
			b.attackerSent.Add(int64(k))
			b.raced.Add(1)
		}
	}
	out.WriteTo(d, b.server)
}

// toClient forwards what reaches the outside socket u to the client, while
// u is the current one.
func (b *natBox) toClient(u *net.UDPConn) func([]byte, net.Addr) {
	return func(d []byte, _ net.Addr) {
		b.mu.Lock()
		to, current := b.client, u == b.outside
		b.mu.Unlock()
		if current && to != nil {
			b.inside.WriteTo(d, to)
		}
	}
}

// toAttacker counts what the server sends the attacker, and drops it.
func (b *natBox) toAttacker(d []byte, _ net.Addr) {
	b.attackerRecv.Add(int64(len(d)))
	b.attackerGot.Add(1)
	if int64(len(d)) > b.attackerLargest.Load() {
		b.attackerLargest.Store(int64(len(d)))
	}
}

// dialThrough connects a client to a new loopback listener through box
// (made by mkBox for the listener's address).
func dialThrough(t *testing.T, ctx context.Context, mkBox func(net.Addr) *natBox) (client, server *Conn, box *natBox) {
	t.Helper()
	l := listenLoopback(t, nil)
	box = mkBox(l.Addr())
	accepted := acceptOne(t, ctx, l)
	client, err := Dial(ctx, "udp4", box.inside.LocalAddr().String(), l.Endpoint().Identity().Card(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseWithError(0, "") })
	if server = <-accepted; server == nil {
		t.FailNow()
	}
	return client, server, box
}

// exchangeBothWays sends size bytes each way, one stream each, and checks them
// with SHA-256; at is called on the client's side after each quarter it
// received.
func exchangeBothWays(t *testing.T, ctx context.Context, client, server *Conn, size int, at func(quarter int)) {
	t.Helper()
	send := func(c *Conn, seed byte) (chan error, [32]byte) {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{seed}).Read(data)
		done := make(chan error, 1)
		go func() {
			s, err := c.OpenStream(ctx)
			if err == nil {
				_, err = s.Write(data)
			}
			if err == nil {
				err = s.CloseWrite()
			}
			done <- err
		}()
		return done, sha256.Sum256(data)
	}
	recv := func(c *Conn, want [32]byte, at func(int)) chan error {
		done := make(chan error, 1)
		go func() {
			s, err := c.AcceptStream(ctx)
			if err != nil {
				done <- err
				return
			}
			h := sha256.New()
			for q := 1; q <= 4; q++ {
				if n, err := io.CopyN(h, s, int64(size/4)); err != nil {
					done <- fmt.Errorf("quarter %d: after %d bytes: %v", q, n, err)
					return
				}
				if at != nil {
					at(q)
				}
			}
			if n, err := io.Copy(h, s); err != nil || n != 0 {
				done <- fmt.Errorf("after the stream's %d bytes: %d more, %v", size, n, err)
				return
			}
			if [32]byte(h.Sum(nil)) != want {
				done <- fmt.Errorf("the stream arrived altered (SHA-256 differs)")
				return
			}
			done <- nil
		}()
		return done
	}
	up, upSum := send(client, 1)
	down, downSum := send(server, 2)
	gotUp := recv(server, upSum, nil)
	gotDown := recv(client, downSum, at)
	for what, ch := range map[string]chan error{"client writes": up, "server writes": down, "server reads": gotUp, "client reads": gotDown} {
		if err := <-ch; err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// messageEachWay sends a message each way and waits for both.
func messageEachWay(t *testing.T, ctx context.Context, client, server *Conn, text string) {
	t.Helper()
	for _, c := range [][2]*Conn{{client, server}, {server, client}} {
		if err := c[0].SendMessage(ctx, []byte(text)); err != nil {
			t.Fatal(err)
		}
		m, err := c[1].ReceiveMessage(ctx)
		if err != nil || string(m) != text {
			t.Fatalf("message %q: got %q, %v", text, m, err)
		}
	}
}

// TestPeerMovesAddress: the client's NAT rebinds twice in the middle of a
// transfer each way, and once more while the connection is idle. The
// server follows the client to each new address, once the address has
// answered a probe, forgets the old one, and nothing is lost.
func TestPeerMovesAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, server, box := dialThrough(t, ctx, func(a net.Addr) *natBox { return newNATBox(t, a, nil, 0) })
	size := 16 << 20
	if testing.Short() {
		size = 4 << 20
	}
	exchangeBothWays(t, ctx, client, server, size, func(q int) {
		if q == 1 || q == 2 {
			t.Logf("quarter %d: the NAT moves the client to %s", q, box.rebind())
		}
	})
	waitServerPath(t, ctx, server, box.outsideAddr())
	// A stream's RemoteAddr follows the connection.
	sendStream(t, client, []byte("x"))
	ss, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ss.RemoteAddr().String(); got != box.outsideAddr() {
		t.Errorf("stream RemoteAddr %s, the client is at %s", got, box.outsideAddr())
	}
	t.Logf("idle: the NAT moves the client to %s", box.rebind())
	messageEachWay(t, ctx, client, server, "after the idle move")
	waitServerPath(t, ctx, server, box.outsideAddr())
	if got := ss.RemoteAddr().String(); got != box.outsideAddr() || got != server.RemoteAddr().String() {
		t.Errorf("after the move, stream RemoteAddr %s, connection %s; the client is at %s", got, server.RemoteAddr(), box.outsideAddr())
	}
	st := server.Stats()
	t.Logf("server: %d switches, paths %+v", st.PathSwitches, st.Paths)
	if st.PathSwitches != 3 {
		t.Errorf("the server switched paths %d times for 3 moves", st.PathSwitches)
	}
}

// waitServerPath waits until c is on addr alone: the old addresses the
// peer moved from are gone.
func waitServerPath(t *testing.T, ctx context.Context, c *Conn, addr string) {
	t.Helper()
	for {
		st := c.Stats()
		if st.Path == "udp "+addr && len(st.Paths) == 1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the connection is on %s with paths %+v; the peer is at %s", st.Path, st.Paths, addr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestRacedCopyDoesNotMoveConnection: an attacker on the path copies
// every 16th packet of the client's and gets the copy to the server
// before the original, from its own address. The copy authenticates and
// is the newest packet; the original then is a duplicate. The server must
// not move its traffic to the attacker (who could spoof a victim's
// address to turn the server's traffic on it): it sends the attacker's
// address probes alone, a PING each, and waits for an answer that never
// comes. Both transfers complete intact. From one address; and from 20 in
// turn, more than a connection keeps paths for.
func TestRacedCopyDoesNotMoveConnection(t *testing.T) {
	for _, attackers := range []int{1, 20} {
		t.Run(fmt.Sprintf("%d addresses", attackers), func(t *testing.T) { racedCopy(t, attackers) })
	}
}

func racedCopy(t *testing.T, attackers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var n atomic.Int64
	race := func(b []byte) bool { return len(b) > 0 && b[0] == wire.PacketType && n.Add(1)%16 == 0 }
	client, server, box := dialThrough(t, ctx, func(a net.Addr) *natBox { return newNATBox(t, a, race, attackers) })
	size := 16 << 20
	if testing.Short() {
		size = 4 << 20
	}
	exchangeBothWays(t, ctx, client, server, size, nil)
	messageEachWay(t, ctx, client, server, "after the race")
	st := server.Stats()
	sent, recv := box.attackerSent.Load(), box.attackerRecv.Load()
	got, largest := box.attackerGot.Load(), box.attackerLargest.Load()
	t.Logf("attacker: %d copies raced, %d bytes sent; %d datagrams received, %d bytes, the largest %d; server: %d switches, paths %+v",
		box.raced.Load(), sent, got, recv, largest, st.PathSwitches, st.Paths)
	if box.raced.Load() < 50 {
		t.Fatalf("only %d copies raced: the test did not test", box.raced.Load())
	}
	// A probe is a header, a PING and the AEAD tag.
	if probe := int64(wire.HeaderLen + 1 + 16); recv > sent || got > box.raced.Load() || largest > probe {
		t.Errorf("the server sent the attacker %d datagrams, %d bytes (the largest %d; a probe is %d) for %d copies, %d bytes",
			got, recv, largest, probe, box.raced.Load(), sent)
	}
	if st.PathSwitches != 0 || st.Path != "udp "+box.outsideAddr() {
		t.Errorf("the server moved: %d switches, on %s; the client is at %s", st.PathSwitches, st.Path, box.outsideAddr())
	}
}

// TestPathTableMakesRoom: a peer that reaches us on a second link from
// one address after another, each going dead after it answered (a TCP
// connection made again and again), never fills the connection's paths:
// the dead ones make room, and the newest address is always a path.
func TestPathTableMakesRoom(t *testing.T) {
	e := clientEndpoint(t, nil)
	udp := e.links[0]
	tcp := &link{c: udp.c, kind: pathTCP, id: 1} // only its identity matters here
	addr := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 2}), uint16(1000+i))
	}
	c, err := newConn(e, true, 1, []pathAddr{{udp, addr(0)}})
	if err != nil {
		t.Fatal(err)
	}
	c.now = time.Now()
	for i := 1; i <= 3*maxPaths; i++ {
		c.stats.packetsReceived++
		c.heardOn(inbound{link: tcp, from: addr(i)}, uint64(i), 100)
		var p *path
		for _, q := range c.paths {
			if q.addr == addr(i) {
				p = q
			}
		}
		if p == nil {
			t.Fatalf("address %d: no path for it among %d", i, len(c.paths))
		}
		if len(c.paths) > maxPaths {
			t.Fatalf("%d paths", len(c.paths))
		}
		p.valid, p.acked = true, c.now // it answered its probe
		c.now = c.now.Add(time.Second)
		p.failed = c.now // and then went dead
	}
}
