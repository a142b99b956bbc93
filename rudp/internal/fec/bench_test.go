package fec

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// BenchmarkEncoder is one group on the sending side: Next and Add for each
// data packet, then Parity. MB/s counts data bytes protected.
func BenchmarkEncoder(b *testing.B) {
	for _, bc := range []struct{ k, m, size int }{
		{10, 3, 1400}, {10, 1, 1200}, {4, 2, 1400},
	} {
		b.Run(fmt.Sprintf("%d+%dx%d", bc.k, bc.m, bc.size), func(b *testing.B) {
			e := NewEncoder()
			e.SetRatio(bc.k, bc.m)
			payload := make([]byte, bc.size)
			for i := range payload {
				payload[i] = byte(i)
			}
			b.SetBytes(int64(bc.k * bc.size))
			b.ReportAllocs()
			var pn uint64
			for b.Loop() {
				for range bc.k {
					e.Next(t0)
					e.Add(pn, payload)
					pn++
				}
				if _, ok := e.Parity(t0, flushAfter); !ok {
					b.Fatal("no parity")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.k), "ns/packet")
		})
	}
}

// BenchmarkDecoder is one group on the receiving side, lose data packets
// missing: the others arrive, then that many parity shards, which rebuild
// them. lose=0 is the common case on a lossy path, a complete group whose
// parity then arrives for nothing.
func BenchmarkDecoder(b *testing.B) {
	for _, bc := range []struct{ k, m, size, lose int }{
		{10, 3, 1400, 0}, {10, 3, 1400, 1}, {10, 3, 1400, 3}, {10, 1, 1200, 1},
	} {
		b.Run(fmt.Sprintf("%d+%dx%d/lose%d", bc.k, bc.m, bc.size, bc.lose), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			pkts := randomPackets(r, bc.k)
			for i := range pkts {
				pkts[i].payload = pkts[i].payload[:0]
				for range bc.size {
					pkts[i].payload = append(pkts[i].payload, byte(r.Uint32()))
				}
			}
			e := NewEncoder()
			e.SetRatio(bc.k, bc.m)
			p := encodeGroup(b, e, pkts)
			parity := max(bc.lose, 1)
			d := NewDecoder(64)
			var group uint64
			b.SetBytes(int64(bc.k * bc.size))
			b.ReportAllocs()
			for b.Loop() {
				group++
				for i := bc.lose; i < bc.k; i++ {
					d.AddData(group, i, pkts[i].pn, pkts[i].payload, t0)
				}
				var rec []Recovered
				for j := range parity {
					rec, _ = d.AddParity(group, p.K, p.M, j, p.Shards[j], t0)
				}
				if len(rec) != bc.lose {
					b.Fatalf("recovered %d, want %d", len(rec), bc.lose)
				}
			}
		})
	}
}

// BenchmarkLibrary is the baseline, run beside the two above so that the
// ratio survives a noisy machine: klauspost/reedsolomon's own whole-group
// Encode and ReconstructData at 10+3 x 1400 B (shards of 1410 bytes, as
// ours), which allocate on every call.
func BenchmarkLibrary(b *testing.B) {
	const k, m, size = 10, 3, ShardHeader + 1400
	enc, err := reedsolomon.New(k, m, reedsolomon.WithMaxGoroutines(1))
	if err != nil {
		b.Fatal(err)
	}
	shards := make([][]byte, k+m)
	for i := range shards {
		shards[i] = make([]byte, size)
		for j := range shards[i] {
			shards[i][j] = byte(i + j)
		}
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(k * 1400)
		b.ReportAllocs()
		for b.Loop() {
			if err := enc.Encode(shards); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, lose := range []int{1, 3} {
		b.Run(fmt.Sprintf("reconstruct/lose%d", lose), func(b *testing.B) {
			b.SetBytes(k * 1400)
			b.ReportAllocs()
			for b.Loop() {
				for i := range lose {
					shards[i] = shards[i][:0] // missing, capacity reused
				}
				if err := enc.ReconstructData(shards); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
