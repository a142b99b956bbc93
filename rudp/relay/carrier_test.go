package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestPeerAddr(t *testing.T) {
	seen := map[netip.AddrPort]bool{}
	for range 1000 {
		kp, err := NewKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		a := PeerAddr(kp.Public)
		if a != PeerAddr(kp.Public) {
			t.Fatal("PeerAddr is not a function of the key")
		}
		if !a.IsValid() || !a.Addr().Is6() || a.Addr().As16()[0] != 0xfd {
			t.Fatalf("PeerAddr = %v, want an address in fd00::/8", a)
		}
		if seen[a] {
			t.Fatalf("two keys share %v", a)
		}
		seen[a] = true
	}
}

// newTestCarrier is a carrier on a new client of the relay at addr.
func newTestCarrier(t *testing.T, addr string, relay PublicKey) *Carrier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cl, err := Dial(ctx, addr, relay, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCarrier(cl)
	t.Cleanup(func() { c.Close() })
	return c
}

type datagram struct {
	data []byte
	from netip.AddrPort
}

// receive runs c's Recv until it fails, passing on every datagram.
func receive(c *Carrier) (<-chan datagram, <-chan error) {
	out, fail := make(chan datagram, 64), make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, 4096), make([]byte, 4096)}
		sizes := make([]int, 2)
		addrs := make([]netip.AddrPort, 2)
		for {
			n, err := c.Recv(bufs, sizes, addrs)
			if err != nil {
				fail <- err
				return
			}
			for i := range n {
				out <- datagram{bytes.Clone(bufs[i][:sizes[i]]), addrs[i]}
			}
		}
	}()
	return out, fail
}

func expectDatagram(t *testing.T, in <-chan datagram, want []byte, from netip.AddrPort) {
	t.Helper()
	select {
	case d := <-in:
		if !bytes.Equal(d.data, want) || d.from != from {
			t.Fatalf("got %d bytes from %v, want %d from %v", len(d.data), d.from, len(want), from)
		}
	case <-time.After(patience):
		t.Fatalf("no datagram of %d bytes", len(want))
	}
}

// TestCarrierOOBThenData: before the peer routes back, small datagrams go
// as OOB and large ones are dropped; the OOB makes the peer route back,
// and from then on datagrams of any size go as Data, both ways.
func TestCarrierOOBThenData(t *testing.T) {
	s, addr := startServer(t, nil)
	a := newTestCarrier(t, addr, s.PublicKey())
	b := newTestCarrier(t, addr, s.PublicKey())
	ain, _ := receive(a)
	bin, _ := receive(b)
	akey, bkey := a.Client().PublicKey(), b.Client().PublicKey()
	// The relay drops OOB for a client it has not confirmed yet (its
	// first packet, a ping, may still be on its way under load).
	waitFor(t, "the relay to confirm both clients", func() bool { return s.Stats().Confirmed >= 2 })

	if err := a.Send([][]byte{{1}}, PeerAddr(bkey)); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("Send to an unknown peer: %v", err)
	}
	if _, err := a.Peer(akey); err == nil {
		t.Fatal("a carrier made itself a peer")
	}
	baddr, err := a.Peer(bkey)
	if err != nil || baddr != PeerAddr(bkey) {
		t.Fatalf("Peer = %v, %v", baddr, err)
	}
	small, large := bytes.Repeat([]byte{7}, MaxOOB), bytes.Repeat([]byte{9}, MaxData)
	if err := a.Send([][]byte{large, small}, baddr); !errors.Is(err, errTooBigForOOB) {
		t.Fatalf("Send before the peer routed: %v, want %v", err, errTooBigForOOB)
	}
	expectDatagram(t, bin, small, PeerAddr(akey))
	waitFor(t, "the link to come online", func() bool { return a.Client().Connected(bkey) && b.Client().Connected(akey) })
	if err := a.Send([][]byte{large}, baddr); err != nil {
		t.Fatal(err)
	}
	expectDatagram(t, bin, large, PeerAddr(akey))
	if err := b.Send([][]byte{large, small}, PeerAddr(akey)); err != nil {
		t.Fatal(err)
	}
	expectDatagram(t, ain, large, baddr)
	expectDatagram(t, ain, small, baddr)
	if st := a.Stats(); st.Dropped != 2 || st.Peers != 1 {
		t.Fatalf("stats %+v, want 2 dropped and 1 peer", st)
	}
	if !a.Reliable() || a.MaxDatagram() != MaxData || a.LocalAddr().Network() != "relay" {
		t.Fatal("wrong carrier properties")
	}
}

func TestCarrierClose(t *testing.T) {
	s, addr := startServer(t, nil)
	a := newTestCarrier(t, addr, s.PublicKey())
	_, fail := receive(a)
	a.Close()
	expectRecvClosed(t, fail, "after Close")
}

// expectRecvClosed waits for Recv (run by receive) to return an error
// wrapping net.ErrClosed.
func expectRecvClosed(t *testing.T, fail <-chan error, when string) {
	t.Helper()
	select {
	case err := <-fail:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Recv %s: %v", when, err)
		}
	case <-time.After(patience):
		t.Fatalf("Recv did not return %s", when)
	}
}

// newKeys returns n fresh public keys.
func newKeys(t *testing.T, n int) []PublicKey {
	t.Helper()
	keys := make([]PublicKey, n)
	for i := range keys {
		kp, err := NewKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = kp.Public
	}
	return keys
}

// TestCarrierEviction: with every place taken by a fresh peer, an OOB
// from a stranger is dropped; a dial (Peer) takes the place of the least
// recently heard.
func TestCarrierEviction(t *testing.T) {
	s, addr := startServer(t, nil)
	a := newTestCarrier(t, addr, s.PublicKey())
	keys := newKeys(t, NumLinks)
	first := keys[0]
	for _, k := range keys {
		if _, err := a.Peer(k); err != nil {
			t.Fatal(err)
		}
	}
	stranger, _ := NewKeyPair()
	if p := a.peer(stranger.Public, false); p != nil {
		t.Fatal("a stranger displaced a fresh peer")
	}
	if _, err := a.Peer(stranger.Public); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	_, kept := a.byKey[first]
	n := len(a.byKey)
	a.mu.Unlock()
	if kept || n != NumLinks {
		t.Fatalf("after a dial: %d peers, the oldest kept: %v", n, kept)
	}
}
