package rudp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/internal/carrier"
	"github.com/pydevts/pydevts/rudp/relay"
)

// switchable is a carrier whose traffic can be cut both ways, as a
// network that starts to blackhole UDP.
type switchable struct {
	carrier.Carrier
	down *atomic.Bool
}

func (s switchable) Send(bufs [][]byte, addr netip.AddrPort) error {
	if s.down.Load() {
		return nil
	}
	return s.Carrier.Send(bufs, addr)
}

func (s switchable) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	for {
		n, err := s.Carrier.Recv(bufs, sizes, addrs)
		if err != nil || !s.down.Load() {
			return n, err
		}
	}
}

// multipathPair connects two endpoints by UDP on loopback, each UDP
// carrier wrapped by wrap, and through our relay.
func multipathPair(t *testing.T, ctx context.Context, wrap func(carrier.Carrier) carrier.Carrier) (client, server *Conn) {
	t.Helper()
	raddr, rkey := startRelay(t)
	relays := []Relay{{raddr, rkey}}
	endpoint := func(accepting bool) *Endpoint {
		id, err := handshake.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		r, err := dialRelays(ctx, relays, &Config{Identity: id}, 0)
		if err != nil {
			t.Fatal(err)
		}
		e, err := newEndpoint([]carrier.Carrier{wrap(carrier.NewUDP(u)), r[0]}, &Config{Identity: id}, accepting)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	se, ce := endpoint(true), endpoint(false)
	accepted := acceptOne(t, ctx, &Listener{e: se})
	peerRelay, err := ce.links[1].c.(*relay.Carrier).Peer(relay.PublicKey(se.Identity().Card().DH))
	if err != nil {
		t.Fatal(err)
	}
	client, err = ce.dialPaths(ctx, []pathAddr{
		{ce.links[0], carrier.AddrPort(se.Addr())},
		{ce.links[1], peerRelay},
	}, se.Identity().Card())
	if err != nil {
		t.Fatal(err)
	}
	if server = <-accepted; server == nil {
		t.FailNow()
	}
	return client, server
}

// waitPath waits until c's active path is of kind.
func waitPath(t *testing.T, ctx context.Context, c *Conn, kind string) {
	t.Helper()
	for !strings.HasPrefix(c.Stats().Path, kind+" ") {
		select {
		case <-ctx.Done():
			t.Fatalf("the connection is still on %s, not %s: %+v", c.Stats().Path, kind, c.Stats().Paths)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestPathSwitchover: UDP blackholed in the middle of a 50 MB stream and
// of a message flood, both ways. Traffic moves to the relay, nothing is
// lost, duplicated or reordered for the application, no stream is reset;
// when UDP comes back, traffic returns to it.
func TestPathSwitchover(t *testing.T) {
	if testing.Short() {
		t.Skip("50 MB over a relay")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var down atomic.Bool
	client, server := multipathPair(t, ctx, func(c carrier.Carrier) carrier.Carrier { return switchable{c, &down} })
	waitPath(t, ctx, client, "udp")
	waitPath(t, ctx, server, "udp")

	const size = 50 << 20
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{6})
	rng.Read(data)
	want := sha256.Sum256(data)
	s, err := client.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.CloseWrite()
		}
		wrote <- err
	}()
	// Messages from the server, numbered, all the while.
	const messages = 2000
	sent := make(chan error, 1)
	go func() {
		for i := range messages {
			if err := server.SendMessage(ctx, []byte(fmt.Sprintf("message %d", i))); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	got := make(chan error, 1)
	go func() {
		seen := make([]bool, messages)
		for range messages {
			m, err := client.ReceiveMessage(ctx)
			if err != nil {
				got <- err
				return
			}
			var i int
			if _, err := fmt.Sscanf(string(m), "message %d", &i); err != nil || i < 0 || i >= messages || seen[i] {
				got <- fmt.Errorf("message %q: unknown or twice", m)
				return
			}
			seen[i] = true
		}
		got <- nil
	}()
	in, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	// A third in, UDP goes dark; at two thirds it comes back.
	n, err := io.CopyN(h, in, size/3)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	down.Store(true)
	t.Log("UDP down")
	n, err = io.CopyN(h, in, size/3)
	if err != nil {
		t.Fatalf("after %d more bytes with UDP down: %v", n, err)
	}
	if p := server.Stats().Path; !strings.HasPrefix(p, "relay ") {
		t.Errorf("a third of the data arrived with UDP down, the server on %s", p)
	}
	down.Store(false)
	t.Log("UDP up")
	waitPath(t, ctx, client, "udp")
	waitPath(t, ctx, server, "udp")
	if _, err := io.Copy(h, in); err != nil {
		t.Fatalf("the rest: %v", err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the stream arrived altered (SHA-256 differs)")
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	st := client.Stats()
	t.Logf("client: %d switches, %d failures; paths %+v", st.PathSwitches, st.PathFailures, st.Paths)
	if st.PathFailures == 0 || st.PathSwitches < 2 {
		t.Errorf("client: %d path failures, %d switches", st.PathFailures, st.PathSwitches)
	}
}

// corrupting is a UDP carrier on which every third datagram arrives with
// a bit flipped: what an attacker who forges packets, or a bad link, does.
type corrupting struct {
	carrier.Carrier
	n *atomic.Uint64
}

func (c corrupting) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	n, err := c.Carrier.Recv(bufs, sizes, addrs)
	for i := range n {
		if k := c.n.Add(1); k%3 == 0 && sizes[i] > 0 {
			j := int(k*7919) % (sizes[i] * 8)
			bufs[i][j/8] ^= 1 << (j % 8)
		}
	}
	return n, err
}

// TestUDPForgeriesDoNotDemote: on UDP anybody can send a packet that
// fails authentication, so such packets must not push a connection off
// its best path: with a third of the packets arriving altered on UDP, a
// stream arrives intact, no path is demoted, and both sides are on UDP
// once it is done. (Altered packets are lost packets too: a run of them
// can leave a packet unacknowledged past the path timeout, 200 ms on
// loopback, and the connection then tries the relay for a while, as it
// would on any path that stops answering; it comes back to UDP within a
// few heartbeats since UDP still answers.)
func TestUDPForgeriesDoNotDemote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var n atomic.Uint64
	client, server := multipathPair(t, ctx, func(c carrier.Carrier) carrier.Carrier { return corrupting{c, &n} })
	data := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{7}).Read(data)
	go func() {
		s, err := client.OpenStream(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		s.Write(data)
		s.CloseWrite()
	}()
	in, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(in)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d of %d bytes arrived (%v)", len(got), len(data), err)
	}
	for _, c := range []*Conn{client, server} {
		st := c.Stats()
		for !strings.HasPrefix(st.Path, "udp ") && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			st = c.Stats()
		}
		t.Logf("path %s; %d path failures, %d switches", st.Path, st.PathFailures, st.PathSwitches)
		if st.PathDemotions != 0 || !strings.HasPrefix(st.Path, "udp ") || st.PacketsDropped == 0 {
			t.Errorf("%d demotions, path %s, %d packets dropped; want 0, udp, some", st.PathDemotions, st.Path, st.PacketsDropped)
		}
	}
}

// TestEndpointDialAll: a listener's endpoint dials another on all its
// paths (UDP and a relay, the same relay client it listens through), or
// through the relay alone when given no address.
func TestEndpointDialAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raddr, rkey := startRelay(t)
	cfg := func() *Config { return &Config{Relays: []Relay{{raddr, rkey}}} }
	la, err := Listen("udp", "127.0.0.1:0", cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	lb, err := Listen("udp", "127.0.0.1:0", cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	go func() {
		for {
			c, err := la.Accept(ctx)
			if err != nil {
				return
			}
			go func() {
				s, err := c.AcceptStream(ctx)
				if err == nil {
					io.Copy(s, s)
					s.Close()
				}
			}()
		}
	}()
	for _, addr := range []string{la.Addr().String(), ""} {
		c, err := lb.Endpoint().DialAll(ctx, addr, la.Endpoint().Identity().Card())
		if err != nil {
			t.Fatalf("DialAll(%q): %v", addr, err)
		}
		s, err := c.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("over every path " + addr)
		s.Write(msg)
		s.CloseWrite()
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo over DialAll(%q): %q, %v", addr, got, err)
		}
		want := 2
		if addr == "" {
			want = 1
		}
		if st := c.Stats(); len(st.Paths) != want {
			t.Errorf("DialAll(%q): %d paths, want %d: %+v", addr, len(st.Paths), want, st.Paths)
		}
		c.Close()
	}
}
