package fec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/reedsolomon"
)

// TestFieldMatchesLibrary checks that this package's GF(2^8) is the
// library's: every coefficient, through the library's kernel, multiplies
// every byte as gfMul does. The coefficients computed here go into that
// kernel, so a different field would corrupt every rebuilt shard.
func TestFieldMatchesLibrary(t *testing.T) {
	mul := multipliers()
	var one [1][]byte
	in := make([]byte, 256+100) // past the kernels' 64- and 32-byte blocks
	for i := range in {
		in[i] = byte(i)
	}
	out := make([]byte, len(in))
	for c := range 256 {
		clear(out)
		mulAdd(mul, &one, byte(c), in, out)
		for i, x := range in {
			if want := gfMul(byte(c), x); out[i] != want {
				t.Fatalf("library %d*%d = %d, gfMul says %d", c, x, out[i], want)
			}
		}
	}
	for a := 1; a < 256; a++ {
		if gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("%d * inv(%d) != 1", a, a)
		}
		if reedsolomon.Inv(byte(a)) != gfInv(byte(a)) {
			t.Fatalf("inverse of %d: library %d, gfInv %d", a, reedsolomon.Inv(byte(a)), gfInv(byte(a)))
		}
	}
}

// TestCauchyMDS checks the property the code rests on: every square
// submatrix of cauchy is invertible, so any K of the K+M shards of every
// code rebuild the group. All 184 755 of them.
func TestCauchyMDS(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive")
	}
	for rows := 1; rows < 1<<MaxParity; rows++ {
		var r []int
		for j := range MaxParity {
			if rows&(1<<j) != 0 {
				r = append(r, j)
			}
		}
		n := len(r)
		for cols := 1; cols < 1<<MaxData; cols++ {
			var c []int
			for i := range MaxData {
				if cols&(1<<i) != 0 {
					c = append(c, i)
				}
			}
			if len(c) != n {
				continue
			}
			var a [MaxData][MaxData]byte
			for x := range n {
				for y := range n {
					a[x][y] = cauchy[r[x]][c[y]]
				}
			}
			orig := a
			if !invert(&a, n) {
				t.Fatalf("rows %v cols %v: singular", r, c)
			}
			if n <= 3 { // spot-check the inverse itself
				checkInverse(t, orig, a, n)
			}
		}
	}
}

func checkInverse(t *testing.T, a, inv [MaxData][MaxData]byte, n int) {
	t.Helper()
	for x := range n {
		for y := range n {
			var s byte
			for z := range n {
				s ^= gfMul(a[x][z], inv[z][y])
			}
			if want := byte(0); x == y && s != 1 || x != y && s != want {
				t.Fatalf("a*inv [%d][%d] = %d", x, y, s)
			}
		}
	}
}

// TestEncoderMatchesLibrary checks the Encoder's parity against the
// library's own Encode, given the same matrix: the top-left M x K corner of
// cauchy, for every K and M.
func TestEncoderMatchesLibrary(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 0))
	for k := 1; k <= MaxData; k++ {
		for m := 1; m <= MaxParity; m++ {
			t.Run(fmt.Sprintf("%d+%d", k, m), func(t *testing.T) {
				matrix := make([][]byte, m)
				for j := range matrix {
					matrix[j] = cauchy[j][:k]
				}
				lib, err := reedsolomon.New(k, m, reedsolomon.WithCustomMatrix(matrix))
				if err != nil {
					t.Fatal(err)
				}
				e := NewEncoder()
				e.SetRatio(k, m)
				pkts := randomPackets(r, k)
				p := encodeGroup(t, e, pkts)
				shards := paddedShards(pkts, len(p.Shards[0]))
				for range m {
					shards = append(shards, make([]byte, len(p.Shards[0])))
				}
				if err := lib.Encode(shards); err != nil {
					t.Fatal(err)
				}
				for j := range m {
					if !bytes.Equal(p.Shards[j], shards[k+j]) {
						t.Fatalf("seed %d: parity %d differs from the library's", seed, j)
					}
				}
			})
		}
	}
}

// TestMultipliersShared runs the shared multipliers from several goroutines
// at once: under -race this checks that they are read-only, as the
// connections of a process share them.
func TestMultipliersShared(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			e := NewEncoder()
			e.SetRatio(MaxData, 3)
			d := NewDecoder(4)
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 50 {
				pkts := randomPackets(r, MaxData)
				p := encodeGroup(t, e, pkts)
				for i, pk := range pkts[1:] {
					d.AddData(p.Group, i+1, pk.pn, pk.payload, t0)
				}
				rec, err := d.AddParity(p.Group, p.K, p.M, 0, p.Shards[0], t0)
				if err != nil || len(rec) != 1 || !bytes.Equal(rec[0].Payload, pkts[0].payload) {
					t.Errorf("goroutine %d: recovered %d, %v", g, len(rec), err)
					return
				}
			}
		})
	}
	wg.Wait()
}
