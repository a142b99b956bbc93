package rudp

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pydevts/pydevts/handshake"
)

// floodEnv is what TestHandshakeFloodSpoofed builds inside a network
// namespace of its own: a listener, an honest client's endpoint, and a
// raw socket that can send from any source address.
type floodEnv struct {
	l   *Listener
	cli *Endpoint
	cc  *countingConn // the client's socket
	raw int
	err error
}

// newFloodEnv makes a network namespace with its loopback up, and the
// sockets of the test in it. The sockets stay in the namespace after the
// thread that made them is gone; the namespace goes with its last socket.
func newFloodEnv() floodEnv {
	ch := make(chan floodEnv)
	go func() {
		// Never unlocked: the thread, moved to the new namespace, ends
		// with this goroutine instead of going back to the pool.
		runtime.LockOSThread()
		var env floodEnv
		defer func() { ch <- env }()
		if env.err = unix.Unshare(unix.CLONE_NEWNET); env.err != nil {
			return
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			env.err = err
			return
		}
		defer unix.Close(s)
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			env.err = err
			return
		}
		if env.err = unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); env.err != nil {
			return
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		if env.err = unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); env.err != nil {
			return
		}
		if env.l, env.err = Listen("udp", "127.0.0.1:0", nil); env.err != nil {
			return
		}
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			env.err = err
			return
		}
		env.cc = &countingConn{PacketConn: pc}
		if env.cli, env.err = NewEndpoint(env.cc, nil); env.err != nil {
			return
		}
		env.raw, env.err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	}()
	return <-ch
}

// spoofedUDP builds an IPv4 datagram from src:sport to dst:dport; the
// kernel fills in the IP checksum (and the UDP checksum may be zero).
func spoofedUDP(b []byte, src, dst [4]byte, sport, dport uint16, payload []byte) []byte {
	n := 20 + 8 + len(payload)
	b = b[:n]
	b[0], b[1] = 0x45, 0
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	binary.BigEndian.PutUint16(b[4:], 0) // the kernel picks an ID
	binary.BigEndian.PutUint16(b[6:], 0)
	b[8], b[9] = 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(b[10:], 0)
	copy(b[12:16], src[:])
	copy(b[16:20], dst[:])
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	binary.BigEndian.PutUint16(b[26:], 0)
	copy(b[28:], payload)
	return b
}

// countingConn counts the initiations an honest client sends.
type countingConn struct {
	net.PacketConn
	initiations atomic.Int64
}

func (c *countingConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if len(b) > 0 && handshake.MessageType(b[0]) == handshake.TypeInitiation {
		c.initiations.Add(1)
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestHandshakeFloodSpoofed floods a listener, in a network namespace
// the test makes, with valid initiations from spoofed source addresses
// (all of 127.0.0.0/8) while an honest client dials it again and again:
// first at 20 000 a second, twenty times the handshake rate but less than
// the listener can read, then as fast as one core sends them, more than
// the listener reads on the other core. The listener must answer the
// flood with cookies beyond its handshake rate, do Diffie-Hellman work
// for no more initiations than the rate allows over the flood, and still
// let every honest dial through. The dials' figures (initiations sent,
// time) are logged, not asserted: they depend on how the two cores are
// shared.
func TestHandshakeFloodSpoofed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a network namespace and a raw socket")
	}
	env := newFloodEnv()
	if env.err != nil {
		if env.l != nil {
			env.l.Close()
		}
		t.Skipf("cannot build the namespace here: %v", env.err)
	}
	defer env.l.Close()
	defer env.cli.Close()
	defer unix.Close(env.raw)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		for {
			c, err := env.l.Accept(ctx)
			if err != nil {
				return
			}
			c.CloseWithError(0, "")
		}
	}()
	card := env.l.e.Identity().Card()
	// Valid initiations (mac1 checks out), from many identities: the
	// flood costs the listener what a real one would.
	var inits [][]byte
	for range 64 {
		id, err := handshake.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		ini, err := handshake.NewInitiator(handshake.InitiatorConfig{Identity: id, Peer: card, LocalID: rand.Uint64()})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ini.Initiation(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		inits = append(inits, m)
	}
	t.Run("paced", func(t *testing.T) { floodSpoofed(t, ctx, env, inits, 60_000, 20_000) })
	t.Run("all out", func(t *testing.T) { floodSpoofed(t, ctx, env, inits, 200_000, 0) })
}

