package relay

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// More abuse, of what server_abuse_test.go leaves out: clients that route
// to thousands of keys, and hundreds of clients that never finish the
// handshake under the default limits. (Garbage right after the handshake
// is TestServerGarbage's.) As there, nothing here measures time.

// heapInUse returns the heap in use after a few collections.
func heapInUse() int64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// routeMany sends a RouteRequest for each of keys, at most window
// unanswered at a time (the answers are priority packets, which a client
// must read), and returns the ids granted, in order, 0 for a refusal.
func (r *rawConn) routeMany(keys []PublicKey, window int) ([]ConnID, error) {
	ids := make([]ConnID, 0, len(keys))
	sent := 0
	for len(ids) < len(keys) {
		var batch [][]byte
		for sent < len(keys) && sent-len(ids) < window {
			batch = append(batch, packet(TypeRouteRequest, keys[sent][:]))
			sent++
		}
		if len(batch) > 0 {
			if err := r.send(batch...); err != nil {
				return ids, err
			}
		}
		b, err := r.read()
		if err != nil {
			return ids, err
		}
		p, err := ParsePacket(b)
		if err != nil {
			return ids, fmt.Errorf("server sent a bad packet %x: %v", b, err)
		}
		if p.Type != TypeRouteResponse {
			continue
		}
		if want := keys[len(ids)]; p.Key != want {
			return ids, fmt.Errorf("route response %d for %.8s, asked for %.8s", len(ids), p.Key, want)
		}
		ids = append(ids, p.ConnID)
	}
	return ids, nil
}

