package fec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// event is one packet on the wire in the reference test.
type event struct {
	parity bool
	group  uint64
	index  int
	pn     uint64 // data
	data   []byte // payload, or parity shard
	k, m   int    // parity
}

// sentGroup is what the reference knows of a group.
type sentGroup struct {
	k      int // from its Parity; 0 if it never got any
	data   map[int]packet
	got    map[int]bool // data indices that arrived
	gotPar map[int]bool
	done   bool // rebuilt, or all its data arrived
}

// TestDecoderAgainstReference sends random traffic through an Encoder and
// a lossy, reordering, duplicating wire into a Decoder, and checks the
// Decoder against the naive rule: when at least K distinct shards of a group
// have arrived, every data packet of it that had not arrived comes back
// exactly (packet number and bytes), once, in index order; a group with
// fewer gets nothing back, and nothing that arrived ever comes back. Ratios (m = 0
// included) change between groups and partial groups are flushed on time.
func TestDecoderAgainstReference(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 0))
	trials := 300
	if testing.Short() {
		trials = 30
	}
	for trial := range trials {
		if !referenceTrial(t, r) {
			t.Fatalf("seed %d, trial %d failed", seed, trial)
		}
	}
}

func referenceTrial(t *testing.T, r *rand.Rand) bool {
	t.Helper()
	e := NewEncoder()
	e.SetRatio(1+r.IntN(MaxData), r.IntN(MaxParity+1))
	groups := map[uint64]*sentGroup{}
	var wire []event
	now := t0
	emit := func(p Parity, ok bool) {
		if !ok {
			return
		}
		g := groups[p.Group]
		if g.k != 0 || p.K != len(g.data) {
			t.Errorf("group %d: parity of %d data, %d added (earlier k %d)", p.Group, p.K, len(g.data), g.k)
		}
		g.k = p.K
		pkts := make([]packet, p.K)
		for i := range pkts {
			pkts[i] = g.data[i]
		}
		want := naiveParity(pkts, p.M)
		for j, sh := range p.Shards {
			if !bytes.Equal(sh, want[j]) {
				t.Errorf("group %d: parity %d differs from the reference", p.Group, j)
			}
			wire = append(wire, event{parity: true, group: p.Group, index: j, data: bytes.Clone(sh), k: p.K, m: p.M})
		}
	}
	n := 1 + r.IntN(60)
	for pn := range uint64(n) {
		if r.IntN(8) == 0 {
			e.SetRatio(1+r.IntN(MaxData), r.IntN(MaxParity+1))
		}
		now = now.Add(time.Duration(r.IntN(4)) * time.Millisecond)
		emit(e.Parity(now, flushAfter)) // the flush timer
		pk := randomPackets(r, 1)[0]
		pk.pn = pn*3 + 7
		group, index, ok := e.Next(now)
		e.Add(pk.pn, pk.payload)
		if !ok {
			continue // unprotected
		}
		g := groups[group]
		if g == nil {
			g = &sentGroup{data: map[int]packet{}, got: map[int]bool{}, gotPar: map[int]bool{}}
			groups[group] = g
		}
		g.data[index] = pk
		wire = append(wire, event{group: group, index: index, pn: pk.pn, data: pk.payload})
		emit(e.Parity(now, flushAfter))
	}
	emit(e.Parity(now.Add(flushAfter), flushAfter))

	// The wire: loss, duplication, reordering.
	loss := r.Float64() * 0.5
	var arrived []event
	for _, ev := range wire {
		if r.Float64() < loss {
			continue
		}
		arrived = append(arrived, ev)
		if r.IntN(10) == 0 {
			arrived = append(arrived, ev)
		}
	}
	if r.IntN(2) == 0 {
		r.Shuffle(len(arrived), func(i, j int) { arrived[i], arrived[j] = arrived[j], arrived[i] })
	} else {
		for i := range arrived { // a little reordering
			if j := i + r.IntN(4); j < len(arrived) {
				arrived[i], arrived[j] = arrived[j], arrived[i]
			}
		}
	}

	// The reference receiver: a group is rebuilt the moment K distinct
	// shards of it have arrived, giving back exactly the data packets that
	// had not arrived by then; a group whose data all arrived first, or
	// that never reaches K, gives nothing back.
	d := NewDecoder(64)
	total := 0
	for _, ev := range arrived {
		g := groups[ev.group]
		var rec []Recovered
		if ev.parity {
			var err error
			rec, err = d.AddParity(ev.group, ev.k, ev.m, ev.index, ev.data, now)
			if err != nil {
				t.Errorf("AddParity: %v", err)
			}
			g.gotPar[ev.index] = true
		} else {
			rec = d.AddData(ev.group, ev.index, ev.pn, ev.data, now)
			g.got[ev.index] = true
		}
		var want []packet
		if !g.done && len(g.gotPar) > 0 && len(g.got)+len(g.gotPar) >= g.k {
			g.done = true
			for i := range g.k {
				if !g.got[i] {
					want = append(want, g.data[i])
				}
			}
		}
		if len(g.got) == MaxData || len(g.gotPar) > 0 && len(g.got) == g.k {
			g.done = true
		}
		if len(rec) != len(want) {
			t.Errorf("group %d (k %d, %d data and %d parity arrived): recovered %d, want %d",
				ev.group, g.k, len(g.got), len(g.gotPar), len(rec), len(want))
			continue
		}
		for i, pk := range want {
			if rec[i].PN != pk.pn || !bytes.Equal(rec[i].Payload, pk.payload) {
				t.Errorf("group %d: recovered pn %d (%d bytes), want pn %d (%d bytes)",
					ev.group, rec[i].PN, len(rec[i].Payload), pk.pn, len(pk.payload))
			}
		}
		total += len(want)
	}
	if d.Recovered() != uint64(total) {
		t.Errorf("Recovered() = %d, want %d", d.Recovered(), total)
	}
	return !t.Failed()
}

