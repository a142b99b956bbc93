package relay

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// hexb decodes hex, ignoring spaces.
func hexb(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestPacketLayouts(t *testing.T) {
	k := PublicKey(hexb(testPublicHex))
	kh := testPublicHex
	for _, tc := range []struct {
		p    Packet
		wire string
	}{
		{Packet{Type: TypeRouteRequest, Key: k}, "00" + kh},
		{Packet{Type: TypeRouteResponse, ConnID: 16, Key: k}, "01 10" + kh},
		{Packet{Type: TypeRouteResponse, ConnID: 0, Key: k}, "01 00" + kh},
		{Packet{Type: TypeConnectNotification, ConnID: 255}, "02 ff"},
		{Packet{Type: TypeDisconnectNotification, ConnID: 16}, "03 10"},
		{Packet{Type: TypePingRequest, PingID: PingID{1, 2, 3, 4, 5, 6, 7, 8}}, "04 0102030405060708"},
		{Packet{Type: TypePongResponse, PingID: PingID{0, 0, 0, 0, 0, 0, 0, 1}}, "05 0000000000000001"},
		{Packet{Type: TypePingRequest}, "04 0000000000000000"}, // c-toxcore answers it; our sides never send it
		{Packet{Type: TypeOOBSend, Key: k, Payload: []byte("hi")}, "06" + kh + "6869"},
		{Packet{Type: TypeOOBReceive, Key: k, Payload: []byte{0}}, "07" + kh + "00"},
		{Packet{Type: TypeOnionRequest, Payload: bytes.Repeat([]byte{9}, 159)}, "08" + strings.Repeat("09", 159)},
		{Packet{Type: TypeOnionResponse, Payload: []byte{1}}, "09 01"},
		{Packet{Type: TypeForwardRequest, Payload: []byte{1, 2}}, "0a 0102"},
		{Packet{Type: TypeForwarding, Payload: []byte{3}}, "0b 03"},
		{Packet{Type: TypeData, ConnID: 16, Payload: []byte{0}}, "10 00"},
		{Packet{Type: TypeData, ConnID: 255, Payload: []byte("abc")}, "ff 616263"},
	} {
		want := hexb(tc.wire)
		got, err := tc.p.Append(nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: Append = %x, %v; want %x", tc.p.Type, got, err, want)
		}
		if n := tc.p.Len(); n != len(want) {
			t.Errorf("%s: Len = %d, want %d", tc.p.Type, n, len(want))
		}
		p, err := ParsePacket(want)
		if err != nil {
			t.Errorf("%s: ParsePacket: %v", tc.p.Type, err)
			continue
		}
		if !reflect.DeepEqual(p, tc.p) {
			t.Errorf("%s: ParsePacket = %+v, want %+v", tc.p.Type, p, tc.p)
		}
	}
}

func TestPacketSizeRules(t *testing.T) {
	kh := testPublicHex
	for _, tc := range []struct {
		name, wire string
		wantErr    string // a word the error must contain
	}{
		{"empty", "", "at least one byte"},
		{"route request short", "00" + kh[:62], "33"},
		{"route request long", "00" + kh + "00", "33"},
		{"route response short", "01 10" + kh[:62], "34"},
		{"route response id 5", "01 05" + kh, "neither 0"},
		{"connect long", "02 10 00", "exactly 2"},
		{"connect id 15", "02 0f", "below 16"},
		{"disconnect short", "03", "exactly 2"},
		{"disconnect id 0", "03 00", "below 16"},
		{"ping short", "04 01020304050607", "exactly 9"},
		{"pong long", "05 010203040506070809", "exactly 9"},
		{"OOB send no data", "06" + kh, "1 to 1024"},
		{"OOB send 1025", "06" + kh + strings.Repeat("00", 1025), "1 to 1024"},
		{"OOB receive no data", "07" + kh, "1 to 1024"},
		{"OOB send short key", "06 0102", "1 to 1024"},
		{"onion request 159", "08" + strings.Repeat("00", 158), "more than 159"},
		{"onion response empty", "09", "more than 1"},
		{"forward request empty", "0a", "more than 1"},
		{"forwarding empty", "0b", "more than 1"},
		{"reserved 12", "0c 00", "reserved"},
		{"reserved 15", "0f", "reserved"},
		{"empty data", "10", "empty"},
		{"data too long", "10" + strings.Repeat("00", MaxPlaintext), "more than a frame"},
	} {
		_, err := ParsePacket(hexb(tc.wire))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: ParsePacket error %v, want one about %q", tc.name, err, tc.wantErr)
		}
	}
	// The limits themselves are fine.
	for _, wire := range []string{
		"06" + kh + strings.Repeat("00", 1024),
		"10" + strings.Repeat("00", MaxData),
	} {
		if _, err := ParsePacket(hexb(wire)); err != nil {
			t.Errorf("%.10s… (%d bytes): %v", wire, len(wire)/2, err)
		}
	}
	// Append refuses what ParsePacket refuses, and leaves dst as it was.
	for _, p := range []Packet{
		{Type: TypeOOBSend},
		{Type: TypeOOBSend, Payload: make([]byte, MaxOOB+1)},
		{Type: TypeData, ConnID: 15, Payload: []byte{1}},
		{Type: TypeData, ConnID: 16},
		{Type: TypeData, ConnID: 16, Payload: make([]byte, MaxData+1)},
		{Type: TypeRouteResponse, ConnID: 3},
		{Type: TypeConnectNotification, ConnID: 0},
		{Type: 12},
	} {
		dst := []byte("keep")
		got, err := p.Append(dst)
		if err == nil || string(got) != "keep" {
			t.Errorf("Append(%+v) = %q, %v; want an error and dst untouched", p, got, err)
		}
	}
}

// packet joins a type byte and parts into a plaintext packet.
func packet(t Type, parts ...[]byte) []byte {
	return append([]byte{byte(t)}, bytes.Join(parts, nil)...)
}
