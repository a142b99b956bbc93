// Package rangeset is a set of uint64 values kept as sorted, disjoint
// ranges: the packet numbers a receiver got, the byte ranges of a stream
// that arrived or were acknowledged, the message IDs already delivered.
// Such sets are mostly a few long runs, so a sorted slice of ranges is
// small and fast; a range set with many holes is bounded by its user.
package rangeset

import "sort"

// Range is the half-open interval [Start, End).
type Range struct {
	Start, End uint64
}

// Len returns the number of values in r.
func (r Range) Len() uint64 { return r.End - r.Start }

// Set is a set of uint64 values. The zero value is empty and ready to use.
// It is not safe for concurrent use.
type Set struct {
	r []Range // sorted by Start, disjoint and not adjacent
}

// Add adds [start, end) to the set.
func (s *Set) Add(start, end uint64) {
	if start >= end {
		return
	}
	// i: first range that ends at or after start (may merge with it);
	// j: first range that starts after end (cannot merge).
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].End >= start })
	j := sort.Search(len(s.r), func(k int) bool { return s.r[k].Start > end })
	if i == j {
		s.r = append(s.r, Range{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = Range{start, end}
		return
	}
	s.r[i] = Range{min(start, s.r[i].Start), max(end, s.r[j-1].End)}
	s.r = append(s.r[:i+1], s.r[j:]...)
}

// Remove removes [start, end) from the set.
func (s *Set) Remove(start, end uint64) {
	if start >= end {
		return
	}
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].End > start })
	j := sort.Search(len(s.r), func(k int) bool { return s.r[k].Start >= end })
	if i >= j {
		return
	}
	var keep [2]Range
	n := 0
	if s.r[i].Start < start {
		keep[n] = Range{s.r[i].Start, start}
		n++
	}
	if s.r[j-1].End > end {
		keep[n] = Range{end, s.r[j-1].End}
		n++
	}
	// Replace s.r[i:j] by keep[:n] in place: the set's array is reused,
	// so a set that is added to at the top and trimmed at the bottom (a
	// window) stops allocating once it has its size.
	if n > j-i { // one range split in two
		s.r = append(s.r, Range{})
		copy(s.r[j+1:], s.r[j:])
		j++
	}
	copy(s.r[i:], keep[:n])
	m := copy(s.r[i+n:], s.r[j:])
	s.r = s.r[:i+n+m]
}

// RemoveBelow removes every value below v.
func (s *Set) RemoveBelow(v uint64) {
	s.Remove(0, v)
}

// Contains reports whether v is in the set.
func (s *Set) Contains(v uint64) bool {
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].End > v })
	return i < len(s.r) && s.r[i].Start <= v
}

// ContainsRange reports whether all of [start, end) is in the set.
func (s *Set) ContainsRange(start, end uint64) bool {
	if start >= end {
		return true
	}
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].End > start })
	return i < len(s.r) && s.r[i].Start <= start && s.r[i].End >= end
}

// Ranges returns the ranges in ascending order. The slice belongs to the
// set: it is valid until the next change.
func (s *Set) Ranges() []Range { return s.r }

// NumRanges returns how many disjoint ranges make up the set.
func (s *Set) NumRanges() int { return len(s.r) }

// Empty reports whether the set is empty.
func (s *Set) Empty() bool { return len(s.r) == 0 }

// Min returns the smallest value; the set must not be empty.
func (s *Set) Min() uint64 { return s.r[0].Start }

// Max returns the largest value; the set must not be empty.
func (s *Set) Max() uint64 { return s.r[len(s.r)-1].End - 1 }

// Prefix returns the end of the run that starts at start: the first value
// at or after start that is not in the set.
func (s *Set) Prefix(start uint64) uint64 {
	i := sort.Search(len(s.r), func(k int) bool { return s.r[k].End > start })
	if i < len(s.r) && s.r[i].Start <= start {
		return s.r[i].End
	}
	return start
}

// DropOldest removes whole ranges from the bottom until at most n remain.
func (s *Set) DropOldest(n int) {
	if len(s.r) > n {
		s.r = append(s.r[:0], s.r[len(s.r)-n:]...)
	}
}

// Clear empties the set, keeping its memory.
func (s *Set) Clear() { s.r = s.r[:0] }
