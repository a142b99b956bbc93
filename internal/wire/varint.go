package wire

import "encoding/binary"

// Variable-length integers as QUIC encodes them (RFC 9000 section 16): the
// two high bits of the first byte give the length (1, 2, 4 or 8 bytes), the
// rest is the value, big-endian. Small numbers (stream IDs, lengths, most
// offsets) take one or two bytes, and the length is known from the first
// byte, which makes parsing branch-light.

// MaxVarint is the largest value a varint holds.
const MaxVarint = 1<<62 - 1

// VarintLen returns how many bytes AppendVarint writes for v.
func VarintLen(v uint64) int {
	switch {
	case v < 1<<6:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<30:
		return 4
	}
	return 8
}

// AppendVarint appends v to b. v must not exceed MaxVarint; callers make
// sure of that (all our counters are far below it), and a larger value is a
// bug, so it panics.
func AppendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x8000_0000)
	case v <= MaxVarint:
		return binary.BigEndian.AppendUint64(b, v|0xc000_0000_0000_0000)
	}
	panic("wire: varint out of range")
}

// ConsumeVarint reads a varint from the start of b and returns it and its
// length, or n < 0 when b is too short.
func ConsumeVarint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, -1
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, -1
	}
	switch n {
	case 1:
		return uint64(b[0]), 1
	case 2:
		return uint64(binary.BigEndian.Uint16(b) & 0x3fff), 2
	case 4:
		return uint64(binary.BigEndian.Uint32(b) & 0x3fff_ffff), 4
	}
	return binary.BigEndian.Uint64(b) & MaxVarint, 8
}

// reader consumes fields from a frame; the first failure sticks, so a
// parser reads all its fields and checks once.
type reader struct {
	b   []byte
	n   int
	bad bool
}

func (r *reader) varint() uint64 {
	if r.bad {
		return 0
	}
	v, n := ConsumeVarint(r.b[r.n:])
	if n < 0 {
		r.bad = true
		return 0
	}
	r.n += n
	return v
}

// bytes returns the next n bytes, aliasing the packet.
func (r *reader) bytes(n uint64) []byte {
	if r.bad || n > uint64(len(r.b)-r.n) {
		r.bad = true
		return nil
	}
	s := r.b[r.n : r.n+int(n)]
	r.n += int(n)
	return s
}

func (r *reader) byte() byte {
	if r.bad || r.n >= len(r.b) {
		r.bad = true
		return 0
	}
	r.n++
	return r.b[r.n-1]
}

// rest returns everything left, aliasing the packet.
func (r *reader) rest() []byte {
	if r.bad {
		return nil
	}
	s := r.b[r.n:]
	r.n = len(r.b)
	return s
}
