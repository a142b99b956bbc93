// Package seqbuf holds the bytes of one direction of a stream, addressed
// by their offset in the stream, in fixed-size chunks taken from a shared
// pool.
//
// A stream's buffers move a sliding window along the stream: bytes enter
// at one end (the application's writes, or packets arriving in any order)
// and leave at the other (acknowledged, or read). A slice that is cut from
// the front and appended to at the back copies everything it holds each
// time it grows; chunks never move, cost nothing while a stream is idle,
// and go back to the pool as soon as the window passes them.
package seqbuf

import "sync"

// ChunkSize is the size of a chunk: large enough that the per-chunk cost
// vanishes against the copying (ten or so packets' worth), small enough
// that a stream holding a few bytes does not pin much memory.
const ChunkSize = 16 << 10

type chunk = [ChunkSize]byte

var pool = sync.Pool{New: func() any { return new(chunk) }}

// A Buffer holds bytes at stream offsets from Base (inclusive) upwards.
// The zero Buffer is empty with Base 0. A Buffer is not safe for
// concurrent use.
type Buffer struct {
	base   uint64   // the lowest offset still held
	first  uint64   // the index (offset / ChunkSize) of chunks[0]
	chunks []*chunk // chunks[i] holds offsets from (first+i)*ChunkSize
}

// Base returns the lowest offset the buffer still holds.
func (b *Buffer) Base() uint64 { return b.base }

// Chunks returns how many chunks the buffer holds, a measure of its memory.
func (b *Buffer) Chunks() int { return len(b.chunks) }

// grow makes sure chunks exist for every offset below end.
func (b *Buffer) grow(end uint64) {
	if end <= b.base {
		return
	}
	if len(b.chunks) == 0 {
		b.first = b.base / ChunkSize
	}
	need := int((end+ChunkSize-1)/ChunkSize - b.first)
	for len(b.chunks) < need {
		b.chunks = append(b.chunks, pool.Get().(*chunk))
	}
}

// WriteAt copies p to offsets [off, off+len(p)). Bytes below Base are
// skipped: they were consumed already.
func (b *Buffer) WriteAt(p []byte, off uint64) {
	if off < b.base {
		skip := b.base - off
		if skip >= uint64(len(p)) {
			return
		}
		p, off = p[skip:], b.base
	}
	if len(p) == 0 {
		return
	}
	b.grow(off + uint64(len(p)))
	for len(p) > 0 {
		c := b.chunks[off/ChunkSize-b.first]
		n := copy(c[off%ChunkSize:], p)
		p, off = p[n:], off+uint64(n)
	}
}

// ReadAt copies the bytes at [off, off+len(p)) into p. The caller makes
// sure they are held (off ≥ Base, and written).
func (b *Buffer) ReadAt(p []byte, off uint64) {
	for len(p) > 0 {
		c := b.chunks[off/ChunkSize-b.first]
		n := copy(p, c[off%ChunkSize:])
		p, off = p[n:], off+uint64(n)
	}
}

// Discard drops every byte below off; chunks wholly below it go back to
// the pool. Discarding below Base does nothing.
func (b *Buffer) Discard(off uint64) {
	if off <= b.base {
		return
	}
	b.base = off
	drop := 0
	if len(b.chunks) > 0 {
		drop = int(min(off/ChunkSize-b.first, uint64(len(b.chunks))))
	}
	if drop == 0 {
		return
	}
	for i := range drop {
		pool.Put(b.chunks[i])
		b.chunks[i] = nil
	}
	n := copy(b.chunks, b.chunks[drop:])
	clear(b.chunks[n:])
	b.chunks = b.chunks[:n]
	b.first += uint64(drop)
	if n == 0 {
		b.chunks = nil // an idle stream keeps no backing array either
	}
}

// Reset drops everything and moves Base to off.
func (b *Buffer) Reset(off uint64) {
	for i, c := range b.chunks {
		pool.Put(c)
		b.chunks[i] = nil
	}
	b.chunks, b.base = nil, off
}
