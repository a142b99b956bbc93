package rudp

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// TestPathMTUDiscovery moves a stream over links that carry datagrams of
// at most mtu bytes: the connection ends up sending the largest size the
// link carries (to within pmtuStep, never above it), every byte arrives,
// and on a link that carries no more than 1200 the size stays 1200.
func TestPathMTUDiscovery(t *testing.T) {
	for _, tt := range []struct {
		mtu, min, max int
	}{
		{linkemu.DefaultMTU, 1472, 1472}, // the default MaxDatagram to an IPv4 peer
		{1400, 1400 - pmtuStep, 1400},
		{1280, 1280 - pmtuStep, 1280},
		{1200, 1200, 1200},
	} {
		synctest.Test(t, func(t *testing.T) {
			spec := linkemu.Spec{Delay: 5 * time.Millisecond, Rate: 50_000_000}
			p := newPairMTU(t, spec, tt.mtu, nil, nil)
			la := p.la
			client, server := p.connect(t)
			transfer(t, client, server, bytes.Repeat([]byte("0123456789abcdef"), 1<<17)) // 2 MiB
			st := client.Stats()
			t.Logf("MTU %d: packets of %d bytes after %d probes; link dropped %d as too large", tt.mtu, st.MaxDatagram, st.PMTUProbes, la.Stats().MTUDrops)
			if st.MaxDatagram < tt.min || st.MaxDatagram > tt.max {
				t.Errorf("MTU %d: sends %d-byte packets, want %d..%d", tt.mtu, st.MaxDatagram, tt.min, tt.max)
			}
			if tt.mtu > 1200 && st.PMTUProbes == 0 {
				t.Errorf("MTU %d: no probe sent", tt.mtu)
			}
			if tt.mtu < linkemu.DefaultMTU && la.Stats().MTUDrops > 0 && la.Stats().MTUDrops > st.PMTUProbes {
				t.Errorf("MTU %d: %d packets dropped as too large, only %d were probes", tt.mtu, la.Stats().MTUDrops, st.PMTUProbes)
			}
		})
	}
}

// transfer sends data from client to server on a new stream and checks
// that every byte arrives, in order.
func transfer(t *testing.T, client, server *Conn, data []byte) {
	t.Helper()
	ctx := context.Background()
	sendStream(t, client, data)
	s, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d of %d bytes arrived intact (%v)", len(got), len(data), err)
	}
}

// sendStream writes data on a new stream of c, then closes it for
// writing, in the background.
func sendStream(t *testing.T, c *Conn, data []byte) {
	go func() {
		s, err := c.OpenStream(context.Background())
		if err != nil {
			t.Error(err)
			return
		}
		s.Write(data)
		s.CloseWrite()
	}()
}

// TestPMTUFallback: repeated probe timeouts while packets are larger than
// 1200 bytes bring them back to 1200, and the search waits pmtuRetry
// before it probes again.
func TestPMTUFallback(t *testing.T) {
	c := &Conn{}
	c.pmtuStart(1452)
	if c.maxSend != 1200 || c.pmtu.nextSize() != 1452 {
		t.Fatalf("start: sending %d, probing %d", c.maxSend, c.pmtu.nextSize())
	}
	c.pmtu.probing = 1452
	c.pmtuAcked(1452)
	if c.maxSend != 1452 || c.pmtu.nextSize() != 0 {
		t.Fatalf("after the probe: sending %d, next probe %d", c.maxSend, c.pmtu.nextSize())
	}
	now := time.Now()
	for range pmtuTries - 1 {
		c.sender.OnPTO()
		c.pmtuOnPTO(now)
	}
	if c.maxSend != 1452 {
		t.Fatal("fell back before pmtuTries timeouts")
	}
	c.sender.OnPTO()
	c.pmtuOnPTO(now)
	if c.maxSend != 1200 || c.stats.pmtuFallbacks != 1 {
		t.Fatalf("after %d timeouts: sending %d", pmtuTries, c.maxSend)
	}
	if !c.pmtu.next.Equal(now.Add(pmtuRetry)) || c.pmtu.nextSize() != 1452 {
		t.Fatalf("search restarts at %v for %d", c.pmtu.next.Sub(now), c.pmtu.nextSize())
	}
	// A probe lost pmtuTries times gives up that size for a binary search.
	c.pmtuStart(1452)
	for range pmtuTries {
		c.pmtu.probing = 1452
		c.pmtuLost(1452, now)
	}
	if c.maxSend != 1200 || c.pmtu.hi != 1451 || c.pmtu.nextSize() != (1200+1451+1)/2 {
		t.Fatalf("after 3 lost probes: hi %d, next %d", c.pmtu.hi, c.pmtu.nextSize())
	}
}

// TestDefaultMaxDatagram: left zero, MaxDatagram is what a 1500-byte link
// carries to the peer's address family; set, it is what it says.
func TestDefaultMaxDatagram(t *testing.T) {
	def, err := (&Config{}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	set, err := (&Config{MaxDatagram: 1400}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg  *config
		addr string
		want int
	}{
		{def, "192.0.2.1:1", 1472},
		{def, "[::ffff:192.0.2.1]:1", 1472},
		{def, "[2001:db8::1]:1", 1452},
		{set, "192.0.2.1:1", 1400},
		{set, "[2001:db8::1]:1", 1400},
	} {
		if got := tt.cfg.maxDatagramTo(netip.MustParseAddrPort(tt.addr)); got != tt.want {
			t.Errorf("MaxDatagram %d to %s: %d, want %d", tt.cfg.Config.MaxDatagram, tt.addr, got, tt.want)
		}
	}
}
