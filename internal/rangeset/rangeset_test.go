package rangeset

import (
	"math/rand/v2"
	"testing"
)

// naive is the same set as a map of values.
type naive map[uint64]bool

func (n naive) ranges(limit uint64) []Range {
	var out []Range
	for v := uint64(0); v < limit; v++ {
		if !n[v] {
			continue
		}
		if len(out) > 0 && out[len(out)-1].End == v {
			out[len(out)-1].End++
		} else {
			out = append(out, Range{v, v + 1})
		}
	}
	return out
}

// TestAgainstNaive applies the same random operations to a Set and to a
// map of values and compares them after every step.
func TestAgainstNaive(t *testing.T) {
	const limit = 300
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		var s Set
		n := naive{}
		for step := range 2000 {
			a := r.Uint64N(limit)
			b := a + r.Uint64N(20)
			if b > limit {
				b = limit
			}
			switch r.IntN(10) {
			case 0, 1, 2, 3, 4:
				s.Add(a, b)
				for v := a; v < b; v++ {
					n[v] = true
				}
			case 5, 6:
				s.Remove(a, b)
				for v := a; v < b; v++ {
					delete(n, v)
				}
			case 7:
				s.RemoveBelow(a / 4)
				for v := range n {
					if v < a/4 {
						delete(n, v)
					}
				}
			case 8:
				if s.Contains(a) != n[a] {
					t.Fatalf("seed %d step %d: Contains(%d) = %v", seed, step, a, !n[a])
				}
				all := true
				for v := a; v < b; v++ {
					all = all && n[v]
				}
				if s.ContainsRange(a, b) != all {
					t.Fatalf("seed %d step %d: ContainsRange(%d, %d) = %v", seed, step, a, b, !all)
				}
				end := a
				for n[end] {
					end++
				}
				if got := s.Prefix(a); got != end {
					t.Fatalf("seed %d step %d: Prefix(%d) = %d, want %d", seed, step, a, got, end)
				}
			case 9:
				if s.NumRanges() > 3 {
					s.DropOldest(3)
					want := n.ranges(limit)
					for _, rg := range want[:len(want)-3] {
						for v := rg.Start; v < rg.End; v++ {
							delete(n, v)
						}
					}
				}
			}
			want := n.ranges(limit)
			got := s.Ranges()
			if len(got) != len(want) {
				t.Fatalf("seed %d step %d: ranges %v, want %v", seed, step, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("seed %d step %d: ranges %v, want %v", seed, step, got, want)
				}
			}
			if !s.Empty() && (s.Min() != want[0].Start || s.Max() != want[len(want)-1].End-1) {
				t.Fatalf("seed %d step %d: Min/Max", seed, step)
			}
		}
	}
}

func TestEdges(t *testing.T) {
	var s Set
	s.Add(5, 5) // empty range: nothing
	if !s.Empty() {
		t.Fatal("empty range added something")
	}
	s.Add(10, 20)
	s.Add(20, 30) // adjacent: merges
	if s.NumRanges() != 1 || s.Ranges()[0] != (Range{10, 30}) {
		t.Fatalf("adjacent ranges did not merge: %v", s.Ranges())
	}
	s.Remove(15, 16)
	if s.NumRanges() != 2 || s.Contains(15) || !s.Contains(14) || !s.Contains(16) {
		t.Fatalf("split: %v", s.Ranges())
	}
	s.Add(1<<64-10, 1<<64-1)
	if s.Max() != 1<<64-2 {
		t.Fatalf("large values: %v", s.Ranges())
	}
	s.Clear()
	if !s.Empty() {
		t.Fatal("Clear")
	}
}

func BenchmarkAddInOrder(b *testing.B) {
	var s Set
	v := uint64(0)
	for b.Loop() {
		s.Add(v, v+1)
		v++
		if v%1024 == 0 {
			s.RemoveBelow(v - 512)
		}
	}
}
