package fec

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// FuzzDecoder feeds a Decoder arbitrary sequences of data and parity shards
// (any group, k, m, index, size and bytes) and expired groups. It must never
// panic, never rebuild a group twice, never return more packets than a
// group can be missing, and count exactly what it returned.
//
// Input format, repeated: an op byte; op 0xff expires; an even op is a data
// packet of group op>>1&7 (index, pn, length: 1 byte each, then the
// payload); an odd op a parity shard of group op>>1&7 (k, m, index: 1 byte
// each, signed; length: 2 bytes; then the shard). Missing bytes are zero.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.in)
	}
	f.Add([]byte{1, 0, 1, 0, 0, 9, 0xff, 2, 0})
	f.Fuzz(func(t *testing.T, in []byte) { decodeOps(t, in) })
}

// fuzzSeeds are real groups with losses, and how many packets each rebuilds.
var fuzzSeeds = []struct {
	in        []byte
	recovered uint64
}{
	{fuzzSeed(3, 2, []int{0, 2}, []int{1}), 1},
	{fuzzSeed(MaxData, 3, []int{1, 2, 3, 4, 5, 6, 7}, []int{2, 0, 1}), 3},
	{fuzzSeed(1, 1, nil, []int{0}), 1},
}

// decodeOps runs FuzzDecoder's input through a Decoder, checks its
// invariants and returns how many packets it rebuilt.
func decodeOps(t testing.TB, in []byte) uint64 {
	d := NewDecoder(4)
	now := t0
	next := func(n int) []byte {
		b := make([]byte, n)
		in = in[copy(b, in):]
		return b
	}
	rebuilt := map[uint64]bool{}
	var total uint64
	for len(in) > 0 {
		op := next(1)[0]
		now = now.Add(time.Millisecond)
		group := uint64(op >> 1 & 7)
		var rec []Recovered
		var k int
		switch {
		case op == 0xff:
			d.Expire(now, 5*time.Millisecond)
			continue
		case op&1 == 0:
			h := next(3)
			k = MaxData
			rec = d.AddData(group, int(int8(h[0])), uint64(h[1]), next(int(h[2])), now)
		default:
			h := next(5)
			k = int(int8(h[0]))
			size := int(binary.BigEndian.Uint16(h[3:])) % (MaxShard + 20)
			var err error
			rec, err = d.AddParity(group, k, int(int8(h[1])), int(int8(h[2])), next(size), now)
			if err != nil && len(rec) != 0 {
				t.Fatal("recovered and failed")
			}
		}
		if len(rec) == 0 {
			continue
		}
		if rebuilt[group] {
			t.Fatalf("group %d rebuilt twice", group)
		}
		rebuilt[group] = true
		if len(rec) > k {
			t.Fatalf("group %d: %d recovered of k=%d", group, len(rec), k)
		}
		for _, r := range rec {
			if len(r.Payload) > MaxPayload {
				t.Fatalf("%d-byte payload recovered", len(r.Payload))
			}
		}
		total += uint64(len(rec))
	}
	if d.Recovered() != total {
		t.Fatalf("Recovered() = %d, returned %d", d.Recovered(), total)
	}
	return total
}

// fuzzSeed encodes a real k+m group of group 0 (small payloads) in
// FuzzDecoder's format: the data packets of indices data, then the parity
// shards of indices parity.
func fuzzSeed(k, m int, data, parity []int) []byte {
	e := NewEncoder()
	e.SetRatio(k, m)
	var pkts []packet
	for i := range k {
		pk := packet{pn: uint64(100 + i), payload: []byte("payload " + string(rune('a'+i)))[:3+i]}
		pkts = append(pkts, pk)
		e.Next(t0)
		e.Add(pk.pn, pk.payload)
	}
	p, _ := e.Parity(t0, 0)
	var b []byte
	for _, i := range data {
		b = append(b, 0, byte(i), byte(pkts[i].pn), byte(len(pkts[i].payload)))
		b = append(b, pkts[i].payload...)
	}
	for _, j := range parity {
		b = append(b, 1, byte(k), byte(m), byte(j))
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.Shards[j])))
		b = append(b, p.Shards[j]...)
	}
	return b
}

// TestFuzzSeedsRecover makes sure the seeds reach a rebuild, so the fuzzer
// starts from inputs that exercise the decoding path.
func TestFuzzSeedsRecover(t *testing.T) {
	for i, s := range fuzzSeeds {
		if got := decodeOps(t, s.in); got != s.recovered {
			t.Errorf("seed %d rebuilds %d packets, want %d", i, got, s.recovered)
		}
	}
}

// TestDecoderRandomOps runs FuzzDecoder's checks on mutated seeds as an
// ordinary test. Linking klauspost/reedsolomon makes coverage-guided fuzzing
// slow in this package (its code-generation tables bring many coverage
// counters, which the fuzzer snapshots after every input: about 7 000
// inputs a second, against 60 000 in internal/wire), so this keeps a
// steady volume of hostile input in every test run.
func TestDecoderRandomOps(t *testing.T) {
	seed := rand.Uint64()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d", seed)
		}
	})
	r := rand.New(rand.NewPCG(seed, 0))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		in := slices.Clone(fuzzSeeds[r.IntN(len(fuzzSeeds))].in)
		if r.IntN(3) == 0 { // splice in a second group
			in = append(in, fuzzSeeds[r.IntN(len(fuzzSeeds))].in...)
		}
		for range r.IntN(8) {
			if len(in) == 0 {
				break
			}
			switch i := r.IntN(len(in)); r.IntN(4) {
			case 0:
				in[i] ^= byte(1 << r.IntN(8))
			case 1:
				in[i] = byte(r.Uint32())
			case 2:
				in = slices.Delete(in, i, min(len(in), i+1+r.IntN(16)))
			case 3:
				in = slices.Insert(in, i, byte(r.Uint32()), byte(r.Uint32()))
			}
		}
		decodeOps(t, in)
	}
}
