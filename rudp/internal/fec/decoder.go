package fec

import (
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/reedsolomon"
)

// Errors AddParity returns for parity that cannot belong to a consistent
// group. The group is dropped: nothing is recovered from it any more.
var (
	// ErrBadParams reports k, m or the parity index out of range, or a
	// shard too short or too long to be a shard.
	ErrBadParams = errors.New("fec: parity parameters out of range")
	// ErrInconsistent reports a group whose shards disagree: k, m or the
	// shard size differ between its parity shards, a data shard's index
	// or size does not fit them, or a rebuilt shard is malformed.
	ErrInconsistent = errors.New("fec: inconsistent group")
)

// Decoder rebuilds a connection's lost data packets from parity.
//
// It holds at most maxGroups groups, in a table indexed by group number
// modulo maxGroups: the sender numbers groups in sequence, so a group takes
// the place of one maxGroups older (the oldest go first), and a shard of a
// group older than the one in its place is ignored. A group is held until it
// is rebuilt, complete (all its data arrived), dropped as inconsistent, or
// expired; afterwards its place remembers that it is done, so late shards
// of it are ignored and nothing is ever recovered twice.
//
// Bad input, from a peer that authenticated but may still be buggy, never
// panics: it is dropped and counted (Dropped), and AddParity says why.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	slots     []groupSlot
	free      [][]byte // shard buffers, MaxShard bytes each, to reuse
	out       [MaxData]Recovered
	outBufs   [MaxData][]byte
	mul       *[256]reedsolomon.Encoder
	one       [1][]byte
	recovered uint64
	dropped   uint64
}

type slotState uint8

const (
	slotEmpty slotState = iota // never used
	slotOpen                   // collecting shards
	slotDone                   // rebuilt, complete, dropped or expired
)

// groupSlot is one group being collected.
type groupSlot struct {
	state   slotState
	group   uint64
	created time.Time // when its first shard arrived, for Expire
	// k, m and the shard size come with the first parity shard; k == 0
	// until then.
	k, m, size int
	dataMask   uint16 // data indices present
	parMask    uint16 // parity indices present
	dataLen    [MaxData]int
	data       [MaxData][]byte
	par        [MaxParity][]byte
}

// NewDecoder returns a Decoder holding at most maxGroups groups (at least
// one). Each open group holds at most MaxData+MaxParity shard buffers of
// MaxShard bytes, so memory stays below maxGroups x 29 KiB; groups whose data
// all arrived hold nothing.
func NewDecoder(maxGroups int) *Decoder {
	return &Decoder{slots: make([]groupSlot, max(maxGroups, 1)), mul: multipliers()}
}

// slot returns the place of group, opening it if needed, or nil if the
// group is older than the one in its place.
func (d *Decoder) slot(group uint64, now time.Time) *groupSlot {
	s := &d.slots[group%uint64(len(d.slots))]
	if s.state != slotEmpty {
		if s.group == group {
			return s
		}
		if s.group > group {
			return nil
		}
		d.finish(s)
	}
	*s = groupSlot{state: slotOpen, group: group, created: now}
	return s
}

// finish marks a group done and gives its buffers back.
func (d *Decoder) finish(s *groupSlot) {
	for i := range s.data {
		if s.data[i] != nil {
			d.free = append(d.free, s.data[i])
			s.data[i] = nil
		}
	}
	for j := range s.par {
		if s.par[j] != nil {
			d.free = append(d.free, s.par[j])
			s.par[j] = nil
		}
	}
	s.state = slotDone
}

// drop finishes a group that proved inconsistent and counts it.
func (d *Decoder) drop(s *groupSlot) {
	d.dropped++
	if s != nil {
		d.finish(s)
	}
}

// buf returns a shard buffer of MaxShard bytes with unspecified contents.
func (d *Decoder) buf() []byte {
	if n := len(d.free); n > 0 {
		b := d.free[n-1]
		d.free = d.free[:n-1]
		return b[:MaxShard]
	}
	return make([]byte, MaxShard)
}

// AddData records a data packet that arrived: its group and index from its
// FEC frame, its packet number and plaintext payload, which it copies. It
// returns the data packets this made recoverable (when parity came first),
// each exactly once; the payloads are valid until the next call on the
// Decoder. A duplicate is ignored; an index or payload out of range, or
// one that contradicts the group's parity, drops the group.
func (d *Decoder) AddData(group uint64, index int, pn uint64, payload []byte, now time.Time) []Recovered {
	s := d.slot(group, now)
	if index < 0 || index >= MaxData || len(payload) > MaxPayload {
		d.drop(s)
		return nil
	}
	if s == nil || s.state == slotDone || s.dataMask&(1<<index) != 0 {
		return nil
	}
	if s.k != 0 && (index >= s.k || ShardHeader+len(payload) > s.size) {
		d.drop(s)
		return nil
	}
	b := d.buf()
	s.dataLen[index] = putShard(b, pn, payload)
	s.data[index] = b
	s.dataMask |= 1 << index
	rec, _ := d.try(s)
	return rec
}

// AddParity records parity shard index (in [0, m)) of a group of k data
// shards and m parity shards; it copies shard. It returns the data packets
// recovered now, each exactly once: never a packet that arrived itself,
// never one returned before. The payloads are valid until the next call on
// the Decoder. A duplicate shard is ignored. Parameters out of range or
// inconsistent with the group's other shards return an error and drop the
// group.
func (d *Decoder) AddParity(group uint64, k, m, index int, shard []byte, now time.Time) ([]Recovered, error) {
	s := d.slot(group, now)
	if k < 1 || k > MaxData || m < 1 || m > MaxParity || index < 0 || index >= m ||
		len(shard) < ShardHeader || len(shard) > MaxShard {
		d.drop(s)
		return nil, fmt.Errorf("%w: group %d k=%d m=%d index %d, %d-byte shard",
			ErrBadParams, group, k, m, index, len(shard))
	}
	if s == nil || s.state == slotDone {
		return nil, nil
	}
	if s.k == 0 {
		for i := range MaxData {
			if s.dataMask&(1<<i) != 0 && (i >= k || s.dataLen[i] > len(shard)) {
				d.drop(s)
				return nil, fmt.Errorf("%w: group %d: data shard %d (%d bytes) outside k=%d, size %d",
					ErrInconsistent, group, i, s.dataLen[i], k, len(shard))
			}
		}
		s.k, s.m, s.size = k, m, len(shard)
	} else if k != s.k || m != s.m || len(shard) != s.size {
		d.drop(s)
		return nil, fmt.Errorf("%w: group %d: parity says %d+%d x %d bytes, earlier %d+%d x %d",
			ErrInconsistent, group, k, m, len(shard), s.k, s.m, s.size)
	}
	if s.parMask&(1<<index) != 0 {
		return nil, nil
	}
	b := d.buf()
	copy(b, shard)
	s.par[index] = b[:len(shard)]
	s.parMask |= 1 << index
	return d.try(s)
}

// Expire forgets the groups whose first shard arrived more than maxAge
// before now: by then their packets have been retransmitted, and the memory
// is better used for new groups.
func (d *Decoder) Expire(now time.Time, maxAge time.Duration) {
	for i := range d.slots {
		if s := &d.slots[i]; s.state == slotOpen && now.Sub(s.created) > maxAge {
			d.finish(s)
		}
	}
}

// Recovered returns how many packets the Decoder has rebuilt, for Stats.
func (d *Decoder) Recovered() uint64 { return d.recovered }

// Dropped returns how many inputs were dropped as bad (out of range or
// inconsistent with their group), for Stats.
func (d *Decoder) Dropped() uint64 { return d.dropped }
