package carrier

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenOpt is listen with offloads chosen by the test.
func listenOpt(t testing.TB, network, addr string, opt udpOptions) *UDP {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	u := newUDP(c, opt)
	t.Cleanup(func() { u.Close() })
	return u
}

// datagram i of a test batch: its index, then a pattern that depends on
// it, size bytes in all (at least 4, or empty).
func datagram(i, size int) []byte {
	b := make([]byte, size)
	if size >= 4 {
		binary.BigEndian.PutUint32(b, uint32(i))
		for j := 4; j < size; j++ {
			b[j] = byte(i*7 + j)
		}
	}
	return b
}

// recvN reads want datagrams into batch buffers of bufSize bytes.
func recvN(t testing.TB, u *UDP, want, batch, bufSize int) (got [][]byte, from []netip.AddrPort) {
	t.Helper()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, bufSize)
	}
	sizes := make([]int, batch)
	addrs := make([]netip.AddrPort, batch)
	u.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer u.conn.SetReadDeadline(time.Time{})
	for len(got) < want {
		n, err := u.Recv(bufs, sizes, addrs)
		if err != nil {
			t.Fatalf("Recv after %d of %d datagrams: %v", len(got), want, err)
		}
		for i := range n {
			got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			from = append(from, addrs[i])
		}
	}
	return got, from
}

// batchShapes are the sizes of the test batches: runs the GSO layout must
// cut at the segment limit, the byte limit, a shorter last datagram, a
// change of size and an empty datagram.
var batchShapes = map[string][]int{
	"equal+short": append(repeat(100, 1000), 123),
	"mixed":       concat(repeat(10, 500), repeat(30, 1400), []int{200}, repeat(5, 1400), []int{0, 1400, 1400}, repeat(3, 7), []int{1500, 1400, 1400}),
	"large":       append(repeat(20, 8000), 4000), // 8 segments per 64 KB
	"single":      {1400},
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func concat(ss ...[]int) []int {
	var r []int
	for _, s := range ss {
		r = append(r, s...)
	}
	return r
}

// TestGSOGROBatches sends batches of every shape over IPv4, IPv6 and a
// dual-stack socket, with each offload on and off at each end, and checks
// that every datagram arrives whole, in order, from the right source.
func TestGSOGROBatches(t *testing.T) {
	nets := []struct{ name, snet, saddr, rnet, raddr string }{
		{"v4", "udp4", "127.0.0.1:0", "udp4", "127.0.0.1:0"},
		{"v6", "udp6", "[::1]:0", "udp6", "[::1]:0"},
		{"v4-to-dual", "udp4", "127.0.0.1:0", "udp", "[::]:0"},
		{"dual-to-v4", "udp", "[::]:0", "udp4", "127.0.0.1:0"},
	}
	for _, n := range nets {
		for _, o := range []struct {
			name string
			s, r udpOptions
		}{
			{"gso+gro", udpOptions{}, udpOptions{}},
			{"gso", udpOptions{}, udpOptions{noGRO: true}},
			{"gro", udpOptions{noGSO: true}, udpOptions{}},
			{"none", udpOptions{noGSO: true}, udpOptions{noGRO: true}},
		} {
			t.Run(n.name+"/"+o.name, func(t *testing.T) {
				a := listenOpt(t, n.snet, n.saddr, o.s)
				b := listenOpt(t, n.rnet, n.raddr, o.r)
				to := AddrPort(b.LocalAddr())
				if n.rnet == "udp" {
					to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), to.Port())
				}
				checkShapes(t, a, b, to)
				gso, _ := a.Offload()
				_, gro := b.Offload()
				if o.s.noGSO && gso || o.r.noGRO && gro {
					t.Fatalf("Offload() = %v, %v with the offload switched off", gso, gro)
				}
				if gso && a.sys.w.segmented == 0 {
					t.Error("GSO on, but no message went segmented")
				}
				if gso && gro && b.sys.r.coalesced == 0 {
					t.Error("GSO and GRO on, but no message arrived coalesced")
				}
				if !o.s.noGSO && !gso || !o.r.noGRO && !gro {
					t.Logf("offloads: GSO %v, GRO %v: the kernel lacks one", gso, gro)
				}
			})
		}
	}
}