// lossyGroup encodes a k+m group of random packets.
func lossyGroup(t *testing.T, r *rand.Rand, k, m int) ([]packet, Parity) {
	t.Helper()
	e := NewEncoder()
	e.SetRatio(k, m)
	pkts := randomPackets(r, k)
	return pkts, encodeGroup(t, e, pkts)
}

func TestDecoderBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pkts, p := lossyGroup(t, r, 4, 1)
	feed := func(d *Decoder, group uint64, now time.Time) {
		for i := 1; i < len(pkts); i++ {
			d.AddData(group, i, pkts[i].pn, pkts[i].payload, now)
		}
	}
	// maxGroups: groups 0..9 into 4 places; 0 gave its place up to 4, then 8.
	d := NewDecoder(4)
	for g := range uint64(10) {
		feed(d, g, t0)
	}
	if rec, err := d.AddParity(0, p.K, p.M, 0, p.Shards[0], t0); len(rec) != 0 || err != nil {
		t.Fatalf("evicted group: %d recovered, %v", len(rec), err)
	}
	if rec, _ := d.AddParity(9, p.K, p.M, 0, p.Shards[0], t0); len(rec) != 1 || rec[0].PN != pkts[0].pn {
		t.Fatalf("held group: %d recovered", len(rec))
	}
	// Done groups stay done: the data and parity again give nothing.
	feed(d, 9, t0)
	if rec, _ := d.AddParity(9, p.K, p.M, 0, p.Shards[0], t0); len(rec) != 0 {
		t.Fatal("group recovered twice")
	}
	// Expire forgets old groups, not young ones.
	d = NewDecoder(4)
	feed(d, 0, t0)
	feed(d, 1, t0.Add(time.Second))
	d.Expire(t0.Add(time.Second+time.Millisecond), time.Second)
	if rec, _ := d.AddParity(0, p.K, p.M, 0, p.Shards[0], t0); len(rec) != 0 {
		t.Fatal("expired group recovered")
	}
	if rec, _ := d.AddParity(1, p.K, p.M, 0, p.Shards[0], t0); len(rec) != 1 {
		t.Fatal("young group expired")
	}
	// A duplicate data packet is ignored, even with other bytes.
	d = NewDecoder(4)
	feed(d, 0, t0)
	d.AddData(0, 1, 99, []byte("impostor"), t0)
	if rec, _ := d.AddParity(0, p.K, p.M, 0, p.Shards[0], t0); len(rec) != 1 || !bytes.Equal(rec[0].Payload, pkts[0].payload) {
		t.Fatal("duplicate data changed the group")
	}
	if d.Recovered() != 1 {
		t.Fatalf("Recovered() = %d", d.Recovered())
	}
}

func TestDecoderBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	full := make([]byte, MaxPayload) // all ones: a short length leaves nonzero "padding"
	for i := range full {
		full[i] = 0xff
	}
	pkts := []packet{{1, full}, {2, full}, {3, full}}
	e := NewEncoder()
	e.SetRatio(3, 2)
	p := encodeGroup(t, e, pkts)
	_, p4 := lossyGroup(t, r, 4, 2)
	corrupt := bytes.Clone(p.Shards[0])
	corrupt[8] ^= 0x40 // the length field's high byte

	tests := []struct {
		name string
		// prep feeds the group's shards before the one under test.
		prep    func(d *Decoder)
		k, m, i int
		shard   []byte
		want    error
	}{
		{"k=0", nil, 0, 2, 0, p.Shards[0], ErrBadParams},
		{"k>MaxData", nil, MaxData + 1, 2, 0, p.Shards[0], ErrBadParams},
		{"m=0", nil, 3, 0, 0, p.Shards[0], ErrBadParams},
		{"m>MaxParity", nil, 3, MaxParity + 1, 0, p.Shards[0], ErrBadParams},
		{"index<0", nil, 3, 2, -1, p.Shards[0], ErrBadParams},
		{"index=m", nil, 3, 2, 2, p.Shards[0], ErrBadParams},
		{"shard too short", nil, 3, 2, 0, make([]byte, ShardHeader-1), ErrBadParams},
		{"shard too long", nil, 3, 2, 0, make([]byte, MaxShard+1), ErrBadParams},
		{"sizes differ", func(d *Decoder) {
			d.AddParity(0, 3, 2, 1, p.Shards[1], t0)
		}, 3, 2, 0, p.Shards[0][:100], ErrInconsistent},
		{"k differs", func(d *Decoder) {
			d.AddParity(0, 3, 2, 1, p.Shards[1], t0)
		}, 4, 2, 0, p.Shards[0], ErrInconsistent},
		{"m differs", func(d *Decoder) {
			d.AddParity(0, 3, 2, 1, p.Shards[1], t0)
		}, 3, 3, 0, p.Shards[0], ErrInconsistent},
		{"data index >= k", func(d *Decoder) {
			d.AddData(0, 5, 9, nil, t0)
		}, 3, 2, 0, p.Shards[0], ErrInconsistent},
		{"data longer than shards", func(d *Decoder) {
			d.AddData(0, 1, 2, full, t0)
		}, 3, 2, 0, p.Shards[0][:100], ErrInconsistent},
		{"corrupted length field", func(d *Decoder) {
			d.AddData(0, 1, 2, full, t0)
			d.AddData(0, 2, 3, full, t0)
		}, 3, 2, 0, corrupt, ErrInconsistent},
		{"parity of another group", func(d *Decoder) {
			d.AddData(0, 1, 2, full, t0)
			d.AddData(0, 2, 3, full, t0)
		}, 3, 2, 0, p4.Shards[0][:len(p.Shards[0])], ErrInconsistent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(4)
			if tt.prep != nil {
				tt.prep(d)
			}
			rec, err := d.AddParity(0, tt.k, tt.m, tt.i, tt.shard, t0)
			if !errors.Is(err, tt.want) || len(rec) != 0 {
				t.Fatalf("got %d recovered, %v; want %v", len(rec), err, tt.want)
			}
			if d.Dropped() == 0 {
				t.Error("not counted")
			}
			// The group is dropped: its good shards recover nothing now.
			for i := 1; i < 3; i++ {
				d.AddData(0, i, pkts[i].pn, pkts[i].payload, t0)
			}
			for j := range p.Shards {
				if rec, _ := d.AddParity(0, p.K, p.M, j, p.Shards[j], t0); len(rec) != 0 {
					t.Fatal("a dropped group recovered")
				}
			}
		})
	}
	// Bad data input does not panic either, and drops its group.
	d := NewDecoder(2)
	d.AddData(0, -1, 1, nil, t0)
	d.AddData(1, MaxData, 1, nil, t0)
	d.AddData(2, 0, 1, make([]byte, MaxPayload+1), t0)
	if d.Dropped() != 3 {
		t.Fatalf("Dropped() = %d, want 3", d.Dropped())
	}
}

func TestDecoderNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pkts, p := lossyGroup(t, r, MaxData, 3)
	d := NewDecoder(16)
	var group uint64
	allocs := testing.AllocsPerRun(100, func() {
		group++
		for i := 3; i < MaxData; i++ {
			d.AddData(group, i, pkts[i].pn, pkts[i].payload, t0)
		}
		var rec []Recovered
		for j := range 3 {
			rec, _ = d.AddParity(group, p.K, p.M, j, p.Shards[j], t0)
		}
		if len(rec) != 3 {
			t.Fatal("not recovered")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per group", allocs)
	}
}
