package wire

import (
	"encoding/binary"
	"errors"
)

// PacketType is the first byte of every datagram pydevts sends. Values 1 to
// 3 are the handshake's messages (handshake.MessageType); data packets have
// the high bit set, so the two can never be confused.
const PacketType = 0x80

// HeaderLen is the size of a data packet's clear header.
const HeaderLen = 18

// Header is the clear header of a data packet:
//
//	+------+-----------+---------------+---------------+
//	| type | key phase | connection ID | packet number |
//	| 0x80 |     1     |       8       |       8       |
//	+------+-----------+---------------+---------------+
//
// The connection ID is the receiver's, chosen by it in the handshake: it is
// how the receiver finds the connection, whatever path the packet took. The
// packet number is never reused in one direction and is the AEAD nonce; it
// is sent whole (8 bytes) rather than truncated, so a receiver never has to
// guess it back across paths with very different delays. The whole header
// is the AEAD's associated data, so none of it can be changed in transit.
type Header struct {
	KeyPhase uint8
	ConnID   uint64
	PN       uint64
}

// AppendHeader appends h to b.
func AppendHeader(b []byte, h Header) []byte {
	b = append(b, PacketType, h.KeyPhase)
	b = binary.BigEndian.AppendUint64(b, h.ConnID)
	return binary.BigEndian.AppendUint64(b, h.PN)
}

var errHeader = errors.New("wire: not a data packet")

// ParseHeader reads the header at the start of a datagram.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen || b[0] != PacketType {
		return Header{}, errHeader
	}
	return Header{
		KeyPhase: b[1],
		ConnID:   binary.BigEndian.Uint64(b[2:]),
		PN:       binary.BigEndian.Uint64(b[10:]),
	}, nil
}

// ConnID returns the connection ID of a data packet without parsing the
// rest, for the endpoint's demultiplexer.
func ConnID(b []byte) (uint64, bool) {
	if len(b) < HeaderLen || b[0] != PacketType {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[2:]), true
}
