package wire

import (
	"errors"
	"fmt"
)

// FrameType is the first byte of a frame.
type FrameType uint8

// The frame types; the layouts are drawn in doc.go and in each frame's
// file. A packet with an unknown type is dropped whole: its frames cannot
// be told apart after the unknown one.
const (
	FramePadding        FrameType = 0x00
	FramePing           FrameType = 0x01
	FrameAck            FrameType = 0x02
	FrameRequest        FrameType = 0x03 // explicit request for missing packets
	FrameResetStream    FrameType = 0x04
	FrameStopSending    FrameType = 0x05
	FrameMaxData        FrameType = 0x06
	FrameMaxStreamData  FrameType = 0x07
	FrameMaxStreams     FrameType = 0x08
	FrameFECReport      FrameType = 0x09 // how many packets the receiver rebuilt
	FrameClose          FrameType = 0x0a
	FrameMessage        FrameType = 0x0b
	FrameAbandon        FrameType = 0x0c
	FrameMaxMessageData FrameType = 0x0d
	FrameFECData        FrameType = 0x0e // the packet's place in a FEC group
	FrameFECParity      FrameType = 0x0f // a parity shard of a FEC group
	FrameStream         FrameType = 0x10 // to 0x17: the low three bits are flags
)

// The STREAM frame's flag bits, as QUIC's.
const (
	streamFlagFin = 0x01 // the frame ends the stream
	streamFlagLen = 0x02 // a length field is present; otherwise the frame fills the packet
	streamFlagOff = 0x04 // an offset field is present; otherwise it is 0
)

func (t FrameType) String() string {
	switch {
	case t == FramePadding:
		return "PADDING"
	case t == FramePing:
		return "PING"
	case t == FrameAck:
		return "ACK"
	case t == FrameRequest:
		return "REQUEST"
	case t == FrameResetStream:
		return "RESET_STREAM"
	case t == FrameStopSending:
		return "STOP_SENDING"
	case t == FrameMaxData:
		return "MAX_DATA"
	case t == FrameMaxStreamData:
		return "MAX_STREAM_DATA"
	case t == FrameMaxStreams:
		return "MAX_STREAMS"
	case t == FrameClose:
		return "CLOSE"
	case t == FrameMessage:
		return "MESSAGE"
	case t == FrameAbandon:
		return "ABANDON"
	case t == FrameMaxMessageData:
		return "MAX_MESSAGE_DATA"
	case t == FrameFECReport:
		return "FEC_REPORT"
	case t == FrameFECData:
		return "FEC_DATA"
	case t == FrameFECParity:
		return "FEC_PARITY"
	case t&^7 == FrameStream:
		return "STREAM"
	}
	return fmt.Sprintf("FrameType(%#x)", uint8(t))
}

// AckEliciting reports whether a packet holding a frame of type t must be
// acknowledged: all but ACK, PADDING and CLOSE (a closing peer does not
// wait for acks, RFC 9000 section 13.2.1), FEC_DATA (the packet's other
// frames decide) and FEC_REPORT (superseded by the next). FEC_PARITY is:
// parity is never resent, but it is in flight, and the sender must learn
// its fate for congestion control and the loss rate.
func (t FrameType) AckEliciting() bool {
	switch t {
	case FrameAck, FramePadding, FrameClose, FrameFECData, FrameFECReport:
		return false
	}
	return true
}

// Frame is one parsed frame: Type says which of the other fields is set.
// Byte slices alias the packet, so they are valid only while it is.
type Frame struct {
	Type    FrameType
	Ack     AckFrame     // FrameAck, FrameRequest (Ranges only)
	Stream  StreamFrame  // FrameStream
	Reset   ResetFrame   // FrameResetStream, FrameStopSending (no FinalSize)
	Max     MaxFrame     // FrameMaxData, FrameMaxStreamData, FrameMaxStreams, FrameMaxMessageData
	Message MessageFrame // FrameMessage, FrameAbandon (no Data)
	Close   CloseFrame   // FrameClose
	FEC     FECFrame     // FrameFECData, FrameFECParity, FrameFECReport
}

// ErrFrame is returned for a frame that is truncated, malformed or of an
// unknown type.
var ErrFrame = errors.New("wire: malformed frame")

// ParseFrame parses the frame at the start of b into f and returns its
// length. f.Ack.Ranges keeps its backing array between calls, so a reused
// Frame parses without allocating.
func ParseFrame(b []byte, f *Frame) (int, error) {
	if len(b) == 0 {
		return 0, ErrFrame
	}
	t := FrameType(b[0])
	f.Type = t
	r := reader{b: b, n: 1}
	switch {
	case t == FramePadding:
		for r.n < len(b) && b[r.n] == 0 {
			r.n++
		}
		return r.n, nil
	case t == FramePing:
		return 1, nil
	case t == FrameAck:
		parseAck(&r, &f.Ack, true)
	case t == FrameRequest:
		parseAck(&r, &f.Ack, false)
	case t == FrameResetStream, t == FrameStopSending:
		parseReset(&r, t, &f.Reset)
	case t == FrameMaxData, t == FrameMaxStreams, t == FrameMaxMessageData:
		f.Max = MaxFrame{Value: r.varint()}
	case t == FrameMaxStreamData:
		f.Max = MaxFrame{ID: r.varint(), Value: r.varint()}
	case t == FrameClose:
		parseClose(&r, &f.Close)
	case t == FrameMessage, t == FrameAbandon:
		parseMessage(&r, t, &f.Message)
	case t == FrameFECData, t == FrameFECParity, t == FrameFECReport:
		parseFEC(&r, t, &f.FEC)
	case t&^7 == FrameStream:
		f.Type = FrameStream
		parseStream(&r, byte(t)&7, &f.Stream)
	default:
		return 0, ErrFrame
	}
	if r.bad {
		return 0, ErrFrame
	}
	return r.n, nil
}

// Sent records one frame of a sent packet, so that its owner can act on
// its fate: retransmit what was lost, free what was acknowledged. Only the
// fields a type needs are set.
type Sent struct {
	Type   FrameType
	ID     uint64 // stream ID or message ID
	Offset uint64 // stream offset; fragment offset in a message; largest acknowledged in an ACK
	Length uint64 // data length
	Fin    bool   // the stream frame ended the stream
}

// AppendPing appends a PING frame, which only asks to be acknowledged.
func AppendPing(b []byte) []byte { return append(b, byte(FramePing)) }

// MaxFrame is MAX_DATA, MAX_STREAMS, MAX_MESSAGE_DATA (Value) or
// MAX_STREAM_DATA (ID and Value): a receiver raising a flow-control limit.
//
//	MAX_DATA / MAX_STREAMS / MAX_MESSAGE_DATA: type | value
//	MAX_STREAM_DATA:                            type | stream ID | value
type MaxFrame struct {
	ID    uint64
	Value uint64
}

// AppendMax appends a MAX_DATA, MAX_STREAMS or MAX_MESSAGE_DATA frame.
func AppendMax(b []byte, t FrameType, value uint64) []byte {
	return AppendVarint(append(b, byte(t)), value)
}

// AppendMaxStreamData appends a MAX_STREAM_DATA frame.
func AppendMaxStreamData(b []byte, id, value uint64) []byte {
	return AppendVarint(AppendVarint(append(b, byte(FrameMaxStreamData)), id), value)
}