// TestServerRouteFlood: clients that each ask for routes to thousands of
// keys get NumLinks of them and refusals beyond, also when they free and
// take links over and over; the server's memory does not grow with the
// keys asked for, and an honest pair exchanges Data all the while.
func TestServerRouteFlood(t *testing.T) {
	abusers, refusedPerClient, churn := 10, 1500, 500
	if testing.Short() {
		abusers, refusedPerClient, churn = 5, 500, 250
	}
	s, addr := startServer(t, nil)
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	connect(t, a, b)
	ak, bk := a.PublicKey(), b.PublicKey()

	before := heapInUse()
	var conns []*rawConn
	for range abusers {
		r := dialRaw(t, addr, s.PublicKey())
		r.ping()
		conns = append(conns, r)
	}
	// Phase 1: every client fills its links (two of them to the honest
	// clients, who never route back).
	keys := make([][]PublicKey, abusers)
	for i := range keys {
		keys[i] = append([]PublicKey{ak, bk}, newKeys(t, NumLinks-2)...)
	}
	errs := make(chan error, abusers)
	var wg sync.WaitGroup
	for i, r := range conns {
		wg.Go(func() {
			ids, err := r.routeMany(keys[i], 64)
			for j, id := range ids {
				if err == nil && id != connIDOf(j) {
					err = fmt.Errorf("route %d: id %d, want %d", j, id, connIDOf(j))
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	for range abusers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	full := heapInUse()

	// Phase 2, while a and b exchange Data: thousands of refused routes
	// per client, then links freed and taken for new keys, again and
	// again.
	var refused, churned sync.Map
	var failed atomic.Bool // an abuser's error waits in errs
	for i, r := range conns {
		refusedKeys := newKeys(t, refusedPerClient)
		churnKeys := newKeys(t, churn)
		wg.Go(func() {
			ids, err := r.routeMany(refusedKeys, 64)
			if err != nil {
				failed.Store(true)
				errs <- err
				return
			}
			n := 0
			for _, id := range ids {
				if id == 0 {
					n++
				}
			}
			refused.Store(i, n)
			// Free links and take them for new keys, 64 at a time: the
			// freed links are the ones given.
			got := 0
			for j := 0; j < len(churnKeys); j += 64 {
				chunk := churnKeys[j:min(j+64, len(churnKeys))]
				var freed [][]byte
				free := map[ConnID]bool{}
				for x := range chunk {
					id := connIDOf((j + x) % NumLinks)
					freed = append(freed, packet(TypeDisconnectNotification, []byte{byte(id)}))
					free[id] = true
				}
				if err := r.send(freed...); err != nil {
					failed.Store(true)
					errs <- err
					return
				}
				ids, err := r.routeMany(chunk, 64)
				if err != nil {
					failed.Store(true)
					errs <- err
					return
				}
				for _, id := range ids {
					if free[id] {
						got++
						delete(free, id)
					}
				}
			}
			churned.Store(i, got)
			errs <- nil
		})
	}
	exchanged := 0
	for i := 0; ; i++ {
		done := true
		for i := range conns {
			if _, ok := churned.Load(i); !ok {
				done = false
			}
		}
		if done && i >= 100 {
			break
		}
		if failed.Load() {
			break
		}
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		msg := fmt.Appendf(nil, "honest %d", i)
		if err := from.Send(to.PublicKey(), msg); err != nil {
			t.Fatal(err)
		}
		if ev := to.expect(EventData, from.PublicKey()); !bytes.Equal(ev.Data, msg) {
			t.Fatalf("got %q, want %q", ev.Data, msg)
		}
		exchanged++
	}
	wg.Wait()
	for range abusers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	after := heapInUse()
	for i := range conns {
		n, _ := refused.Load(i)
		c, _ := churned.Load(i)
		if n != refusedPerClient || c != churn {
			t.Errorf("client %d: %v of %d routes beyond the limit refused, %v of %d freed links given again", i, n, refusedPerClient, c, churn)
		}
	}
	stillServed(t, a, b)
	// Nothing of the abusers reached the honest clients: they asked for
	// routes to a and b, who never routed back.
	for _, c := range []*testClient{a, b} {
		if len(c.events) != 0 {
			t.Errorf("client %.8s got events from the abusers: %+v", c.PublicKey(), c.events)
		}
	}
	st := s.Stats()
	if st.Active != abusers+2 || st.Kills != (Kills{}) {
		t.Errorf("stats %+v: want %d active and nothing closed", st, abusers+2)
	}
	asked := NumLinks + refusedPerClient + churn
	perClient := (full - before) / int64(abusers)
	grew := after - full
	t.Logf("%d clients asked for %d routes each (%d in all) while the honest pair exchanged %d Data packets", abusers, asked, abusers*asked, exchanged)
	t.Logf("heap: %d bytes per client with all %d links taken; %+d bytes in all after %d more routes asked for", perClient, NumLinks, grew, abusers*(refusedPerClient+churn))
	// Generous bounds: a client's links are a fixed array, so its cost
	// is that of a connection (buffers, queue), whatever it asks for.
	if perClient > 256<<10 {
		t.Errorf("a client with %d routes costs the server %d bytes of heap", NumLinks, perClient)
	}
	if grew > 4<<20 {
		t.Errorf("the heap grew by %d bytes while %d clients asked for %d routes beyond their links", grew, abusers, refusedPerClient+churn)
	}
}

// TestServerManyUnfinishedHandshakes: a thousand connections that never
// finish the handshake, under the default MaxUnconfirmed: some send part
// of the hello, some nothing, some finish the key exchange but never send
// the first packet that confirms it. The oldest are pushed out as new
// ones come, at most MaxUnconfirmed wait, their memory is bounded, and an
// honest pair still connects and exchanges Data.
func TestServerManyUnfinishedHandshakes(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 400
	}
	// No handshake timeout within the test: only evictions free places.
	s, addr := startServer(t, &Config{HandshakeTimeout: time.Hour})
	before := heapInUse()
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		for _, nc := range held {
			nc.Close()
		}
	})
	for i := range n {
		var nc net.Conn
		switch i % 3 {
		case 0: // half a hello
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(make([]byte, 1+i%(ClientHelloSize-1)))
			nc = c
		case 1: // nothing at all
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			nc = c
		default: // the whole key exchange, and silence
			kp, err := NewKeyPair()
			if err != nil {
				t.Fatal(err)
			}
			r, err := dialRawKey(addr, s.PublicKey(), kp)
			if err != nil {
				// Pushed out before its hello was answered, by the
				// connections of the cases above being accepted late.
				t.Logf("staller %d: %v", i, err)
				continue
			}
			nc = r.nc
		}
		mu.Lock()
		held = append(held, nc)
		mu.Unlock()
	}
	waitFor(t, "every staller accepted", func() bool { return s.Stats().Accepted == uint64(n) })
	waitFor(t, "the oldest stallers pushed out", func() bool {
		st := s.Stats()
		return st.Kills.Evicted == uint64(n-DefaultMaxUnconfirmed) && st.Unconfirmed == DefaultMaxUnconfirmed
	})
	full := heapInUse()

	// The honest pair gets in (each pushing one staller out) and is
	// served.
	dial := tcpDialer(addr, s.PublicKey())
	a, b := newTestClient(t, dial, nil), newTestClient(t, dial, nil)
	connect(t, a, b)
	stillServed(t, a, b)
	// The first to arrive pushed a staller out; the second did too unless
	// the first had confirmed by then.
	st := s.Stats()
	if ev := st.Kills.Evicted; st.Active != 2 || st.Unconfirmed > DefaultMaxUnconfirmed || ev < uint64(n-DefaultMaxUnconfirmed+1) || ev > uint64(n-DefaultMaxUnconfirmed+2) {
		t.Errorf("stats %+v: want 2 active, at most %d unconfirmed, %d or %d evicted", st, DefaultMaxUnconfirmed, n-DefaultMaxUnconfirmed+1, n-DefaultMaxUnconfirmed+2)
	}
	per := (full - before) / DefaultMaxUnconfirmed
	t.Logf("%d stallers: %d evicted, %d waiting; heap %d bytes per waiting handshake (%d in all)", n, st.Kills.Evicted, st.Unconfirmed, per, full-before)
	if per > 64<<10 {
		t.Errorf("a waiting handshake costs %d bytes of heap", per)
	}
}
