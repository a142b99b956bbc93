package rudp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/pydevts/pydevts/internal/wire"
)

// capturingConn is a UDP socket that keeps copies of the first datagrams
// it sends and receives: an attacker's capture of a connection's packets.
type capturingConn struct {
	*net.UDPConn
	limit, ready int

	mu       sync.Mutex // guards out and in
	out, in  [][]byte
	captured chan struct{} // closed once out holds ready packets
}

func newCapturingConn(t *testing.T, limit, ready int) *capturingConn {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return &capturingConn{UDPConn: u, limit: limit, ready: ready, captured: make(chan struct{})}
}

func (c *capturingConn) WriteTo(b []byte, to net.Addr) (int, error) {
	c.mu.Lock()
	if len(c.out) < c.limit {
		c.out = append(c.out, bytes.Clone(b))
		if len(c.out) == c.ready {
			close(c.captured)
		}
	}
	c.mu.Unlock()
	return c.UDPConn.WriteTo(b, to)
}

func (c *capturingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.UDPConn.ReadFrom(b)
	if err == nil {
		c.mu.Lock()
		if len(c.in) < c.limit {
			c.in = append(c.in, bytes.Clone(b[:n]))
		}
		c.mu.Unlock()
	}
	return n, from, err
}

// packets returns what was captured so far, both ways.
func (c *capturingConn) packets() (out, in [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out[:len(c.out):len(c.out)], c.in[:len(c.in):len(c.in)]
}

// udpDrops returns the kernel's count of datagrams dropped at the IPv4
// UDP socket bound to 127.0.0.1:port (a full receive buffer), from
// /proc/net/udp; ok is false where there is no such file.
func udpDrops(port int) (drops uint64, ok bool) {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 13 && fs[1] == want {
			d, err := strconv.ParseUint(fs[12], 10, 64)
			return d, err == nil
		}
	}
	return 0, false
}

