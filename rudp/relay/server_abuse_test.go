package relay

import (
	"bytes"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// These tests attack a server while two good clients use it; each ends
// by checking that the good ones are still served. None measures time:
// they wait for events (counters, packets), each bounded by patience.

// stillServed checks that a and b, already connected, exchange a packet
// each way and that their pings are answered.
func stillServed(t *testing.T, a, b *testClient) {
	t.Helper()
	for _, p := range [][2]*testClient{{a, b}, {b, a}} {
		msg := []byte("still served")
		if err := p[0].Send(p[1].PublicKey(), msg); err != nil {
			t.Fatal(err)
		}
		if ev := p[1].expect(EventData, p[0].PublicKey()); !bytes.Equal(ev.Data, msg) {
			t.Fatalf("got %q", ev.Data)
		}
	}
}

func TestServerGarbage(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	s, addr := startServer(t, nil)
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	connect(t, a, b)
	ak, bk := a.PublicKey(), b.PublicKey()

	randBytes := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.UintN(256))
		}
		return p
	}
	var wg sync.WaitGroup
	attack := func(f func(nc net.Conn)) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		wg.Go(func() {
			f(nc)
			nc.SetReadDeadline(time.Now().Add(patience))
			var buf [4096]byte
			for { // until the server closes
				if _, err := nc.Read(buf[:]); err != nil {
					return
				}
			}
		})
	}
	for range 20 { // garbage instead of a handshake, then EOF
		junk := randBytes(1 + rng.IntN(400))
		attack(func(nc net.Conn) {
			nc.Write(junk)
			nc.(*net.TCPConn).CloseWrite()
		})
	}
	for range 20 { // a good handshake, then garbage frames
		junk := randBytes(1 + rng.IntN(3000))
		r := dialRaw(t, addr, s.PublicKey())
		r.ping()
		r.nc.Write(junk)
		// EOF after the junk: a junk length field may announce more
		// than follows, and the server rightly waits for the rest.
		r.nc.(*net.TCPConn).CloseWrite()
		wg.Go(r.expectClosedQuietly)
	}
	for i := range 40 { // good frames with random packets: routes to a and b, then junk
		var pkts [][]byte
		pkts = append(pkts, packet(TypeRouteRequest, ak[:]), packet(TypeRouteRequest, bk[:]))
		for range 1 + rng.IntN(20) {
			p := randBytes(1 + rng.IntN(100))
			if i%2 == 0 { // bias towards the packet types and Data on the routed links
				p[0] = byte(rng.IntN(18))
			}
			pkts = append(pkts, p)
		}
		r := dialRaw(t, addr, s.PublicKey())
		r.mustSend(pkts...)
		r.nc.Close()
	}
	wg.Wait()
	stillServed(t, a, b)
	// Nothing reached a or b but what they sent each other (the attackers
	// routed to them, but they never routed back; junk OOB to their keys
	// would need the 32 bytes of a key).
	for _, c := range []*testClient{a, b} {
		if len(c.events) != 0 {
			t.Errorf("client %.8s got events from the attackers: %+v", c.PublicKey(), c.events)
		}
	}
	waitFor(t, "the 20 bad handshakes counted", func() bool { return s.Stats().Kills.Handshake >= 20 })
	t.Logf("after the garbage: %+v", s.Stats())
}

// expectClosedQuietly waits for the server to close the connection, or
// for patience to run out, without failing: a random frame can be valid.
func (r *rawConn) expectClosedQuietly() {
	r.nc.SetReadDeadline(time.Now().Add(patience))
	var buf [4096]byte
	for {
		if _, err := r.nc.Read(buf[:]); err != nil {
			return
		}
	}
}

