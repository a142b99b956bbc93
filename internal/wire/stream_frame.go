package wire

// StreamFrame carries bytes of a stream at an offset, as QUIC's STREAM:
//
//	type 0x10|OFF|LEN|FIN | stream ID | [offset] | [length] | data
//
// OFF (0x04): the offset is present (else 0). LEN (0x02): the length is
// present (else the data runs to the end of the packet, which saves the
// field in the last frame of a full packet). FIN (0x01): the stream ends
// after this data; its final size is Offset+len(Data).
type StreamFrame struct {
	ID     uint64
	Offset uint64
	Data   []byte
	Fin    bool
}

// MaxStreamOffset bounds a stream's length, as in QUIC: offsets are
// varints.
const MaxStreamOffset = MaxVarint

// StreamHeaderLen returns the bytes a STREAM frame spends before its data.
func StreamHeaderLen(id, offset uint64, n int, withLen bool) int {
	l := 1 + VarintLen(id)
	if offset > 0 {
		l += VarintLen(offset)
	}
	if withLen {
		l += VarintLen(uint64(n))
	}
	return l
}

// AppendStream appends a STREAM frame. Without withLen the frame must be
// the last in its packet.
func AppendStream(b []byte, id, offset uint64, data []byte, fin, withLen bool) []byte {
	return append(AppendStreamHeader(b, id, offset, len(data), fin, withLen), data...)
}

// AppendStreamHeader appends a STREAM frame's header for n bytes of data,
// which the caller appends next.
func AppendStreamHeader(b []byte, id, offset uint64, n int, fin, withLen bool) []byte {
	t := byte(FrameStream)
	if fin {
		t |= streamFlagFin
	}
	if withLen {
		t |= streamFlagLen
	}
	if offset > 0 {
		t |= streamFlagOff
	}
	b = AppendVarint(append(b, t), id)
	if offset > 0 {
		b = AppendVarint(b, offset)
	}
	if withLen {
		b = AppendVarint(b, uint64(n))
	}
	return b
}

func parseStream(r *reader, flags byte, f *StreamFrame) {
	f.ID = r.varint()
	f.Offset = 0
	if flags&streamFlagOff != 0 {
		f.Offset = r.varint()
	}
	n := uint64(len(r.b) - r.n)
	if flags&streamFlagLen != 0 {
		n = r.varint()
	}
	f.Data = r.bytes(n)
	f.Fin = flags&streamFlagFin != 0
	if f.Offset > MaxStreamOffset-uint64(len(f.Data)) {
		r.bad = true
	}
}

// ResetFrame is RESET_STREAM (the sender abandons a stream: ID, Code,
// FinalSize) or STOP_SENDING (the receiver asks the sender to stop: ID,
// Code).
//
//	RESET_STREAM: type | stream ID | code | final size
//	STOP_SENDING: type | stream ID | code
type ResetFrame struct {
	ID        uint64
	Code      uint64
	FinalSize uint64
}

// AppendResetStream appends a RESET_STREAM frame.
func AppendResetStream(b []byte, id, code, finalSize uint64) []byte {
	b = AppendVarint(AppendVarint(append(b, byte(FrameResetStream)), id), code)
	return AppendVarint(b, finalSize)
}

// AppendStopSending appends a STOP_SENDING frame.
func AppendStopSending(b []byte, id, code uint64) []byte {
	return AppendVarint(AppendVarint(append(b, byte(FrameStopSending)), id), code)
}

func parseReset(r *reader, t FrameType, f *ResetFrame) {
	f.ID, f.Code, f.FinalSize = r.varint(), r.varint(), 0
	if t == FrameResetStream {
		f.FinalSize = r.varint()
	}
}
