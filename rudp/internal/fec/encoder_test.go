package fec

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const flushAfter = 10 * time.Millisecond

type packet struct {
	pn      uint64
	payload []byte
}

// randomPackets returns n packets of random payload sizes in [0,
// MaxPayload], empty and full ones more often than chance would.
func randomPackets(r *rand.Rand, n int) []packet {
	pkts := make([]packet, n)
	for i := range pkts {
		var size int
		switch r.IntN(6) {
		case 0:
			size = 0
		case 1:
			size = MaxPayload
		default:
			size = r.IntN(MaxPayload + 1)
		}
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		pkts[i] = packet{pn: r.Uint64(), payload: b}
	}
	return pkts
}

// copyParity returns p with shards the Encoder no longer owns.
func copyParity(p Parity) Parity {
	sh := make([][]byte, len(p.Shards))
	for j := range sh {
		sh[j] = bytes.Clone(p.Shards[j])
	}
	p.Shards = sh
	return p
}

// encodeGroup runs pkts through e as one complete group.
func encodeGroup(t testing.TB, e *Encoder, pkts []packet) Parity {
	t.Helper()
	var group uint64
	for i, pk := range pkts {
		g, idx, ok := e.Next(t0)
		if !ok || idx != i || i > 0 && g != group {
			t.Fatalf("Next = %d, %d, %v; want slot %d of group %d", g, idx, ok, i, group)
		}
		group = g
		e.Add(pk.pn, pk.payload)
		p, ok := e.Parity(t0, flushAfter)
		if ok != (i == len(pkts)-1) {
			t.Fatalf("after %d of %d packets, Parity ok = %v", i+1, len(pkts), ok)
		}
		if ok {
			return copyParity(p)
		}
	}
	return Parity{}
}

// paddedShards returns the data shards of pkts, padded to size.
func paddedShards(pkts []packet, size int) [][]byte {
	var shards [][]byte
	for _, pk := range pkts {
		s := make([]byte, size)
		putShard(s, pk.pn, pk.payload)
		shards = append(shards, s)
	}
	return shards
}

// naiveParity is the reference encoder: parity byte by byte, straight from
// the definition in doc.go.
func naiveParity(pkts []packet, m int) [][]byte {
	size := 0
	for _, pk := range pkts {
		size = max(size, ShardHeader+len(pk.payload))
	}
	data := paddedShards(pkts, size)
	parity := make([][]byte, m)
	for j := range parity {
		parity[j] = make([]byte, size)
		for i, d := range data {
			for b := range size {
				parity[j][b] ^= gfMul(cauchy[j][i], d[b])
			}
		}
	}
	return parity
}

func TestEncoderMatchesNaive(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 0))
	e := NewEncoder()
	for range 200 {
		k, m := 1+r.IntN(MaxData), 1+r.IntN(MaxParity)
		e.SetRatio(k, m)
		pkts := randomPackets(r, k)
		p := encodeGroup(t, e, pkts)
		want := naiveParity(pkts, m)
		if p.K != k || p.M != m || len(p.Shards) != m {
			t.Fatalf("seed %d: got %d+%d with %d shards, want %d+%d", seed, p.K, p.M, len(p.Shards), k, m)
		}
		for j := range want {
			if !bytes.Equal(p.Shards[j], want[j]) {
				t.Fatalf("seed %d: %d+%d: parity %d differs from the reference", seed, k, m, j)
			}
		}
	}
}

