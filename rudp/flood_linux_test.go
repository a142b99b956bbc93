package rudp

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
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
		if env.cli, env.err = NewEndpoint(pc, nil); env.err != nil {
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

// TestHandshakeFloodSpoofed floods a listener, in a network namespace
// the test makes, with valid initiations from spoofed source addresses
// (all of 127.0.0.0/8), as fast as one core sends them, while an honest
// client dials it again and again. The listener must answer the flood
// with cookies beyond its handshake rate, do Diffie-Hellman work for no
// more initiations than the rate allows over the flood, and still let
// every honest dial through.
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
	dport := uint16(env.l.Addr().(*net.UDPAddr).Port)
	const floodPackets = 200_000
	flooded := make(chan time.Duration, 1)
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	before := env.l.e.Stats()
	floodStart := time.Now()
	go func() {
		start := time.Now()
		buf := make([]byte, 2048)
		dst := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
		for i := range floodPackets {
			src := [4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))}
			pkt := spoofedUDP(buf, src, dst.Addr, uint16(1024+rand.IntN(60000)), dport, inits[i%len(inits)])
			unix.Sendto(env.raw, pkt, 0, dst)
		}
		flooded <- time.Since(start)
	}()
	// Honest dials all through the flood.
	dials, worst := 0, time.Duration(0)
	var floodTook time.Duration
	for done := false; !done; {
		select {
		case floodTook = <-flooded:
			done = true
		default:
		}
		start := time.Now()
		dctx, dcancel := context.WithTimeout(ctx, 20*time.Second) // a safety net
		c, err := env.cli.Dial(dctx, env.l.Addr().String(), card)
		dcancel()
		if err != nil {
			t.Fatalf("honest dial %d during the flood: %v", dials+1, err)
		}
		worst = max(worst, time.Since(start))
		c.CloseWithError(0, "")
		dials++
	}
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	after := env.l.e.Stats()
	elapsed := time.Since(floodStart)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	cookies := after.CookiesSent - before.CookiesSent
	accepted := after.HandshakesAccepted - before.HandshakesAccepted
	dropped := after.HandshakesDropped - before.HandshakesDropped
	t.Logf("%d spoofed initiations in %v (%.0f/s); %d cookie replies, %d handshakes accepted, %d dropped; %d honest dials, the slowest %v; process CPU %v (%.1f µs per flood packet, sender included)",
		floodPackets, floodTook.Round(time.Millisecond), floodPackets/floodTook.Seconds(), cookies, accepted, dropped, dials, worst.Round(time.Millisecond),
		cpu.Round(time.Millisecond), float64(cpu.Microseconds())/floodPackets)
	// DH work (accepted, or refused after it: a replayed initiation is
	// found out only inside the encrypted payload) is bounded by the
	// token bucket: its rate over the whole time, plus one burst, plus
	// the honest dials, whose second tries carry a cookie.
	bound := uint64(elapsed.Seconds()*handshake.DefaultHandshakeRate) + handshake.DefaultHandshakeRate/10 + uint64(2*dials) + 10
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
