package fec

import (
	"fmt"
	"math/bits"
)

// try rebuilds the group's missing data shards if it now holds enough, or
// finishes it if nothing is missing.
func (d *Decoder) try(s *groupSlot) ([]Recovered, error) {
	if s.k == 0 {
		// No parity yet, so k is unknown; but with every index present
		// nothing can be missing whatever k is.
		if s.dataMask == 1<<MaxData-1 {
			d.finish(s)
		}
		return nil, nil
	}
	have := bits.OnesCount16(s.dataMask)
	if have == s.k {
		d.finish(s)
		return nil, nil
	}
	if have+bits.OnesCount16(s.parMask) < s.k {
		return nil, nil
	}
	return d.rebuild(s)
}

// rebuild recovers the l missing data shards of a group from the data
// present and its first l parity shards, then finishes the group.
//
// With L the missing indices and J the parity used, parity row j is
// p_j = sum_i C[j][i] d_i, so p_J - sum_{i not in L} C[J][i] d_i = A d_L with
// A = C[J][L], an l x l Cauchy matrix and thus invertible. Each missing
// shard is then one linear combination of the k shards at hand:
//
//	d_L[r] = sum_t Ainv[r][t] p_J[t] + sum_{i not in L} (sum_t Ainv[r][t] C[J[t]][i]) d_i
//
// which costs l x k multiply-accumulates of one shard each.
func (d *Decoder) rebuild(s *groupSlot) ([]Recovered, error) {
	var lost, used [MaxData]int
	l := 0
	for i := range s.k {
		if s.dataMask&(1<<i) == 0 {
			lost[l] = i
			l++
		}
	}
	n := 0
	for j := range s.m {
		if n < l && s.parMask&(1<<j) != 0 {
			used[n] = j
			n++
		}
	}
	var a [MaxData][MaxData]byte
	for r := range l {
		for c := range l {
			a[r][c] = cauchy[used[r]][lost[c]]
		}
	}
	if !invert(&a, l) {
		d.drop(s)
		return nil, fmt.Errorf("%w: group %d: singular decoding matrix", ErrInconsistent, s.group)
	}
	// The data shards present take part zero-padded to the shard size.
	for i := range s.k {
		if s.data[i] != nil {
			clear(s.data[i][s.dataLen[i]:s.size])
		}
	}
	for r := range l {
		out := d.buf()[:s.size]
		clear(out)
		d.outBufs[r] = out
		for i := range s.k {
			if s.data[i] == nil {
				continue
			}
			var c byte
			for t := range l {
				c ^= gfMul(a[r][t], cauchy[used[t]][i])
			}
			mulAdd(d.mul, &d.one, c, s.data[i][:s.size], out)
		}
		for t := range l {
			mulAdd(d.mul, &d.one, a[r][t], s.par[used[t]], out)
		}
	}
	// Parse all before returning any: a malformed shard means the parity
	// is not that of this data, and then none of the rebuilt shards can
	// be trusted.
	bad := false
	for r := range l {
		rec, ok := parseShard(d.outBufs[r])
		bad = bad || !ok
		d.out[r] = rec
	}
	for r := range l {
		// Back to the free list, but untouched until the next call, so
		// the payloads stay valid as documented.
		d.free = append(d.free, d.outBufs[r])
		d.outBufs[r] = nil
	}
	if bad {
		clear(d.out[:l])
		d.drop(s)
		return nil, fmt.Errorf("%w: group %d: rebuilt shard malformed", ErrInconsistent, s.group)
	}
	d.finish(s)
	d.recovered += uint64(l)
	return d.out[:l], nil
}