func TestServerSlowLoris(t *testing.T) {
	const maxUnconfirmed = 8
	s, addr := startServer(t, &Config{MaxUnconfirmed: maxUnconfirmed})
	dial := tcpDialer(addr, s.PublicKey())
	a := newTestClient(t, dial, nil)
	// a's first packet must have reached the server, or a is one of the
	// handshakes the loris push out.
	waitFor(t, "a confirmed", func() bool { return s.Stats().Active == 1 })

	// 20 connections that send one byte of the hello and stall. They
	// never finish, so each new one pushes the oldest out.
	var loris []net.Conn
	for range 20 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.Write([]byte{1})
		loris = append(loris, nc)
	}
	waitFor(t, "12 evictions", func() bool { return s.Stats().Kills.Evicted == 20-maxUnconfirmed })
	// A confirmed client stalls in the middle of a frame.
	stall := dialRaw(t, addr, s.PublicKey())
	stall.ping()
	frame, _ := stall.sess.SealFrame(nil, packet(TypeOOBSend, make([]byte, 1000)))
	stall.nc.Write(frame[:500])

	// A good client still gets in (pushing one more out) and is served.
	b := newTestClient(t, dial, nil)
	connect(t, a, b)
	stillServed(t, a, b)
	// stall pushed one more out; a came before the loris and b found a
	// place free after stall had confirmed.
	waitFor(t, "13 evictions", func() bool { return s.Stats().Kills.Evicted == 20-maxUnconfirmed+1 })
	if st := s.Stats(); st.Unconfirmed != maxUnconfirmed-1 {
		t.Errorf("stats %+v: want %d unconfirmed", st, maxUnconfirmed-1)
	}
	// The half frame is still waiting for its end, and gets it.
	stall.nc.Write(frame[500:])
	stall.ping()
	if d := s.Stats().Drops; d.NoPeer != 1 {
		t.Errorf("drops %+v: want the stalled OOB dropped (no such peer)", d)
	}
	// A connection whose hello never ends goes at HandshakeTimeout.
	s2, addr2 := startServer(t, &Config{HandshakeTimeout: 50 * time.Millisecond})
	nc, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Write(make([]byte, 100))
	waitFor(t, "a handshake timeout", func() bool { return s2.Stats().Kills.HandshakeTimeout == 1 })
	// So does one that stops after the hello, unconfirmed.
	r, err := dialRawKey(addr2, s2.PublicKey(), fixedKey(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	defer r.nc.Close()
	waitFor(t, "a second handshake timeout", func() bool { return s2.Stats().Kills.HandshakeTimeout == 2 })
}

// TestServerSlowReader: a client that routes and then never reads must
// cost its senders nothing but dropped packets, and must not slow anyone
// else down.
func TestServerSlowReader(t *testing.T) {
	s, addr := startServer(t, nil)
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	connect(t, a, b)
	slow := dialRaw(t, addr, s.PublicKey())
	slow.nc.(*net.TCPConn).SetReadBuffer(4096)
	slow.ping()
	ak := a.PublicKey()
	slow.mustSend(packet(TypeRouteRequest, ak[:]))
	if err := a.Route(slow.key.Public); err != nil {
		t.Fatal(err)
	}
	a.expect(EventConnected, slow.key.Public)

	// a sends to slow until the relay drops: its queue for slow is full.
	payload := make([]byte, MaxData)
	for i := 0; s.Stats().Drops.QueueFull == 0; i++ {
		if i == 100000 {
			t.Fatalf("no drop after %d packets: %+v", i, s.Stats())
		}
		if err := a.Send(slow.key.Public, payload); err != nil {
			t.Fatal(err)
		}
		if i%64 == 0 {
			time.Sleep(time.Millisecond) // let a's writer keep up
		}
	}
	stillServed(t, a, b)
	t.Logf("relay stats with a slow reader: %+v", s.Stats())
}

func TestServerManyIdleClients(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	s, addr := startServer(t, nil)
	keys := make(chan KeyPair, n)
	for range n {
		kp, err := NewKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		keys <- kp
	}
	close(keys)
	var mu sync.Mutex
	var idle []*rawConn
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for kp := range keys {
				r, err := dialRawKey(addr, s.PublicKey(), kp)
				if err == nil {
					// Confirmed by its first packet, then silent.
					err = r.send(packet(TypePingRequest, []byte{1, 1, 1, 1, 1, 1, 1, 1}))
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				idle = append(idle, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, r := range idle {
			r.nc.Close()
		}
	})
	waitFor(t, "every idle client confirmed", func() bool { return s.Stats().Active == n })
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	connect(t, a, b)
	stillServed(t, a, b)
	if st := s.Stats(); st.Active != n+2 {
		t.Errorf("%d active, want %d", st.Active, n+2)
	}
}

// TestServerPriorityOverflow: a client that asks and asks but never reads
// the answers is closed once MaxPriority of them wait, instead of growing
// the server's memory.
func TestServerPriorityOverflow(t *testing.T) {
	s, addr := startServer(t, &Config{MaxPriority: 16})
	r := dialRaw(t, addr, s.PublicKey())
	r.nc.(*net.TCPConn).SetReadBuffer(4096)
	r.ping()
	req := packet(TypeRouteRequest, bytes.Repeat([]byte{9}, 32))
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = req
	}
	for i := 0; s.Stats().Kills.Overflow == 0; i++ {
		if i == 100 {
			t.Fatalf("not closed after %d route requests: %+v", i*len(batch), s.Stats())
		}
		if r.send(batch...) != nil {
			break // closed
		}
	}
	waitFor(t, "the overflow counted", func() bool { return s.Stats().Kills.Overflow == 1 })
}
