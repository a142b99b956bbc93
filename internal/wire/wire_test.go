package wire

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// RFC 9000 appendix A.1 gives these encodings.
func TestVarintKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		hex  string
		v    uint64
		want int // canonical length; the 2-byte 0x4025 is a non-minimal 37
	}{
		{"c2197c5eff14e88c", 151288809941952652, 8},
		{"9d7f3e7d", 494878333, 4},
		{"7bbd", 15293, 2},
		{"25", 37, 1},
		{"4025", 37, 1},
	} {
		b, _ := hex.DecodeString(c.hex)
		v, n := ConsumeVarint(b)
		if v != c.v || n != len(b) {
			t.Errorf("ConsumeVarint(%s) = %d, %d; want %d, %d", c.hex, v, n, c.v, len(b))
		}
		if got := AppendVarint(nil, c.v); len(got) != c.want || VarintLen(c.v) != c.want {
			t.Errorf("AppendVarint(%d) = %x", c.v, got)
		}
	}
	for _, v := range []uint64{0, 63, 64, 16383, 16384, 1<<30 - 1, 1 << 30, MaxVarint} {
		b := AppendVarint(nil, v)
		if got, n := ConsumeVarint(b); got != v || n != len(b) {
			t.Errorf("round trip of %d: %d, %d", v, got, n)
		}
		if _, n := ConsumeVarint(b[:len(b)-1]); n >= 0 {
			t.Errorf("truncated varint of %d parsed", v)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("AppendVarint accepted a value above MaxVarint")
		}
	}()
	AppendVarint(nil, MaxVarint+1)
}

func TestHeader(t *testing.T) {
	h := Header{KeyPhase: 3, ConnID: 0x0102030405060708, PN: 0x1122334455667788}
	b := AppendHeader(nil, h)
	if hex.EncodeToString(b) != "80030102030405060708"+"1122334455667788" {
		t.Fatalf("header bytes %x", b)
	}
	got, err := ParseHeader(append(b, 0xff))
	if err != nil || got != h {
		t.Fatalf("ParseHeader = %+v, %v", got, err)
	}
	if id, ok := ConnID(b); !ok || id != h.ConnID {
		t.Fatal("ConnID")
	}
	for _, bad := range [][]byte{nil, b[:HeaderLen-1], append([]byte{1}, b[1:]...)} {
		if _, err := ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(%x) accepted", bad)
		}
		if _, ok := ConnID(bad); ok {
			t.Errorf("ConnID(%x) accepted", bad)
		}
	}
}

// frameCases are one of each frame, with the bytes QUIC's layout gives.
var frameCases = []struct {
	name  string
	bytes []byte
	want  Frame
}{
	{"ping", AppendPing(nil), Frame{Type: FramePing}},
	{"ack one range", AppendAck(nil, []AckRange{{5, 9}}, 1500*time.Microsecond),
		Frame{Type: FrameAck, Ack: AckFrame{Ranges: []AckRange{{5, 9}}, Delay: 1500 * time.Microsecond}}},
	{"ack three ranges", AppendAck(nil, []AckRange{{90, 100}, {50, 60}, {0, 0}}, 0),
		Frame{Type: FrameAck, Ack: AckFrame{Ranges: []AckRange{{90, 100}, {50, 60}, {0, 0}}}}},
	{"request", AppendRequest(nil, []AckRange{{7, 7}, {3, 4}}),
		Frame{Type: FrameRequest, Ack: AckFrame{Ranges: []AckRange{{7, 7}, {3, 4}}}}},
	{"stream at 0", AppendStream(nil, 4, 0, []byte("hi"), false, true),
		Frame{Type: FrameStream, Stream: StreamFrame{ID: 4, Data: []byte("hi")}}},
	{"stream fin no len", AppendStream(nil, 5, 1000, []byte("end"), true, false),
		Frame{Type: FrameStream, Stream: StreamFrame{ID: 5, Offset: 1000, Data: []byte("end"), Fin: true}}},
	{"stream empty fin", AppendStream(nil, 5, 7, nil, true, true),
		Frame{Type: FrameStream, Stream: StreamFrame{ID: 5, Offset: 7, Data: []byte{}, Fin: true}}},
	{"reset", AppendResetStream(nil, 8, 42, 12345),
		Frame{Type: FrameResetStream, Reset: ResetFrame{ID: 8, Code: 42, FinalSize: 12345}}},
	{"stop sending", AppendStopSending(nil, 8, 1), Frame{Type: FrameStopSending, Reset: ResetFrame{ID: 8, Code: 1}}},
	{"max data", AppendMax(nil, FrameMaxData, 1<<40), Frame{Type: FrameMaxData, Max: MaxFrame{Value: 1 << 40}}},
	{"max streams", AppendMax(nil, FrameMaxStreams, 100), Frame{Type: FrameMaxStreams, Max: MaxFrame{Value: 100}}},
	{"max message data", AppendMax(nil, FrameMaxMessageData, 9), Frame{Type: FrameMaxMessageData, Max: MaxFrame{Value: 9}}},
	{"max stream data", AppendMaxStreamData(nil, 3, 70000), Frame{Type: FrameMaxStreamData, Max: MaxFrame{ID: 3, Value: 70000}}},
	{"close", AppendClose(nil, 7, "bye"), Frame{Type: FrameClose, Close: CloseFrame{Code: 7, Reason: []byte("bye")}}},
	{"message", AppendMessage(nil, 11, 5000, 3000, 1200, []byte("frag")),
		Frame{Type: FrameMessage, Message: MessageFrame{ID: 11, Start: 5000, Total: 3000, Offset: 1200, Data: []byte("frag")}}},
	{"abandon", AppendAbandon(nil, 11, 5000, 3000), Frame{Type: FrameAbandon, Message: MessageFrame{ID: 11, Start: 5000, Total: 3000}}},
	{"fec data", AppendFECData(nil, 70000, 9), Frame{Type: FrameFECData, FEC: FECFrame{Group: 70000, Index: 9}}},
	{"fec parity", AppendFECParity(nil, 3, 10, 4, 2, []byte("shard")),
		Frame{Type: FrameFECParity, FEC: FECFrame{Group: 3, K: 10, M: 4, Index: 2, Shard: []byte("shard")}}},
	{"fec report", AppendFECReport(nil, 1234), Frame{Type: FrameFECReport, FEC: FECFrame{Recovered: 1234}}},
}

