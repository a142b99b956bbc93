package fec

import "encoding/binary"

// Sizes and bounds of the code.
const (
	// MaxData is the most data shards in a group. limits.md section 6
	// measured klauspost/reedsolomon on this machine: its generated
	// kernels take at most 10 inputs at once (codeGenMaxInputs), and
	// 10+3 x 1400 B encodes at 17 GB/s where 20+5 manages 7.6 GB/s. Small
	// groups also mean parity follows its data quickly, which is the
	// whole point of recovering without a round trip.
	MaxData = 10

	// MaxParity is the most parity shards per group. With m = MaxData
	// parity doubles what is sent: a group then survives losing half its
	// packets, and Adapter asks for 10 only above about 25 % loss (see
	// adapter.go). More parity than data would cost more than
	// retransmitting; on a path that bad, congestion control must slow
	// down instead, which FEC cannot replace.
	MaxParity = 10

	// MaxPayload is the largest plaintext payload a data shard carries:
	// 1452 bytes is the largest UDP payload on a 1500-byte link over IPv6
	// (1500 - 40 - 8), and the engine's payload is smaller than its
	// datagram, so every packet fits.
	MaxPayload = 1452

	// ShardHeader is the packet number (8 bytes) and payload length
	// (2 bytes) in front of a data shard's payload (see doc.go).
	ShardHeader = 8 + 2

	// MaxShard is the largest shard: header plus the largest payload.
	MaxShard = ShardHeader + MaxPayload
)

// Parity is the parity of one group, ready to send: one packet per shard,
// each naming Group, K, M and its index in Shards.
type Parity struct {
	Group uint64
	// K is the number of data shards in the group: the ratio's k, or
	// fewer when a partial group was flushed. M is the number of parity
	// shards.
	K, M int
	// Shards are the M parity shards, each the group's shard size (its
	// largest data shard). They belong to the Encoder.
	Shards [][]byte
}

// Recovered is a data packet rebuilt from parity: its packet number and
// plaintext payload, as the sender added them.
type Recovered struct {
	PN      uint64
	Payload []byte
}

// putShard writes the data shard of packet pn into dst, which must hold
// ShardHeader+len(payload) bytes (MaxShard at most), and returns its length.
func putShard(dst []byte, pn uint64, payload []byte) int {
	binary.BigEndian.PutUint64(dst, pn)
	binary.BigEndian.PutUint16(dst[8:], uint16(len(payload)))
	return ShardHeader + copy(dst[ShardHeader:], payload)
}

// parseShard reads a rebuilt data shard. ok is false when its length field
// exceeds the shard or its padding is not zero: the parity did not come from
// the data the receiver holds, and the group must be dropped.
func parseShard(shard []byte) (r Recovered, ok bool) {
	if len(shard) < ShardHeader {
		return r, false
	}
	n := int(binary.BigEndian.Uint16(shard[8:]))
	if n > len(shard)-ShardHeader {
		return r, false
	}
	for _, b := range shard[ShardHeader+n:] {
		if b != 0 {
			return r, false
		}
	}
	return Recovered{PN: binary.BigEndian.Uint64(shard), Payload: shard[ShardHeader : ShardHeader+n]}, true
}
