package carrier

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

func listen(t *testing.T, network, addr string) *UDP {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	u := NewUDP(c)
	t.Cleanup(func() { u.Close() })
	return u
}

func recvAll(t *testing.T, u *UDP, want int) (got [][]byte, from []netip.AddrPort) {
	t.Helper()
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, 8)
	addrs := make([]netip.AddrPort, 8)
	u.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < want {
		n, err := u.Recv(bufs, sizes, addrs)
		if err != nil {
			t.Fatalf("Recv after %d datagrams: %v", len(got), err)
		}
		for i := range n {
			got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			from = append(from, addrs[i])
		}
	}
	return got, from
}

// TestUDPBatches sends batches between two loopback sockets, IPv4 and
// IPv6, and checks every datagram arrives whole with the right source.
func TestUDPBatches(t *testing.T) {
	for _, c := range []struct{ network, a, b string }{
		{"udp4", "127.0.0.1:0", "127.0.0.1:0"},
		{"udp6", "[::1]:0", "[::1]:0"},
	} {
		t.Run(c.network, func(t *testing.T) {
			a, b := listen(t, c.network, c.a), listen(t, c.network, c.b)
			var msgs [][]byte
			for i := range 20 {
				msgs = append(msgs, []byte(fmt.Sprintf("datagram %d %s", i, bytes.Repeat([]byte{'x'}, i*50))))
			}
			to := AddrPort(b.LocalAddr())
			if err := a.Send(msgs[:10], to); err != nil {
				t.Fatal(err)
			}
			if err := a.Send(msgs[10:], to); err != nil {
				t.Fatal(err)
			}
			got, from := recvAll(t, b, 20)
			for i := range got {
				if !bytes.Equal(got[i], msgs[i]) {
					t.Fatalf("datagram %d: %q", i, got[i])
				}
				if from[i] != AddrPort(a.LocalAddr()) {
					t.Fatalf("source %v, want %v", from[i], a.LocalAddr())
				}
			}
		})
	}
}

// TestSendEach sends, in one call, datagrams to three sockets in turn
// and one to an address the socket cannot reach (IPv6 from an IPv4
// socket): each of the three gets its own, whole and in order, from the
// sender, the one that cannot go is dropped with an error, and the rest
// still go. A dual-stack socket sends to IPv4 and IPv6 peers in one call.
func TestSendEach(t *testing.T) {
	for _, c := range []struct{ network, from, to4, to6 string }{
		{"udp4", "127.0.0.1:0", "127.0.0.1:0", ""},
		{"udp", "[::]:0", "127.0.0.1:0", "[::1]:0"},
	} {
		t.Run(c.network, func(t *testing.T) {
			a := listen(t, c.network, c.from)
			rs := []*UDP{listen(t, "udp4", c.to4), listen(t, "udp4", c.to4)}
			if c.to6 != "" {
				rs = append(rs, listen(t, "udp6", c.to6))
			} else {
				rs = append(rs, listen(t, "udp4", c.to4))
			}
			var bufs [][]byte
			var addrs []netip.AddrPort
			for i := range 12 {
				r := i % len(rs)
				to := AddrPort(rs[r].LocalAddr())
				if c.network == "udp" && r < 2 {
					to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), to.Port())
				}
				if c.network == "udp" && r == 2 {
					to = netip.AddrPortFrom(netip.MustParseAddr("::1"), to.Port())
				}
				bufs = append(bufs, []byte(fmt.Sprintf("datagram %d for %d", i, r)))
				addrs = append(addrs, to)
				if i == 5 && c.network == "udp4" {
					bufs = append(bufs, []byte("nowhere"))
					addrs = append(addrs, netip.MustParseAddrPort("[::1]:9"))
				}
			}
			err := a.SendEach(bufs, addrs)
			if c.network == "udp4" && err == nil {
				t.Error("an IPv6 address from an IPv4 socket: no error")
			}
			if c.network == "udp" && err != nil {
				t.Error(err)
			}
			for r, u := range rs {
				got, _ := recvAll(t, u, 4)
				for k, g := range got {
					if want := fmt.Sprintf("datagram %d for %d", k*len(rs)+r, r); string(g) != want {
						t.Errorf("socket %d, datagram %d: %q, want %q", r, k, g, want)
					}
				}
			}
			if err := a.SendEach(bufs[:2], addrs[:1]); err == nil {
				t.Error("2 buffers for 1 address: no error")
			}
		})
	}
}

// TestDualStack: an IPv6 socket bound to [::] talks to an IPv4 peer with
// plain IPv4 addresses both ways.
func TestDualStack(t *testing.T) {
	d := listen(t, "udp", "[::]:0")
	v4 := listen(t, "udp4", "127.0.0.1:0")
	port := AddrPort(d.LocalAddr()).Port()
	if err := v4.Send([][]byte{[]byte("to dual")}, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)); err != nil {
		t.Fatal(err)
	}
	_, from := recvAll(t, d, 1)
	if !from[0].Addr().Is4() {
		t.Fatalf("source %v is not a plain IPv4 address", from[0])
	}
	if err := d.Send([][]byte{[]byte("to v4")}, from[0]); err != nil {
		t.Fatal(err)
	}
	got, _ := recvAll(t, v4, 1)
	if string(got[0]) != "to v4" {
		t.Fatalf("got %q", got[0])
	}
}

func TestUDPClose(t *testing.T) {
	u := listen(t, "udp4", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() {
		_, err := u.Recv([][]byte{make([]byte, 100)}, make([]int, 1), make([]netip.AddrPort, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	u.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
}

func TestOversizeDatagramDoesNotStopBatch(t *testing.T) {
	a, b := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	err := a.Send([][]byte{[]byte("first"), make([]byte, 70000), []byte("third")}, AddrPort(b.LocalAddr()))
	if err == nil {
		t.Log("kernel accepted a 70000-byte datagram?")
	}
	got, _ := recvAll(t, b, 2)
	if string(got[0]) != "first" || string(got[1]) != "third" {
		t.Fatalf("got %q", got)
	}
}

func TestPacketConnCarrier(t *testing.T) {
	pa, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	pb, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	a, b := NewPacketConn(pa, 1500), NewPacketConn(pb, 1500)
	defer a.Close()
	defer b.Close()
	if err := a.Send([][]byte{[]byte("one"), []byte("two")}, AddrPort(b.LocalAddr())); err != nil {
		t.Fatal(err)
	}
	buf := [][]byte{make([]byte, 100), make([]byte, 100)}
	sizes, addrs := make([]int, 2), make([]netip.AddrPort, 2)
	var got []string
	for len(got) < 2 {
		n, err := b.Recv(buf, sizes, addrs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			got = append(got, string(buf[i][:sizes[i]]))
		}
	}
	if got[0] != "one" || got[1] != "two" || addrs[0] != AddrPort(a.LocalAddr()) {
		t.Fatalf("got %v from %v", got, addrs[0])
	}
	if b.MaxDatagram() != 1500 || b.Reliable() {
		t.Fatal("MaxDatagram/Reliable")
	}
}