// fillsPacket reports whether a frame's bytes b run to the end of the
// packet (a STREAM frame without length, FEC_PARITY): any longer prefix
// of it is a frame too.
func fillsPacket(b []byte) bool {
	return (b[0]&^7 == byte(FrameStream) && b[0]&streamFlagLen == 0) || b[0] == byte(FrameFECParity)
}

func TestFrames(t *testing.T) {
	for _, c := range frameCases {
		var f Frame // a reused Frame keeps the fields of other types
		n, err := ParseFrame(c.bytes, &f)
		if err != nil || n != len(c.bytes) {
			t.Errorf("%s: ParseFrame(%x) = %d, %v", c.name, c.bytes, n, err)
			continue
		}
		if !reflect.DeepEqual(normal(f), normal(c.want)) {
			t.Errorf("%s: parsed %+v, want %+v", c.name, f, c.want)
		}
		// Every proper prefix is refused, except where a shorter frame is
		// a valid frame in its own right (frames that fill the packet).
		for i := 1; i < len(c.bytes); i++ {
			if fillsPacket(c.bytes) {
				break
			}
			if _, err := ParseFrame(c.bytes[:i], &f); err == nil {
				t.Errorf("%s: %d-byte prefix parsed", c.name, i)
			}
		}
	}
	// Known bytes for the two most used frames: largest 100 (0x4064),
	// delay 25000 µs (4-byte varint), one more range, first range 10, gap
	// 90-60-2 = 28, range 10.
	ack := AppendAck(nil, []AckRange{{90, 100}, {50, 60}}, 25*time.Millisecond)
	if want := "02" + "4064" + "800061a8" + "01" + "0a" + "1c" + "0a"; hex.EncodeToString(ack) != want {
		t.Errorf("ACK bytes %x, want %s", ack, want)
	}
	if got := hex.EncodeToString(AppendStream(nil, 4, 0x123, []byte{0xaa}, true, true)); got != "17"+"04"+"4123"+"01"+"aa" {
		t.Errorf("STREAM bytes %s", got)
	}
}

// normal makes nil and empty slices compare equal.
func normal(f Frame) Frame {
	if len(f.Stream.Data) == 0 {
		f.Stream.Data = nil
	}
	if len(f.Ack.Ranges) == 0 {
		f.Ack.Ranges = nil
	}
	if len(f.Message.Data) == 0 {
		f.Message.Data = nil
	}
	if len(f.Close.Reason) == 0 {
		f.Close.Reason = nil
	}
	if len(f.FEC.Shard) == 0 {
		f.FEC.Shard = nil
	}
	return f
}

func TestMalformedFrames(t *testing.T) {
	var f Frame
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown type", []byte{0x18}},
		{"fec data truncated", []byte{0x0e, 1}},
		{"fec parity truncated", []byte{0x0f, 1, 10, 3}},
		{"unknown type 0x20", []byte{0x20, 0}},
		{"ack first range below zero", []byte{0x02, 5, 0, 0, 6}},
		{"ack gap below zero", []byte{0x02, 10, 0, 1, 2, 8, 0}},
		{"ack range below zero", []byte{0x02, 10, 0, 1, 2, 0, 7}},
		{"ack too many ranges", append([]byte{0x02, 0x80, 0, 0x10, 0, 0, 0x41, 0x00, 0}, make([]byte, 600)...)},
		{"stream longer than packet", []byte{0x12, 1, 5, 'a'}},
		{"stream past max offset", append(append([]byte{0x16, 1}, AppendVarint(nil, MaxVarint)...), 1, 'a')},
		{"message fragment past total", AppendMessage(nil, 1, 0, 2, 1, []byte("ab"))},
		{"message too large", AppendMessage(nil, 1, 0, MaxMessageSize+1, 0, nil)},
		{"message start overflows", AppendMessage(nil, 1, MaxVarint, 10, 0, nil)},
		{"close reason too long", append([]byte{0x0a, 0, 0x41, 0x01}, make([]byte, 257)...)},
		{"close reason truncated", []byte{0x0a, 0, 5, 'a'}},
	} {
		if n, err := ParseFrame(c.b, &f); err == nil {
			t.Errorf("%s: parsed %d bytes as %v", c.name, n, f.Type)
		}
	}
	// Padding runs to the first non-zero byte.
	if n, err := ParseFrame([]byte{0, 0, 0, 1}, &f); err != nil || n != 3 || f.Type != FramePadding {
		t.Errorf("padding: %d, %v", n, err)
	}
}