// checkShapes sends every batch shape from a to b (at to) and checks what
// arrives.
func checkShapes(t *testing.T, a, b *UDP, to netip.AddrPort) {
	t.Helper()
	src := AddrPort(a.LocalAddr())
	if src.Addr().IsUnspecified() {
		src = netip.AddrPortFrom(to.Addr(), src.Port()) // a dual-stack sender is seen at the address it sent to
	}
	for _, shape := range []string{"equal+short", "mixed", "large", "single"} {
		sizes := batchShapes[shape]
		msgs := make([][]byte, len(sizes))
		for i, s := range sizes {
			msgs[i] = datagram(i, s)
		}
		if err := a.Send(msgs, to); err != nil {
			t.Fatalf("%s: Send: %v", shape, err)
		}
		got, from := recvN(t, b, len(msgs), 64, 9000)
		for i := range got {
			if !bytes.Equal(got[i], msgs[i]) {
				t.Fatalf("%s: datagram %d: %d bytes %x..., want %d bytes %x...", shape, i, len(got[i]), head(got[i]), len(msgs[i]), head(msgs[i]))
			}
			if from[i] != src {
				t.Fatalf("%s: datagram %d from %v, want %v", shape, i, from[i], src)
			}
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// TestDisableEnv: the environment switches turn the offloads off.
func TestDisableEnv(t *testing.T) {
	t.Setenv(envDisableGSO, "1")
	t.Setenv(envDisableGRO, "1")
	a, b := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	for _, u := range []*UDP{a, b} {
		if gso, gro := u.Offload(); gso || gro {
			t.Fatalf("Offload() = %v, %v with %s and %s set", gso, gro, envDisableGSO, envDisableGRO)
		}
	}
	checkShapes(t, a, b, AddrPort(b.LocalAddr()))
}

// TestGROBurstTwoSenders: a GRO receiver given a burst from two senders
// delivers every datagram once, split right, in order per sender, whether
// the caller's batch is larger or smaller than what one read brings.
func TestGROBurstTwoSenders(t *testing.T) {
	const perSender, size = 200, 1400
	for _, batch := range []int{64, 7, 1} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			r := listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{})
			if _, gro := r.Offload(); !gro {
				t.Log("no GRO on this kernel: testing the plain path")
			}
			to := AddrPort(r.LocalAddr())
			senders := []*UDP{listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{}), listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{})}
			var wg sync.WaitGroup
			for si, s := range senders {
				wg.Go(func() {
					msgs := make([][]byte, perSender)
					for i := range msgs {
						msgs[i] = datagram(si<<16|i, size)
					}
					for i := 0; i < perSender; i += 64 {
						if err := s.Send(msgs[i:min(i+64, perSender)], to); err != nil {
							t.Error(err)
						}
					}
				})
			}
			got, from := recvN(t, r, 2*perSender, batch, 2048)
			wg.Wait()
			next := map[netip.AddrPort]int{}
			for si, s := range senders {
				next[AddrPort(s.LocalAddr())] = si << 16
			}
			for i, g := range got {
				want, ok := next[from[i]]
				if !ok {
					t.Fatalf("datagram %d from unknown %v", i, from[i])
				}
				if !bytes.Equal(g, datagram(want, size)) {
					t.Fatalf("datagram %d from %v: %d bytes %x..., want number %#x", i, from[i], len(g), head(g), want)
				}
				next[from[i]] = want + 1
			}
			t.Logf("%d datagrams, %d coalesced messages", len(got), r.sys.r.coalesced)
		})
	}
}

