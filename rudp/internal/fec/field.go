package fec

import (
	"sync"

	"github.com/klauspost/reedsolomon"
)

// Arithmetic in GF(2^8) and the code's matrix.
//
// Why not reedsolomon's Encode and ReconstructData: measured on this
// machine (v1.14.2, 10+3 x 1400 B), Encode allocates one object per call
// (an 800-byte GFNI matrix that escapes, or with GFNI off a sync.Pool put of
// a slice) and ReconstructData four to seven (index and row slices sized by
// the code), and neither can be given scratch space. The library's
// multiply-accumulate kernel, out ^= c*in, is reachable without allocating
// through EncodeIdx on a 1+1 code whose only coefficient is c: with one
// output it stays below the code-generation threshold (codeGenMinShards = 3)
// and runs galMulSliceXor (AVX2/SSSE3) directly. So this package keeps one
// such code per coefficient and does the matrix work itself, which also lets
// it choose a matrix whose corners are codes of their own (see doc.go).
// The price is speed: one pass over a shard per coefficient instead of the
// library's fused kernels, which read each input once for all outputs (GFNI
// on this machine). Side by side (go test -bench . -cpu 1, this machine,
// noisy): 10+3 x 1400 B encodes in about 1.4 us per group against the
// library's 0.5 us and one allocation; rebuilding 3 lost shards takes about
// 1.6 us against 0.9 us and five allocations; 1 lost shard, 0.3 us against
// 0.55 us. At about 0.14 us per data packet it stays a few per cent of the
// 3.6 us a packet costs in batched syscalls (limits.md).

// gfPoly is the field's reduction polynomial x^8+x^4+x^3+x^2+1 (0x11d), the
// one klauspost/reedsolomon uses (its generatingPolynomial = 29): the
// coefficients computed here go into its kernels, so both must agree, and
// TestFieldMatchesLibrary checks that they do.
const gfPoly = 0x11d

var gfExp, gfLog = func() (exp [510]byte, log [256]byte) {
	x := 1
	for i := range 255 {
		exp[i], exp[i+255] = byte(x), byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= gfPoly
		}
	}
	return exp, log
}()

// gfMul multiplies in GF(2^8).
func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// gfInv inverts a nonzero element (0 maps to 0; callers never ask).
func gfInv(a byte) byte {
	if a == 0 {
		return 0
	}
	return gfExp[255-int(gfLog[a])]
}

// cauchy is the code's matrix: the Cauchy matrix 1/(x_j + y_i), parity row
// j and data column i, with x_j = MaxData+j and y_i = i, then scaled so that
// its first row and first column are all ones. The two sets are disjoint,
// so no denominator is zero and every square submatrix is invertible;
// scaling a row or a column by a nonzero factor keeps that true. So the
// top-left M x K corner is an MDS code for every K <= MaxData and
// M <= MaxParity (TestCauchyMDS checks all 184 755 submatrices). The ones
// are for speed: the library's kernel multiplies by 1 as a plain XOR, twice
// as fast, so a single parity shard (the Adapter's choice at light loss) is
// a plain XOR of the data, and every group's shard 0 costs only XORs.
var cauchy = func() (c [MaxParity][MaxData]byte) {
	for j := range MaxParity {
		for i := range MaxData {
			c[j][i] = gfInv(byte(MaxData+j) ^ byte(i))
		}
	}
	for i := range MaxData { // divide each column by its first entry
		s := gfInv(c[0][i])
		for j := range MaxParity {
			c[j][i] = gfMul(c[j][i], s)
		}
	}
	for j := range MaxParity { // then each row by its first entry
		s := gfInv(c[j][0])
		for i := range MaxData {
			c[j][i] = gfMul(c[j][i], s)
		}
	}
	return c
}()

// multipliers holds, for each nonzero coefficient c, a 1+1 code whose parity
// row is [c]: EncodeIdx on it is out ^= c*in. Built once for the process:
// 255 small codes, about 0.5 ms. They are read-only after construction
// (EncodeIdx with one parity shard touches only the code's matrix and
// options), so every connection shares them; TestMultipliersShared checks
// that under the race detector.
var multipliers = sync.OnceValue(func() *[256]reedsolomon.Encoder {
	var t [256]reedsolomon.Encoder
	for c := 1; c < 256; c++ {
		enc, err := reedsolomon.New(1, 1,
			reedsolomon.WithCustomMatrix([][]byte{{byte(c)}}),
			// The shards are at most MaxShard bytes: never worth a
			// goroutine, and the package promises to start none.
			reedsolomon.WithMaxGoroutines(1))
		if err != nil {
			// New fails only on shard counts or a short custom
			// matrix, both fixed here.
			panic("fec: building multiplier: " + err.Error())
		}
		t[c] = enc
	}
	return &t
})

// mulAdd does out ^= c*in over len(in) bytes, out being at least as long.
// one is the caller's one-element scratch, so that no slice header escapes.
func mulAdd(mul *[256]reedsolomon.Encoder, one *[1][]byte, c byte, in, out []byte) {
	if c == 0 || len(in) == 0 {
		return
	}
	one[0] = out[:len(in)]
	// EncodeIdx fails only on a shard count or size mismatch, which the
	// line above rules out.
	_ = mul[c].EncodeIdx(in, 0, one[:])
	one[0] = nil
}

// invert replaces the n x n matrix a (in the top-left corner) by its inverse,
// by Gauss-Jordan elimination. It reports false if a is singular, which a
// square submatrix of cauchy never is; the check keeps bad input harmless.
func invert(a *[MaxData][MaxData]byte, n int) bool {
	var inv [MaxData][MaxData]byte
	for i := range n {
		inv[i][i] = 1
	}
	for col := range n {
		pivot := -1
		for r := col; r < n; r++ {
			if a[r][col] != 0 {
				pivot = r
				break
			}
		}
		if pivot < 0 {
			return false
		}
		a[col], a[pivot] = a[pivot], a[col]
		inv[col], inv[pivot] = inv[pivot], inv[col]
		if s := gfInv(a[col][col]); s != 1 {
			for c := range n {
				a[col][c] = gfMul(a[col][c], s)
				inv[col][c] = gfMul(inv[col][c], s)
			}
		}
		for r := range n {
			if f := a[r][col]; r != col && f != 0 {
				for c := range n {
					a[r][c] ^= gfMul(f, a[col][c])
					inv[r][c] ^= gfMul(f, inv[col][c])
				}
			}
		}
	}
	*a = inv
	return true
}
