package relay

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// A restartableRelay is our relay server on one address and key, which a
// test stops and starts again.
type restartableRelay struct {
	t      *testing.T
	addr   string
	key    KeyPair
	s      *Server
	served chan error
}

// startRestartable runs a relay on a free port of 127.0.0.1, stopped when
// the test ends.
func startRestartable(t *testing.T) *restartableRelay {
	t.Helper()
	kp, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	r := &restartableRelay{t: t, addr: "127.0.0.1:0", key: kp}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// start serves on r.addr, which the first start picks.
func (r *restartableRelay) start() {
	r.t.Helper()
	s, err := NewServer(&Config{Key: r.key})
	if err != nil {
		r.t.Fatal(err)
	}
	// The port was ours a moment ago; Go's listeners set SO_REUSEADDR, so
	// only another process taking it in between can stop us, and then
	// only for a while.
	var l net.Listener
	waitFor(r.t, "the relay's port to be free", func() bool {
		l, err = net.Listen("tcp", r.addr)
		return err == nil
	})
	r.addr = l.Addr().String()
	r.s, r.served = s, make(chan error, 1)
	go func() { r.served <- s.Serve(l) }()
}

// stop closes the server and every connection to it; stopping a stopped
// relay does nothing.
func (r *restartableRelay) stop() {
	if r.s == nil {
		return
	}
	r.s.Close()
	if err := <-r.served; !errors.Is(err, net.ErrClosed) {
		r.t.Errorf("Serve returned %v, want net.ErrClosed", err)
	}
	r.s = nil
}

// dialTestCarrier is DialCarrier to r, closed when the test ends.
func dialTestCarrier(t *testing.T, r *restartableRelay, cfg *ClientConfig) *Carrier {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := DialCarrier(ctx, r.addr, r.key.Public, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// linkUp has a send a small datagram to b, which b learns a from, and
// waits until the link is online both ways.
func linkUp(t *testing.T, a, b *Carrier, bin <-chan datagram) {
	t.Helper()
	akey, bkey := a.local.Key, b.local.Key
	if _, err := a.Peer(bkey); err != nil {
		t.Fatal(err)
	}
	hello := []byte("hello over OOB")
	// The relay drops OOB for a client it has not confirmed yet, so the
	// first ones may be lost: send until one arrives.
	deadline := time.After(patience)
	for arrived := false; !arrived; {
		if err := a.Send([][]byte{hello}, PeerAddr(bkey)); err != nil && !errors.Is(err, ErrRelayDown) {
			t.Fatal(err)
		}
		select {
		case d := <-bin:
			arrived = bytes.Equal(d.data, hello) && d.from == PeerAddr(akey)
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("no OOB datagram arrived")
		}
	}
	waitFor(t, "the link to come online", func() bool {
		return a.Client().Connected(bkey) && b.Client().Connected(akey)
	})
}

// exchangeData sends a datagram too large for OOB each way, so that it
// must travel as Data, and checks where each comes from.
func exchangeData(t *testing.T, a, b *Carrier, ain, bin <-chan datagram) {
	t.Helper()
	large := bytes.Repeat([]byte{9}, MaxData)
	if err := a.Send([][]byte{large}, PeerAddr(b.local.Key)); err != nil {
		t.Fatal(err)
	}
	expectDatagram(t, bin, large, PeerAddr(a.local.Key))
	large = bytes.Repeat([]byte{8}, MaxOOB+1)
	if err := b.Send([][]byte{large}, PeerAddr(a.local.Key)); err != nil {
		t.Fatal(err)
	}
	expectDatagram(t, ain, large, PeerAddr(b.local.Key))
}

// noError fails the test if a carrier's Recv has returned.
func noError(t *testing.T, fails ...<-chan error) {
	t.Helper()
	for _, fail := range fails {
		select {
		case err := <-fail:
			t.Fatalf("Recv returned %v", err)
		default:
		}
	}
}

// TestCarrierRelayRestart: two carriers exchanging Data lose the relay,
// which comes back on the same address and key; meanwhile Send says
// ErrRelayDown and Recv waits. Both dial again, route again (a to the
// peer it dialed, b to the peer it learned from an OOB), and exchange
// Data under the same addresses as before.
func TestCarrierRelayRestart(t *testing.T) {
	r := startRestartable(t)
	a := dialTestCarrier(t, r, nil)
	b := dialTestCarrier(t, r, nil)
	var mu sync.Mutex
	var states []bool
	a.OnState(func(up bool) {
		mu.Lock()
		states = append(states, up)
		mu.Unlock()
	})
	ain, afail := receive(a)
	bin, bfail := receive(b)
	akey, bkey := a.local.Key, b.local.Key
	linkUp(t, a, b, bin)
	exchangeData(t, a, b, ain, bin)

	r.stop()
	waitFor(t, "both carriers to be down", func() bool { return !a.Up() && !b.Up() })
	if err := a.Send([][]byte{{1}}, PeerAddr(bkey)); !errors.Is(err, ErrRelayDown) {
		t.Fatalf("Send while down: %v, want ErrRelayDown", err)
	}
	if st := a.Stats(); st.Up || st.LastDown.IsZero() || st.LastDown.Before(st.LastUp) {
		t.Fatalf("stats while down: %+v", st)
	}
	noError(t, afail, bfail)

	r.start()
	waitFor(t, "both carriers to be up", func() bool { return a.Up() && b.Up() })
	waitFor(t, "the link to come online again", func() bool {
		return a.Client().Connected(bkey) && b.Client().Connected(akey)
	})
	exchangeData(t, a, b, ain, bin)
	noError(t, afail, bfail)
	for _, c := range []*Carrier{a, b} {
		st := c.Stats()
		if st.Reconnects != 1 || !st.Up || st.Peers != 1 || st.LastUp.Before(st.LastDown) {
			t.Errorf("stats after the restart: %+v", st)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 2 || states[0] || !states[1] {
		t.Errorf("OnState heard %v, want [false true]", states)
	}
}

// TestCarrierRouteRefused: the relay refuses a route (every link of the
// client taken); the carrier requests it again until a link is free, and
// then Data flows.
func TestCarrierRouteRefused(t *testing.T) {
	r := startRestartable(t)
	a := dialTestCarrier(t, r, nil)
	b := dialTestCarrier(t, r, nil)
	ain, _ := receive(a)
	bin, _ := receive(b)
	// Take every link of a's client behind the carrier's back, then dial
	// b: the relay serves requests in order, so b's comes last, refused.
	keys := newKeys(t, NumLinks)
	for _, k := range keys {
		if err := a.Client().Route(k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Peer(b.local.Key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused route to be requested again", func() bool { return a.Stats().RouteRetries >= 1 })
	if a.Client().Connected(b.local.Key) {
		t.Fatal("online with every link taken")
	}
	a.Client().Unroute(keys[0])
	linkUp(t, a, b, bin)
	exchangeData(t, a, b, ain, bin)
}

// TestCarrierPeerReturns: the peer's link goes offline (the peer leaves
// the relay); the carrier requests the route again, and when the peer
// comes back under the same key, Data flows again.
func TestCarrierPeerReturns(t *testing.T) {
	r := startRestartable(t)
	bkp, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	a := dialTestCarrier(t, r, nil)
	b := dialTestCarrier(t, r, &ClientConfig{Key: bkp})
	ain, afail := receive(a)
	bin, _ := receive(b)
	linkUp(t, a, b, bin)
	exchangeData(t, a, b, ain, bin)

	b.Close()
	waitFor(t, "the link to go offline", func() bool { return !a.Client().Connected(bkp.Public) })
	waitFor(t, "the route to be requested again", func() bool { return a.Stats().RouteRetries >= 1 })
	b = dialTestCarrier(t, r, &ClientConfig{Key: bkp})
	bin, _ = receive(b)
	linkUp(t, a, b, bin)
	exchangeData(t, a, b, ain, bin)
	noError(t, afail)
	if st := a.Stats(); !st.Up || st.Reconnects != 0 || st.Peers != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// TestCarrierCloseWhileDown: Close during a wait between dials, or during
// a dial, returns at once (the wait here is an hour, the dial never
// ends on its own), and leaves no goroutine behind.
func TestCarrierCloseWhileDown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wait  time.Duration
		stuck bool // dials after the first never return before their context ends
	}{
		{"backoff", time.Hour, false},
		{"dialing", time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRestartable(t)
			before := runtime.NumGoroutine()
			dials := make(chan struct{}, 100)
			dial := func(ctx context.Context) (*Client, error) {
				dials <- struct{}{}
				if tc.stuck && len(dials) > 1 {
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return Dial(ctx, r.addr, r.key.Public, nil)
			}
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			c, err := dialCarrier(ctx, dial, backoff{min: tc.wait, max: tc.wait})
			if err != nil {
				t.Fatal(err)
			}
			_, fail := receive(c)
			r.stop()
			waitFor(t, "the carrier to be down", func() bool { return !c.Up() })
			if tc.stuck {
				waitFor(t, "a second dial", func() bool { return len(dials) > 1 })
			}
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(patience):
				t.Fatal("Close did not return")
			}
			expectRecvClosed(t, fail, "after Close")
			if err := c.Send([][]byte{{1}}, PeerAddr(r.key.Public)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Send after Close: %v", err)
			}
			waitFor(t, "the carrier's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
		})
	}
}

// TestNewCarrierEnds: a carrier from NewCarrier does not dial again: when
// its connection ends, it is down and Recv returns.
func TestNewCarrierEnds(t *testing.T) {
	r := startRestartable(t)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cl, err := Dial(ctx, r.addr, r.key.Public, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCarrier(cl)
	defer c.Close()
	_, fail := receive(c)
	r.stop()
	expectRecvClosed(t, fail, "when the connection ended")
	waitFor(t, "the carrier to be down", func() bool { return !c.Up() })
}

// TestStartCarrier: a carrier started while its relay is not there is
// down (Send says ErrRelayDown, a peer can be added all the same), comes
// up when the relay does, routes to the peer it was given, and carries
// Data both ways.
func TestStartCarrier(t *testing.T) {
	r := startRestartable(t)
	r.stop() // r.addr is free now: dials to it are refused
	a, err := StartCarrier(r.addr, r.key.Public, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if a.Up() || a.Client() != nil {
		t.Fatal("a carrier started with no relay there is up")
	}
	b0, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := a.Peer(b0.Public)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Send([][]byte{{1}}, addr); !errors.Is(err, ErrRelayDown) {
		t.Fatalf("Send before the relay is up: %v, want ErrRelayDown", err)
	}
	ain, afail := receive(a)
	waitFor(t, "a dial to fail", func() bool { return a.Stats().DialFailures > 0 })

	r.start()
	waitFor(t, "the carrier to come up", a.Up)
	b := dialTestCarrier(t, r, &ClientConfig{Key: b0})
	bin, bfail := receive(b)
	linkUp(t, a, b, bin)
	exchangeData(t, a, b, ain, bin)
	noError(t, afail, bfail)
	if st := a.Stats(); st.Reconnects != 0 || !st.Up || st.Peers != 1 || st.LastUp.IsZero() {
		t.Errorf("stats: %+v", st)
	}
}

// TestStartCarrierClose: Close ends a carrier that never came up, and a
// Recv waiting on it.
func TestStartCarrierClose(t *testing.T) {
	r := startRestartable(t)
	r.stop()
	a, err := StartCarrier(r.addr, r.key.Public, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, afail := receive(a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-afail:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Recv after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(patience):
		t.Fatal("Recv still waiting after Close")
	}
}