func TestEncoderFlush(t *testing.T) {
	e := NewEncoder()
	e.SetRatio(MaxData, 2)
	if !e.FlushDeadline(flushAfter).IsZero() {
		t.Fatal("deadline with no group")
	}
	pkts := randomPackets(rand.New(rand.NewPCG(1, 2)), 3)
	now := t0
	var group uint64
	for _, pk := range pkts {
		group, _, _ = e.Next(now)
		e.Add(pk.pn, pk.payload)
		if _, ok := e.Parity(now, flushAfter); ok {
			t.Fatal("partial group flushed early")
		}
		now = now.Add(time.Millisecond)
	}
	if got, want := e.FlushDeadline(flushAfter), t0.Add(flushAfter); !got.Equal(want) {
		t.Fatalf("FlushDeadline = %v, want %v", got, want)
	}
	if _, ok := e.Parity(t0.Add(flushAfter-1), flushAfter); ok {
		t.Fatal("flushed before the deadline")
	}
	p, ok := e.Parity(t0.Add(flushAfter), flushAfter)
	if !ok || p.Group != group || p.K != 3 || p.M != 2 {
		t.Fatalf("flush = %+v, %v; want group %d, 3+2", p, ok, group)
	}
	p = copyParity(p)
	if _, ok := e.Parity(t0.Add(time.Hour), flushAfter); ok || !e.FlushDeadline(flushAfter).IsZero() {
		t.Fatal("group flushed twice")
	}
	// The receiver lost two of three and rebuilds them from K=3.
	d := NewDecoder(8)
	d.AddData(group, 1, pkts[1].pn, pkts[1].payload, now)
	rec, err := d.AddParity(group, p.K, p.M, 1, p.Shards[1], now)
	if err != nil || len(rec) != 0 {
		t.Fatalf("one parity: %v, %v", rec, err)
	}
	rec, err = d.AddParity(group, p.K, p.M, 0, p.Shards[0], now)
	if err != nil || len(rec) != 2 {
		t.Fatalf("recovered %d, %v; want 2", len(rec), err)
	}
	for i, want := range []packet{pkts[0], pkts[2]} {
		if rec[i].PN != want.pn || !bytes.Equal(rec[i].Payload, want.payload) {
			t.Errorf("recovered %d: pn %d, %d bytes; want pn %d, %d bytes",
				i, rec[i].PN, len(rec[i].Payload), want.pn, len(want.payload))
		}
	}
	// The next packet opens the next group.
	if g, idx, _ := e.Next(now); g != group+1 || idx != 0 {
		t.Fatalf("after flush Next = %d, %d", g, idx)
	}
}

func TestEncoderSlots(t *testing.T) {
	e := NewEncoder()
	if _, _, ok := e.Next(t0); ok {
		t.Fatal("Next with FEC off")
	}
	e.Add(1, nil) // no slot: ignored
	if _, ok := e.Parity(t0.Add(time.Hour), flushAfter); ok {
		t.Fatal("parity with FEC off")
	}
	e.SetRatio(2, 1)
	g, i, _ := e.Next(t0)
	if g2, i2, _ := e.Next(t0); g2 != g || i2 != i {
		t.Fatal("a reserved slot was not given again")
	}
	e.Add(1, []byte("a"))
	// A reserved slot holds back the flush: its shard is on the way.
	e.Next(t0)
	if _, ok := e.Parity(t0.Add(time.Hour), flushAfter); ok {
		t.Fatal("flushed with a slot reserved")
	}
	// The ratio changes at the next group, not within this one.
	e.SetRatio(MaxData, 4)
	e.Add(2, []byte("bb"))
	p, ok := e.Parity(t0, flushAfter)
	if !ok || p.K != 2 || p.M != 1 || len(p.Shards[0]) != ShardHeader+2 {
		t.Fatalf("Parity = %+v, %v; want 2+1 of %d bytes", p, ok, ShardHeader+2)
	}
	if g, i, _ := e.Next(t0); g != 1 || i != 0 {
		t.Fatalf("Next = %d, %d; want 1, 0", g, i)
	}
	e.Add(3, make([]byte, MaxPayload+1)) // cannot be a shard: group dropped
	if _, ok := e.Parity(t0.Add(time.Hour), flushAfter); ok || e.Dropped() != 1 {
		t.Fatalf("oversized payload: parity %v, dropped %d", ok, e.Dropped())
	}
	// A complete group whose parity nobody took is dropped.
	for range MaxData {
		e.Next(t0)
		e.Add(4, nil)
	}
	if g, _, _ := e.Next(t0); g != 3 || e.Dropped() != 2 {
		t.Fatalf("Next = group %d with %d dropped; want 3, 2", g, e.Dropped())
	}
	if k, m := e.Ratio(); k != MaxData || m != 4 {
		t.Fatalf("Ratio = %d+%d", k, m)
	}
	e.SetRatio(-1, 99)
	if k, m := e.Ratio(); k != 1 || m != MaxParity {
		t.Fatalf("clamped Ratio = %d+%d", k, m)
	}
}

func TestEncoderNoAlloc(t *testing.T) {
	e := NewEncoder()
	e.SetRatio(MaxData, 3)
	payload := make([]byte, 1400)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range MaxData {
			e.Next(t0)
			e.Add(uint64(i), payload)
		}
		if _, ok := e.Parity(t0, flushAfter); !ok {
			t.Fatal("no parity")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per group", allocs)
	}
}
