package rudp

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// TestNoHeadOfLineBlocking: a stream whose data the application does not
// read, over a lossy link, holds up no other stream. The client writes
// 8 MiB into stream A, which the server accepts and leaves unread, so A
// has holes waiting for retransmissions and megabytes waiting for the
// reader. A 1 KiB request on stream B, written after A, must still reach
// the server and be answered; then A is read whole and checked.
func TestNoHeadOfLineBlocking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, linkemu.Spec{Delay: 10 * time.Millisecond, Loss: 0.05}, nil, nil)
		client, server := p.connect(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		bulk := make([]byte, 8<<20)
		rand.NewChaCha8([32]byte{3}).Read(bulk)
		sa := acceptSent(t, client, server, bulk)
		time.Sleep(time.Second) // A's data and its losses pile up unread

		b, err := client.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := bytes.Repeat([]byte("b"), 1024)
		start := time.Now()
		if _, err := b.Write(req); err != nil {
			t.Fatal(err)
		}
		sb, err := server.AcceptStream(ctx)
		if err != nil {
			t.Fatalf("stream B not accepted while A is unread: %v", err)
		}
		got := make([]byte, len(req))
		if _, err := io.ReadFull(sb, got); err != nil || !bytes.Equal(got, req) {
			t.Fatalf("stream B: read %q, %v", got[:8], err)
		}
		sb.Write([]byte("ok"))
		ans := make([]byte, 2)
		if _, err := io.ReadFull(b, ans); err != nil || string(ans) != "ok" {
			t.Fatalf("answer on stream B: %q, %v", ans, err)
		}
		t.Logf("stream B's request and answer took %v with A's 8 MiB unread", time.Since(start))
		if st := client.Stats(); st.PacketsLost == 0 {
			t.Fatal("no packet was lost: the link did not test what it should")
		}

		all, err := io.ReadAll(sa)
		if err != nil || !bytes.Equal(all, bulk) {
			t.Fatalf("stream A: read %d of %d bytes (equal %v), %v", len(all), len(bulk), bytes.Equal(all, bulk), err)
		}
	})
}

// TestStatsAfterLossyTransfer checks the figures Stats reports after 4 MiB
// over a link with a 20 ms round trip and 5 % loss each way, against what
// the link did.
func TestStatsAfterLossyTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rtt = 20 * time.Millisecond
		p := newPair(t, linkemu.Spec{Delay: rtt / 2, Loss: 0.05}, nil, nil)
		client, server := p.connect(t)
		data := make([]byte, 4<<20)
		ss := acceptSent(t, client, server, data)
		if n, err := io.Copy(io.Discard, ss); err != nil || n != int64(len(data)) {
			t.Fatalf("server read %d of %d bytes: %v", n, len(data), err)
		}
		time.Sleep(200 * time.Millisecond) // the last ACKs come back
		cs, sst := client.Stats(), server.Stats()
		t.Logf("client %+v", cs)

		n := uint64(len(data))
		check := func(what string, ok bool) {
			t.Helper()
			if !ok {
				t.Errorf("%s does not hold (client %+v; server %+v)", what, cs, sst)
			}
		}
		check("client BytesSent > data", cs.BytesSent > n)
		check("client PacketsSent >= data / MaxDatagram", cs.PacketsSent >= n/uint64(cs.MaxDatagram))
		check("server BytesReceived > data", sst.BytesReceived > n)
		// 5 % loss: the server gets about 95 % of what was sent.
		got := float64(sst.BytesReceived) / float64(cs.BytesSent)
		check("server received 90-99 % of the client's bytes", got > 0.90 && got < 0.99)
		check("server PacketsReceived < client PacketsSent", sst.PacketsReceived < cs.PacketsSent)
		// About one packet in 20 is lost and its data resent.
		lost := float64(cs.PacketsLost) / float64(cs.PacketsSent)
		check("client PacketsLost is 2-10 % of PacketsSent", lost > 0.02 && lost < 0.10)
		check("client Retransmitted is 2-15 % of the data", cs.Retransmitted > n/50 && cs.Retransmitted < n*15/100)
		// The link's round trip is 20 ms; acks may be held up to 5 ms and
		// queues add a little.
		check("MinRTT is at least the link's 20 ms", cs.MinRTT >= rtt && cs.MinRTT < 2*rtt)
		check("SmoothedRTT within [MinRTT, 10 x]", cs.SmoothedRTT >= cs.MinRTT && cs.SmoothedRTT < 10*rtt)
		check("LatestRTT at least MinRTT", cs.LatestRTT >= cs.MinRTT)
		check("RTTVar set and under SmoothedRTT", cs.RTTVar > 0 && cs.RTTVar < cs.SmoothedRTT)
		check("CongestionWindow at least 2 packets", cs.CongestionWindow >= 2*cs.MaxDatagram)
		check("BytesInFlight 0 at the end", cs.BytesInFlight == 0)
		check("Suite named", cs.Suite == "AES-128-GCM" || cs.Suite == "ChaCha20-Poly1305")
		check("Path is the UDP path", strings.HasPrefix(cs.Path, "udp "))
		check("one path, active", len(cs.Paths) == 1 && cs.Paths[0].Active)
		check("server sent missing-packet requests", sst.RequestsSent > 0 && cs.RequestsReceived > 0)
	})
}