func TestAckLen(t *testing.T) {
	for _, c := range frameCases {
		if c.want.Type == FrameAck {
			if n := AckLen(c.want.Ack.Ranges, c.want.Ack.Delay); n != len(c.bytes) {
				t.Errorf("%s: AckLen %d, frame is %d bytes", c.name, n, len(c.bytes))
			}
		}
	}
	if n := StreamHeaderLen(4, 0x123, 1, true); n != len(AppendStream(nil, 4, 0x123, []byte{1}, false, true))-1 {
		t.Errorf("StreamHeaderLen %d", n)
	}
	if n := MessageHeaderLen(11, 5000, 3000, 1200, 4); n != len(AppendMessage(nil, 11, 5000, 3000, 1200, []byte("frag")))-4 {
		t.Errorf("MessageHeaderLen %d", n)
	}
}

func TestParseAllocations(t *testing.T) {
	var pkt []byte
	for _, c := range frameCases {
		if fillsPacket(c.bytes) {
			continue // must be last
		}
		pkt = append(pkt, c.bytes...)
	}
	var f Frame
	f.Ack.Ranges = make([]AckRange, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		for b := pkt; len(b) > 0; {
			n, err := ParseFrame(b, &f)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet parse, want 0", allocs)
	}
}

// FuzzParseFrame: whatever parses re-encodes to a frame that parses to the
// same value (encodings may be shorter: varints are written minimally).
func FuzzParseFrame(f *testing.F) {
	for _, c := range frameCases {
		f.Add(c.bytes)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		n, err := ParseFrame(b, &fr)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("ParseFrame returned length %d for %d bytes", n, len(b))
		}
		again := appendFrame(nil, &fr)
		if again == nil {
			return // padding
		}
		var fr2 Frame
		if m, err := ParseFrame(again, &fr2); err != nil || m != len(again) || !reflect.DeepEqual(normal(fr), normal(fr2)) {
			t.Fatalf("%x parsed as %+v, re-encoded %x, reparsed %+v, %v", b[:n], fr, again, fr2, err)
		}
	})
}

func appendFrame(b []byte, f *Frame) []byte {
	switch f.Type {
	case FramePing:
		return AppendPing(b)
	case FrameAck:
		return AppendAck(b, f.Ack.Ranges, f.Ack.Delay)
	case FrameRequest:
		return AppendRequest(b, f.Ack.Ranges)
	case FrameStream:
		return AppendStream(b, f.Stream.ID, f.Stream.Offset, f.Stream.Data, f.Stream.Fin, true)
	case FrameResetStream:
		return AppendResetStream(b, f.Reset.ID, f.Reset.Code, f.Reset.FinalSize)
	case FrameStopSending:
		return AppendStopSending(b, f.Reset.ID, f.Reset.Code)
	case FrameMaxData, FrameMaxStreams, FrameMaxMessageData:
		return AppendMax(b, f.Type, f.Max.Value)
	case FrameMaxStreamData:
		return AppendMaxStreamData(b, f.Max.ID, f.Max.Value)
	case FrameClose:
		return AppendClose(b, f.Close.Code, string(f.Close.Reason))
	case FrameMessage:
		return AppendMessage(b, f.Message.ID, f.Message.Start, f.Message.Total, f.Message.Offset, f.Message.Data)
	case FrameAbandon:
		return AppendAbandon(b, f.Message.ID, f.Message.Start, f.Message.Total)
	case FrameFECData:
		return AppendFECData(b, f.FEC.Group, f.FEC.Index)
	case FrameFECParity:
		return AppendFECParity(b, f.FEC.Group, f.FEC.K, f.FEC.M, f.FEC.Index, f.FEC.Shard)
	case FrameFECReport:
		return AppendFECReport(b, f.FEC.Recovered)
	}
	return nil
}

func FuzzParseHeader(f *testing.F) {
	f.Add(AppendHeader(nil, Header{KeyPhase: 1, ConnID: 2, PN: 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendHeader(nil, h), b[:HeaderLen]) {
			t.Fatal("header does not round-trip")
		}
	})
}
