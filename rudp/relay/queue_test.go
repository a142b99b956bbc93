package relay

import "testing"

// TestSendQueueKeepsOrder: the writer gets packets in the order they were
// queued, priority or not (a DisconnectNotification after Data stays
// after it); a full queue drops data, the newest for a server, the
// oldest for a client, never a priority packet.
func TestSendQueueKeepsOrder(t *testing.T) {
	pkt := func(s string) *[]byte { b := getBuf(); *b = append(*b, s...); return b }
	names := func(bs []*[]byte) (out []string) {
		for _, b := range bs {
			out = append(out, string(*b))
		}
		return out
	}
	for _, tt := range []struct {
		dropOldest bool
		want       []string
	}{
		{false, []string{"data1", "notice", "data2"}}, // server: the newest data goes
		{true, []string{"notice", "data2", "data3"}},  // client: the oldest data goes
	} {
		q := newSendQueue(4, 10, tt.dropOldest)
		q.push(pkt("data1"), false)
		q.push(pkt("notice"), true)
		q.push(pkt("data2"), false)
		if r := q.push(pkt("data3"), false); r != dropped {
			t.Errorf("dropOldest %v: pushing past maxBytes: %v, want dropped", tt.dropOldest, r)
		}
		got := names(q.take(nil))
		if len(got) != len(tt.want) {
			t.Fatalf("dropOldest %v: took %q, want %q", tt.dropOldest, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("dropOldest %v: took %q, want %q", tt.dropOldest, got, tt.want)
			}
		}
		if len(q.take(nil)) != 0 || q.drops.Load() != 1 {
			t.Errorf("dropOldest %v: queue not emptied, or %d drops", tt.dropOldest, q.drops.Load())
		}
	}
}