// floodSpoofed sends packets spoofed initiations to env's listener, rate
// a second (0: as fast as it can), and dials it meanwhile.
func floodSpoofed(t *testing.T, ctx context.Context, env floodEnv, inits [][]byte, packets, rate int) {
	card := env.l.e.Identity().Card()
	dport := uint16(env.l.Addr().(*net.UDPAddr).Port)
	flooded := make(chan time.Duration, 1)
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	before := env.l.e.Stats()
	floodStart := time.Now()
	go func() {
		start := time.Now()
		buf := make([]byte, 2048)
		dst := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		for i := range packets {
			if rate > 0 && i%100 == 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
			}
			src := [4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))}
			pkt := spoofedUDP(buf, src, dst.Addr, uint16(1024+rand.IntN(60000)), dport, inits[i%len(inits)])
			unix.Sendto(env.raw, pkt, 0, dst)
		}
		flooded <- time.Since(start)
	}()
	// Honest dials all through the flood.
	var took []time.Duration
	var sent []int64
	var floodTook time.Duration
	for done := false; !done; {
		select {
		case floodTook = <-flooded:
			done = true
		default:
		}
		start, n0 := time.Now(), env.cc.initiations.Load()
		dctx, dcancel := context.WithTimeout(ctx, 20*time.Second) // a safety net
		c, err := env.cli.Dial(dctx, env.l.Addr().String(), card)
		dcancel()
		if err != nil {
			t.Fatalf("honest dial %d during the flood: %v", len(took)+1, err)
		}
		took = append(took, time.Since(start))
		sent = append(sent, env.cc.initiations.Load()-n0)
		c.CloseWithError(0, "")
	}
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	after := env.l.e.Stats()
	elapsed := time.Since(floodStart)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	cookies := after.CookiesSent - before.CookiesSent
	accepted := after.HandshakesAccepted - before.HandshakesAccepted
	dropped := after.HandshakesDropped - before.HandshakesDropped
	queueFull := after.DroppedQueueFull - before.DroppedQueueFull
	// What the listener did not count, the kernel dropped at its socket.
	kernel := int64(packets) + int64(len(took)) - int64(cookies+accepted+dropped+queueFull)
	slices.Sort(took)
	slices.Sort(sent)
	t.Logf("%d spoofed initiations in %v (%.0f/s); listener: %d cookie replies, %d handshakes accepted, %d refused, %d dropped at its full queue; about %d dropped by the kernel at the socket; process CPU %v (%.1f µs per flood packet, sender included)",
		packets, floodTook.Round(time.Millisecond), float64(packets)/floodTook.Seconds(), cookies, accepted, dropped, queueFull, max(kernel, 0),
		cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(packets))
	t.Logf("%d honest dials: initiations sent median %d, max %d; time median %v, max %v",
		len(took), sent[len(sent)/2], sent[len(sent)-1], took[len(took)/2].Round(time.Microsecond), took[len(took)-1].Round(time.Millisecond))
	// DH work (accepted, or refused after it: a replayed initiation is
	// found out only inside the encrypted payload) is bounded by the
	// token bucket: its rate over the whole time, plus one burst, plus
	// the honest dials, whose second tries carry a cookie.
	bound := uint64(elapsed.Seconds()*handshake.DefaultHandshakeRate) + handshake.DefaultHandshakeRate/10 + uint64(2*len(took)) + 10
	if accepted+dropped > bound {
		t.Errorf("%d initiations got Diffie-Hellman work during the flood, more than the rate allows (%d)", accepted+dropped, bound)
	}
	// The handshake worker saw more initiations than the bucket allows:
	// the rest must have had cookies. (Under the race detector the worker
	// may be too slow to empty the bucket; then no cookie is needed.)
	if accepted+dropped+cookies > bound && cookies == 0 {
		t.Error("no cookie reply although the flood went past the handshake rate")
	}
}