// TestCloseDropsPending: after Close, Recv reports net.ErrClosed even
// with coalesced datagrams not yet handed out.
func TestCloseDropsPending(t *testing.T) {
	a := listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{})
	b := listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{})
	msgs := make([][]byte, 40)
	for i := range msgs {
		msgs[i] = datagram(i, 1000)
	}
	if err := a.Send(msgs, AddrPort(b.LocalAddr())); err != nil {
		t.Fatal(err)
	}
	recvN(t, b, 1, 1, 2048)
	b.Close()
	if _, err := b.Recv([][]byte{make([]byte, 2048)}, make([]int, 1), make([]netip.AddrPort, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
}

// fakeKernel stands in front of sendmmsg and refuses every segmented
// message with errno, as a kernel does whose device cannot checksum.
type fakeKernel struct {
	errno   syscall.Errno
	refused int // segmented messages refused
}

func (k *fakeKernel) sendmmsg(fd int, hs []unix.Mmsghdr) (int, syscall.Errno) {
	n := 0
	for n < len(hs) && hs[n].Hdr.Control == nil {
		n++
	}
	if n == 0 {
		k.refused++
		return 0, k.errno
	}
	return sysSendmmsg(fd, hs[:n]) // as the kernel: the ones before the refused one go
}

// TestGSOFallback: when the kernel refuses segmented sends with EIO or
// EINVAL, no datagram is lost and GSO stays off; with EMSGSIZE no datagram
// is lost and GSO stays on.
func TestGSOFallback(t *testing.T) {
	for _, c := range []struct {
		errno syscall.Errno
		gso   bool // after
	}{{unix.EIO, false}, {unix.EINVAL, false}, {unix.EMSGSIZE, true}} {
		t.Run(c.errno.Error(), func(t *testing.T) {
			a := listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{})
			b := listenOpt(t, "udp4", "127.0.0.1:0", udpOptions{})
			if gso, _ := a.Offload(); !gso {
				t.Skip("no GSO on this kernel")
			}
			k := &fakeKernel{errno: c.errno}
			a.sys.w.sendmmsg = k.sendmmsg
			// A plain datagram first, so that the refused run is not
			// the first message of the call.
			sizes := concat([]int{50}, repeat(20, 1000), []int{60}, repeat(20, 1200))
			for round := range 2 {
				msgs := make([][]byte, len(sizes))
				for i, s := range sizes {
					msgs[i] = datagram(round<<16|i, s)
				}
				if err := a.Send(msgs, AddrPort(b.LocalAddr())); err != nil {
					t.Fatalf("round %d: Send: %v", round, err)
				}
				got, _ := recvN(t, b, len(msgs), 64, 2048)
				for i := range got {
					if !bytes.Equal(got[i], msgs[i]) {
						t.Fatalf("round %d: datagram %d: %x...", round, i, head(got[i]))
					}
				}
				if gso, _ := a.Offload(); gso != c.gso {
					t.Fatalf("round %d: GSO %v after %v", round, gso, c.errno)
				}
			}
			if want := map[bool]int{false: 1, true: 4}[c.gso]; k.refused != want {
				t.Fatalf("%d segmented sends refused, want %d", k.refused, want)
			}
		})
	}
}

// TestSendWrongFamily: an IPv6 peer cannot be reached from an IPv4
// socket; that is an error, not a crash, and IPv4-mapped peers work.
func TestSendWrongFamily(t *testing.T) {
	a, b := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	if err := a.Send([][]byte{[]byte("x")}, netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("sent to an IPv6 address from an IPv4 socket")
	}
	port := AddrPort(b.LocalAddr()).Port()
	if err := a.Send([][]byte{[]byte("mapped")}, netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), port)); err != nil {
		t.Fatal(err)
	}
	if got, _ := recvN(t, b, 1, 1, 100); string(got[0]) != "mapped" {
		t.Fatalf("got %q", got[0])
	}
}

func TestBufferWarning(t *testing.T) {
	for _, c := range []struct {
		recv, send int
		warn       bool
	}{{0, 0, false}, {8 << 20, 8 << 20, false}, {16 << 20, 8 << 20, false}, {4 << 20, 8 << 20, true}, {8 << 20, 208 << 10, true}} {
		if got := bufferWarning(c.recv, c.send, 8<<20); (got != "") != c.warn {
			t.Errorf("bufferWarning(%d, %d) = %q", c.recv, c.send, got)
		}
	}
	u := listen(t, "udp4", "127.0.0.1:0")
	t.Logf("buffers %d / %d; warning %q", u.RecvBuffer, u.SendBuffer, u.BufferWarning())
}

// TestDontFragment: the carrier's sockets send with DF set and do not
// fragment (IP_PMTUDISC_PROBE), so a datagram larger than the interface
// MTU is refused rather than split, and path MTU probes mean what they say.
func TestDontFragment(t *testing.T) {
	for _, tt := range []struct {
		network, addr string
		level, opt    int
		want          int
	}{
		{"udp4", "127.0.0.1:0", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE},
		{"udp6", "[::1]:0", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE},
	} {
		conn, err := net.ListenUDP(tt.network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tt.addr)))
		if err != nil {
			t.Logf("%s: %v (skipped)", tt.network, err)
			continue
		}
		u := NewUDP(conn)
		rc, _ := conn.SyscallConn()
		var got int
		var gerr error
		rc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), tt.level, tt.opt) })
		u.Close()
		if gerr != nil || got != tt.want {
			t.Errorf("%s: MTU discovery mode %d (%v), want %d", tt.network, got, gerr, tt.want)
		}
	}
}
