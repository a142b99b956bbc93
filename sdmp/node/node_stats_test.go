package node

import (
	"context"
	"testing"
)

// TestStats: two nodes over pydevts; after a publish on a has reached b,
// b's counters say so, its session and the connection's paths are there,
// and `status` over the control socket shows the same session. When a
// stops, b's connection counters keep what the ended session moved.
func TestStats(t *testing.T) {
	ns := makeNodes(t, []string{"a", "b"}, false)
	a, stopA := runOpenNode(t, ns[0])
	b, _ := runOpenNode(t, ns[1])
	ctx := context.Background()
	id, err := Publish(ctx, ns[0].dir, []byte("post: counted\n"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hold a's resource", func() bool { return holds(ns[1], id) })

	if st := a.Stats(); st.Published != 1 {
		t.Errorf("a: published %d, want 1", st.Published)
	}
	st := b.Stats()
	if st.ResourcesReceived < 1 || st.ResourcesRefused != 0 || st.Published != 0 {
		t.Errorf("b: received %d, refused %d, published %d; want >= 1, 0, 0", st.ResourcesReceived, st.ResourcesRefused, st.Published)
	}
	if st.PeersConfigured != 1 || st.PeersConnected != 1 || st.Sessions["pydevts"] != 1 || st.Sessions["tcp"] != 0 {
		t.Errorf("b: peers %d/%d, sessions %v; want 1/1, one over pydevts", st.PeersConnected, st.PeersConfigured, st.Sessions)
	}
	// The journal: line 0 aside, init's three resources, the connection
	// with a's user, and what came from a (its three and its connection,
	// then the post).
	if st.JournalLines < 5 || st.ResourcesStored < 5 {
		t.Errorf("b: %d journal lines, %d resources stored", st.JournalLines, st.ResourcesStored)
	}
	if st.Endpoint == nil || st.Endpoint.Connections < 1 {
		t.Errorf("b: endpoint stats %+v, want a connection", st.Endpoint)
	}
	if st.Conns.BytesReceived == 0 || st.Conns.PacketsSent == 0 {
		t.Errorf("b: connection totals %+v, want traffic", st.Conns)
	}
	if len(st.Live) != 1 || st.Live[0].Peer != "a" || len(st.Live[0].Paths) == 0 {
		t.Fatalf("b: live sessions %+v, want one with a, with paths", st.Live)
	}
	var active int
	for _, p := range st.Live[0].Paths {
		if p.Active {
			active++
			if p.State != "active" || p.Kind != "udp" {
				t.Errorf("active path %+v", p)
			}
		}
	}
	if active != 1 {
		t.Errorf("%d active paths in %+v", active, st.Live[0].Paths)
	}

	ss, err := Status(ctx, ns[1].dir)
	if err != nil || len(ss) != 1 || ss[0].Via != "pydevts" || ss[0].Fingerprint != ns[0].node || len(ss[0].Paths) == 0 {
		t.Fatalf("status: %+v, %v", ss, err)
	}
	if ss[0].Paths[0].Addr == "" || ss[0].RTTMillis <= 0 {
		t.Errorf("status: %+v, want the path's address and an RTT", ss[0])
	}

	before := b.Stats().Conns
	stopA()
	waitFor(t, "b's session with a to end", func() bool { return b.Stats().Sessions["pydevts"] == 0 })
	after := b.Stats().Conns
	if after.BytesReceived < before.BytesReceived || after.PacketsSent < before.PacketsSent {
		t.Errorf("b's connection totals went back when the session ended: %+v, then %+v", before, after)
	}
	if ss, err := Status(ctx, ns[1].dir); err != nil || len(ss) != 0 {
		t.Errorf("status after a stopped: %+v, %v", ss, err)
	}
}
