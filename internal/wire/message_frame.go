package wire

// MessageFrame carries one fragment of a message (MESSAGE), or says the
// sender gave a message up (ABANDON, no fragment):
//
//	MESSAGE: type | message ID | start | total | offset | length | data
//	ABANDON: type | message ID | start | total
//
// Message IDs count up from 0 in each direction; the receiver delivers each
// ID at most once. Start is where the message begins in the sender's
// message byte space (the sum of the sizes of the messages before it): the
// receiver's MAX_MESSAGE_DATA limit is a position in that space, which
// bounds the memory messages can hold at the receiver while letting them
// complete in any order. Total is the message's size; offset and length
// place the fragment in it.
type MessageFrame struct {
	ID     uint64
	Start  uint64
	Total  uint64
	Offset uint64
	Data   []byte
}

// MaxMessageSize is the largest message: 1 MiB, fragmented over many
// packets and reassembled.
const MaxMessageSize = 1 << 20

// MessageHeaderLen returns the bytes a MESSAGE frame spends before its
// data.
func MessageHeaderLen(id, start, total, offset uint64, n int) int {
	return 1 + VarintLen(id) + VarintLen(start) + VarintLen(total) + VarintLen(offset) + VarintLen(uint64(n))
}

// AppendMessage appends a MESSAGE frame with fragment data at offset.
func AppendMessage(b []byte, id, start, total, offset uint64, data []byte) []byte {
	b = AppendVarint(append(b, byte(FrameMessage)), id)
	b = AppendVarint(AppendVarint(AppendVarint(b, start), total), offset)
	return append(AppendVarint(b, uint64(len(data))), data...)
}

// AppendAbandon appends an ABANDON frame.
func AppendAbandon(b []byte, id, start, total uint64) []byte {
	b = AppendVarint(append(b, byte(FrameAbandon)), id)
	return AppendVarint(AppendVarint(b, start), total)
}

func parseMessage(r *reader, t FrameType, f *MessageFrame) {
	f.ID, f.Start, f.Total = r.varint(), r.varint(), r.varint()
	f.Offset, f.Data = 0, nil
	if t == FrameMessage {
		f.Offset = r.varint()
		f.Data = r.bytes(r.varint())
	}
	if f.Total > MaxMessageSize || f.Offset+uint64(len(f.Data)) > f.Total || f.Start > MaxVarint-f.Total {
		r.bad = true
	}
}

// CloseFrame ends the connection, with an application's code and a reason
// for people:
//
//	CLOSE: type | code | reason length | reason
type CloseFrame struct {
	Code   uint64
	Reason []byte
}

// MaxReasonLen bounds a close reason: one line for a log, and small enough
// that CLOSE always fits the smallest packet.
const MaxReasonLen = 256

// AppendClose appends a CLOSE frame; a longer reason is cut to
// MaxReasonLen bytes.
func AppendClose(b []byte, code uint64, reason string) []byte {
	if len(reason) > MaxReasonLen {
		reason = reason[:MaxReasonLen]
	}
	b = AppendVarint(AppendVarint(append(b, byte(FrameClose)), code), uint64(len(reason)))
	return append(b, reason...)
}

func parseClose(r *reader, f *CloseFrame) {
	f.Code = r.varint()
	n := r.varint()
	if n > MaxReasonLen {
		r.bad = true
		return
	}
	f.Reason = r.bytes(n)
}
