package relay

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// exercise is the test body that runs against every relay: ours and
// toxcore's tox-bootstrapd (interop_linux_test.go). Two clients route to
// each other, exchange Data and OOB both ways, get their pings answered,
// and see a disconnect and a reconnect of the link. Sends are paced, one
// packet in flight, since toxcore's relay drops what it cannot pass on at
// once and tox-bootstrapd passes packets on once per 30 ms loop.
func exercise(t *testing.T, dial dialFunc) {
	a := newTestClient(t, dial, nil)
	b := newTestClient(t, dial, nil)
	ida, idb := connect(t, a, b)
	if ida != FirstConnID || idb != FirstConnID {
		t.Errorf("first links got ids %d and %d, want 16 (the lowest free)", ida, idb)
	}
	t.Logf("routed: a's id for b %d, b's id for a %d", ida, idb)

	sizes := []int{1, 2, 100, 1400, MaxData - 1, MaxData}
	exchange := func(from, to *testClient, kind EventKind) {
		t.Helper()
		send := from.Send
		if kind == EventOOB {
			send = from.SendOOB
		}
		for i, n := range sizes {
			if kind == EventOOB {
				n = min(n, MaxOOB)
			}
			msg := bytes.Repeat([]byte{byte(i + 1)}, n)
			copy(msg, fmt.Sprintf("%d:%d", i, n))
			if err := send(to.PublicKey(), msg); err != nil {
				t.Fatalf("%s of %d bytes: %v", kind, n, err)
			}
			ev := to.expect(kind, from.PublicKey())
			if !bytes.Equal(ev.Data, msg) {
				t.Fatalf("%s %d arrived as %d bytes %.16q…, sent %d bytes %.16q…", kind, i, len(ev.Data), ev.Data, len(msg), msg)
			}
		}
	}
	exchange(a, b, EventData)
	exchange(b, a, EventData)
	exchange(a, b, EventOOB)
	exchange(b, a, EventOOB)

	// A client pings first thing; the relay must have answered.
	waitFor(t, "a pong from the relay", func() bool { return a.Stats().Pongs >= 1 && b.Stats().Pongs >= 1 })
	t.Logf("ping round trip through the relay: a %v, b %v", a.Stats().RTT, b.Stats().RTT)

	// a unroutes b: b's link drops back to registered and b hears of it.
	if err := a.Unroute(b.PublicKey()); err != nil {
		t.Fatal(err)
	}
	b.expect(EventDisconnected, a.PublicKey())
	if err := b.Send(a.PublicKey(), []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send to a disconnected peer: %v, want ErrNotConnected", err)
	}
	// a routes again: b never unrouted, so both come online at once.
	if err := a.Route(b.PublicKey()); err != nil {
		t.Fatal(err)
	}
	a.expect(EventRouted, b.PublicKey())
	a.expect(EventConnected, b.PublicKey())
	b.expect(EventConnected, a.PublicKey())
	exchange(a, b, EventData)
	if s := a.Stats(); s.SendDrops != 0 || s.RecvDrops != 0 {
		t.Errorf("a dropped packets: %+v", s)
	}
}