// TestHostileTrafficDuringTransfer: while a client sends a 32 MB stream
// and 500 messages to a listener, a second socket floods the listener's
// address, as fast as it can, with the connection's own packets replayed,
// the packets of a previous connection, bit-flipped and truncated copies,
// oversize and zero-length datagrams, and garbage under the connection's
// ID. The transfer must complete intact, every message exactly once,
// every hostile datagram that reached the listener must be counted as
// dropped, and none accepted: the listener's connection authenticates
// no more packets than the client sent, and keeps its one path.
func TestHostileTrafficDuringTransfer(t *testing.T) {
	size, messages, hostile := 32<<20, 500, 200_000
	if testing.Short() {
		size, hostile = 8<<20, 50_000
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	l := listenLoopback(t, nil)
	le := l.Endpoint()
	port := l.Addr().(*net.UDPAddr).Port
	accepted := make(chan *Conn, 2)
	go func() {
		for {
			c, err := l.Accept(ctx)
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dialCapturing := func() (*Conn, *capturingConn) {
		// The flood starts after 1024 packets (about 1 MB of the stream,
		// well inside the first half, which the client writes before it
		// waits for the flood) and takes its replays from up to 4096.
		cc := newCapturingConn(t, 4096, 1024)
		e, err := NewEndpoint(cc, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		c, err := e.Dial(ctx, l.Addr().String(), le.Identity().Card())
		if err != nil {
			t.Fatal(err)
		}
		return c, cc
	}

	// A previous connection: a message and a short stream, then closed.
	old, oldCap := dialCapturing()
	oldSrv := <-accepted
	if err := old.SendMessage(ctx, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if m, err := oldSrv.ReceiveMessage(ctx); err != nil || string(m) != "old" {
		t.Fatalf("old connection: %q %v", m, err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); le.Stats().Connections != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old connection never left the listener")
		}
	}
	oldOut, oldIn := oldCap.packets()
	oldPackets := append(oldOut, oldIn...)

	// The honest connection.
	client, capt := dialCapturing()
	server := <-accepted
	connID := server.localID
	clientAddr := client.e.Addr().String()

	type result struct {
		sum  [32]byte
		n    int64
		msgs map[string]int
		err  error
	}
	streamDone, msgsDone := make(chan result, 1), make(chan result, 1)
	go func() {
		s, err := server.AcceptStream(ctx)
		if err != nil {
			streamDone <- result{err: err}
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, s)
		r := result{n: n, err: err}
		h.Sum(r.sum[:0])
		streamDone <- r
	}()
	go func() {
		r := result{msgs: map[string]int{}}
		for {
			m, err := server.ReceiveMessage(ctx)
			if err != nil {
				r.err = err
				break
			}
			if string(m) == "end" {
				break
			}
			r.msgs[string(m)]++
		}
		msgsDone <- r
	}()

	// The attacker: it waits for a capture of the honest connection's
	// first packets, then sends hostile datagrams as fast as it can.
	var floodSent atomic.Int64
	half := make(chan struct{})
	var halfOnce sync.Once
	type floodResult struct {
		toConn  int // datagrams whose header names the honest connection
		elapsed time.Duration
		err     error
	}
	floodDone := make(chan floodResult, 1)
	fu, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer fu.Close()
	dropsBefore, haveDrops := udpDrops(port)
	epBefore := le.Stats()
	srvBefore, clBefore := server.Stats(), client.Stats()
	go func() {
		<-capt.captured
		out, in := capt.packets()
		// The datagrams are made before the flood starts, so that it runs
		// at the rate of the system calls: a pool of each kind, cycled.
		frng := rand.New(rand.NewPCG(seed, 12))
		fill := rand.NewChaCha8([32]byte{byte(seed), 12})
		random := func(n int) []byte {
			b := make([]byte, n)
			fill.Read(b)
			return b
		}
		withID := func(b []byte) []byte {
			if len(b) >= wire.HeaderLen {
				wire.AppendHeader(b[:0], wire.Header{KeyPhase: b[1], ConnID: connID, PN: frng.Uint64()})
			}
			b[0] = wire.PacketType
			return b
		}
		pick := func(ps [][]byte) []byte { return ps[frng.IntN(len(ps))] }
		const kinds = 9
		var pool [kinds][][]byte
		for range 256 {
			flipped := bytes.Clone(pick(out))
			flipped[frng.IntN(len(flipped))] ^= 1 << frng.IntN(8)
			cut := pick(out)
			pool[0] = append(pool[0], pick(out))                                      // the honest connection's packets, replayed
			pool[1] = append(pool[1], pick(in))                                       // the listener's own packets, sent back to it
			pool[2] = append(pool[2], pick(oldPackets))                               // a previous connection's packets
			pool[3] = append(pool[3], flipped)                                        // one bit flipped
			pool[4] = append(pool[4], cut[:frng.IntN(len(cut))])                      // truncated
			pool[6] = append(pool[6], nil)                                            // zero-length
			pool[7] = append(pool[7], withID(random(wire.HeaderLen+frng.IntN(1400)))) // garbage under the connection's ID
			pool[8] = append(pool[8], random(1+frng.IntN(1500)))                      // garbage
		}
		for range 8 {
			pool[5] = append(pool[5], withID(random(65507))) // the largest UDP payload, under the connection's ID
		}
		pc := ipv4.NewPacketConn(fu)
		to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(l.Addr().String()))
		ms := make([]ipv4.Message, 64)
		var r floodResult
		start := time.Now()
		for sent := 0; sent < hostile; {
			n := min(len(ms), hostile-sent)
			for i := range n {
				j := sent + i
				ps := pool[j%kinds]
				b := ps[(j/kinds)%len(ps)]
				if id, ok := wire.ConnID(b); ok && id == connID {
					r.toConn++
				}
				ms[i] = ipv4.Message{Buffers: [][]byte{b}, Addr: to}
			}
			for k := 0; k < n; {
				m, err := pc.WriteBatch(ms[k:n], 0)
				if err != nil {
					r.err = err
					halfOnce.Do(func() { close(half) })
					floodDone <- r
					return
				}
				k += m
			}
			sent += n
			if floodSent.Add(int64(n)) >= int64(hostile/2) {
				halfOnce.Do(func() { close(half) })
			}
		}
		r.elapsed = time.Since(start)
		floodDone <- r
	}()

	// The honest client: half the stream, then (once half the flood is
	// out, so the two overlap whatever the speeds) the rest; the
	// messages all along.
	var msgWG sync.WaitGroup
	for w := range 4 {
		msgWG.Go(func() {
			for i := w; i < messages; i += 4 {
				if err := client.SendMessage(ctx, fmt.Appendf(nil, "message %d", i)); err != nil {
					t.Errorf("message %d: %v", i, err)
					return
				}
			}
		})
	}
	s, err := client.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{byte(seed), 42})
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for written := 0; written < size; written += len(buf) {
		if written == size/2 {
			select {
			case <-half:
			case <-ctx.Done():
				t.Fatal("the flood never got half way")
			}
		}
		src.Read(buf)
		h.Write(buf)
		if _, err := s.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	msgWG.Wait()
	if err := client.SendMessage(ctx, []byte("end")); err != nil {
		t.Fatal(err)
	}

	var want [32]byte
	h.Sum(want[:0])
	if r := <-streamDone; r.err != nil || r.n != int64(size) || r.sum != want {
		t.Fatalf("stream: received %d of %d bytes (err %v), checksum match %v", r.n, size, r.err, r.sum == want)
	}
	mr := <-msgsDone
	if mr.err != nil {
		t.Fatal(mr.err)
	}
	for i := range messages {
		if k := fmt.Sprintf("message %d", i); mr.msgs[k] != 1 {
			t.Errorf("%s delivered %d times", k, mr.msgs[k])
		}
	}
	if len(mr.msgs) != messages {
		t.Errorf("%d distinct messages delivered, want %d", len(mr.msgs), messages)
	}
	fr := <-floodDone
	if fr.err != nil {
		t.Fatalf("flood: %v", fr.err)
	}

	// Every hostile datagram the socket took in is counted as dropped,
	// by the endpoint or by the connection, or, for the replayed
	// initiations (the captures begin with one), refused or answered
	// with a cookie reply when the flood puts the responder under load.
	// Honest packets dropped (a full queue) only add to the drops; the
	// kernel's drops at the socket (a full buffer, honest or hostile)
	// are the ones never seen.
	var dropped, kernel uint64
	counted := func() bool {
		ep, sv := le.Stats(), server.Stats()
		dropped = ep.DroppedMalformed - epBefore.DroppedMalformed +
			ep.DroppedUnknownConn - epBefore.DroppedUnknownConn +
			ep.DroppedQueueFull - epBefore.DroppedQueueFull +
			ep.HandshakesDropped - epBefore.HandshakesDropped +
			ep.CookiesSent - epBefore.CookiesSent +
			sv.PacketsDropped - srvBefore.PacketsDropped
		if haveDrops {
			d, _ := udpDrops(port)
			kernel = d - dropsBefore
		}
		return dropped+kernel >= uint64(hostile)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !counted() {
		if time.Now().After(deadline) {
			t.Fatalf("%d hostile datagrams sent; the listener counted %d dropped, the kernel %d", hostile, dropped, kernel)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Those under the connection's ID reached the connection (unless the
	// kernel or a full queue dropped them first), and it refused them all.
	if d := server.Stats().PacketsDropped - srvBefore.PacketsDropped + le.Stats().DroppedQueueFull - epBefore.DroppedQueueFull + kernel; d < uint64(fr.toConn) {
		t.Errorf("%d hostile datagrams carried the connection's ID; it dropped %d (queue and kernel drops included)", fr.toConn, d)
	}
	// Nothing hostile was accepted: each packet the listener's
	// connection authenticated is one the client sent (read in that
	// order, so the client's count is the later one), and the
	// connection still sends to the client's address alone.
	sv := server.Stats()
	cl := client.Stats()
	ep := le.Stats()
	if ep.HandshakesAccepted != epBefore.HandshakesAccepted {
		t.Errorf("the listener accepted %d initiations during the flood", ep.HandshakesAccepted-epBefore.HandshakesAccepted)
	}
	if sv.PacketsReceived > cl.PacketsSent {
		t.Errorf("the listener accepted %d packets; the client sent %d", sv.PacketsReceived, cl.PacketsSent)
	}
	if sv.Path != "udp "+clientAddr || len(sv.Paths) != 1 {
		t.Errorf("the listener's connection moved: path %q, %d paths; the client is at %s", sv.Path, len(sv.Paths), clientAddr)
	}
	// What the socket took in is what was counted, one way or another;
	// the difference is the datagrams still queued when the counters
	// were read, and the handshake's.
	in := int64(hostile) + int64(cl.PacketsSent-clBefore.PacketsSent) - int64(kernel)
	seen := int64(dropped) + int64(sv.PacketsReceived-srvBefore.PacketsReceived)
	t.Logf("accounting: %d datagrams reached the listener's socket (at most), %d counted", in, seen)
	t.Logf("flood: %d datagrams in %v, %.0f datagrams/s (%d under the connection's ID)", hostile, fr.elapsed.Round(time.Millisecond), float64(hostile)/fr.elapsed.Seconds(), fr.toConn)
	t.Logf("listener: endpoint dropped %d malformed, %d unknown connection, %d queue full, %d initiations, sent %d cookie replies; connection dropped %d, accepted %d (client sent %d); kernel dropped %d (known: %v)",
		ep.DroppedMalformed-epBefore.DroppedMalformed, ep.DroppedUnknownConn-epBefore.DroppedUnknownConn, ep.DroppedQueueFull-epBefore.DroppedQueueFull,
		ep.HandshakesDropped-epBefore.HandshakesDropped, ep.CookiesSent-epBefore.CookiesSent,
		sv.PacketsDropped-srvBefore.PacketsDropped, sv.PacketsReceived, cl.PacketsSent, kernel, haveDrops)
	t.Logf("transfer intact: %d MiB (SHA-256 checked) and %d messages, each once; client lost %d packets, retransmitted %d bytes", size>>20, messages, cl.PacketsLost, cl.Retransmitted)
}
