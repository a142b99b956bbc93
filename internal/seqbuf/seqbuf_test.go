package seqbuf

import (
	"math/rand/v2"
	"testing"
)

// TestAgainstSlice drives a Buffer and a plain slice model with the same
// random writes (in any order, overlapping, below the base), reads and
// discards, and compares every read.
func TestAgainstSlice(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var b Buffer
		// model[o%len(model)] is the byte at offset o, -1 if never
		// written; everything held lies within len(model) of base.
		const window = 5 * ChunkSize
		model := make([]int, 8*ChunkSize)
		for i := range model {
			model[i] = -1
		}
		var base, end uint64
		for range 1500 {
			switch rng.IntN(4) {
			case 0, 1: // write somewhere in [base-100, base+window)
				off := base + uint64(rng.IntN(window))
				if rng.IntN(10) == 0 && off > 100 {
					off -= 100
				}
				p := make([]byte, rng.IntN(3*ChunkSize/2))
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				b.WriteAt(p, off)
				for i, c := range p {
					o := off + uint64(i)
					if o < base {
						continue
					}
					model[o%uint64(len(model))] = int(c)
				}
				end = max(end, off+uint64(len(p)))
			case 2: // read a written span
				if end <= base {
					continue
				}
				from := base + rng.Uint64N(end-base)
				n := rng.Uint64N(min(end-from, 2*ChunkSize) + 1)
				got := make([]byte, n)
				b.ReadAt(got, from)
				for i := range n {
					want := model[(from+i)%uint64(len(model))]
					if want >= 0 && int(got[i]) != want {
						t.Fatalf("seed %d: ReadAt(%d, %d) differs at %d", seed, from, n, i)
					}
				}
			case 3: // discard up to somewhere written
				if end <= base {
					continue
				}
				k := rng.Uint64N(end - base + 1)
				b.Discard(base + k)
				for o := base; o < base+k; o++ {
					model[o%uint64(len(model))] = -1
				}
				base += k
				if b.Base() != base {
					t.Fatalf("Base %d, want %d", b.Base(), base)
				}
			}
			if max := int((end-base)/ChunkSize) + 2; b.Chunks() > max && end > base {
				t.Fatalf("seed %d: %d chunks held for %d bytes", seed, b.Chunks(), end-base)
			}
		}
		b.Reset(end)
		if b.Chunks() != 0 || b.Base() != end {
			t.Fatalf("after Reset: %d chunks, base %d", b.Chunks(), b.Base())
		}
	}
}

// TestWriteBelowBase: bytes already discarded are not written back.
func TestWriteBelowBase(t *testing.T) {
	var b Buffer
	b.WriteAt([]byte("hello world"), 0)
	b.Discard(6)
	b.WriteAt([]byte("HELLO"), 0)
	if b.Chunks() != 1 {
		t.Fatalf("%d chunks", b.Chunks())
	}
	b.WriteAt([]byte("HELLO WORLD"), 0)
	got := make([]byte, 5)
	b.ReadAt(got, 6)
	if string(got) != "WORLD" {
		t.Fatalf("got %q", got)
	}
	b.Discard(ChunkSize + 1)
	if b.Chunks() != 0 {
		t.Fatalf("%d chunks after discarding everything", b.Chunks())
	}
}

func BenchmarkWriteReadDiscard(b *testing.B) {
	var buf Buffer
	p := make([]byte, 1400)
	q := make([]byte, 1400)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	var off uint64
	for range b.N {
		buf.WriteAt(p, off)
		buf.ReadAt(q, off)
		off += uint64(len(p))
		buf.Discard(off)
	}
}
