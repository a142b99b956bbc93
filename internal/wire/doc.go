// Package wire is the data packet format: the clear header, the frames in
// the encrypted payload, and QUIC-style variable-length integers. It has no
// I/O, no crypto and no clock; it turns structures into bytes and back.
//
// A data packet on any path (UDP, TCP, relay):
//
//	+--------------------------+------------------------------------+-----+
//	| header (18 bytes, clear) | frames (encrypted)                 | tag |
//	| 0x80 | phase | conn ID | | frame | frame | ...                | 16  |
//	|      |       | pkt num | |                                    |     |
//	+--------------------------+------------------------------------+-----+
//
// The handshake's messages share the first byte's space: 1, 2 and 3 are
// handshake messages, 0x80 a data packet; anything else is dropped.
//
// Frames start with a type byte; fields are varints unless marked:
//
//	0x00 PADDING          (zero bytes to the end)
//	0x01 PING
//	0x02 ACK              largest, delay µs, range count, first range, (gap, range)...
//	0x03 REQUEST          largest, range count, first range, (gap, range)...
//	0x04 RESET_STREAM     stream ID, code, final size
//	0x05 STOP_SENDING     stream ID, code
//	0x06 MAX_DATA         maximum
//	0x07 MAX_STREAM_DATA  stream ID, maximum
//	0x08 MAX_STREAMS      maximum
//	0x09 FEC_REPORT       packets rebuilt so far
//	0x0a CLOSE            code, reason length, reason (bytes)
//	0x0b MESSAGE          message ID, start, total, offset, length, data (bytes)
//	0x0c ABANDON          message ID, start, total
//	0x0d MAX_MESSAGE_DATA maximum
//	0x0e FEC_DATA         group, index (byte)
//	0x0f FEC_PARITY       group, k (byte), m (byte), index (byte), shard (to the end)
//	0x10-0x17 STREAM      stream ID, [offset], [length], data (bytes)
//
// The frames follow QUIC's (RFC 9000 section 19) where QUIC has one, so
// their semantics are documented there; REQUEST, MESSAGE, ABANDON,
// MAX_MESSAGE_DATA and the FEC frames are pydevts's own, documented in
// their files.
package wire
