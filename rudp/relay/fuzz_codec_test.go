package relay

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// FuzzParsePacket: ParsePacket never panics, and whatever it accepts
// encodes back to the same bytes (one encoding per packet).
func FuzzParsePacket(f *testing.F) {
	k := hexb(testPublicHex)
	for _, s := range [][]byte{
		packet(TypeRouteRequest, k), packet(TypeRouteResponse, []byte{16}, k),
		packet(TypeConnectNotification, []byte{16}), packet(TypeDisconnectNotification, []byte{255}),
		packet(TypePingRequest, make([]byte, 8)), packet(TypePongResponse, []byte{1, 2, 3, 4, 5, 6, 7, 8}),
		packet(TypeOOBSend, k, []byte("x")), packet(TypeOOBReceive, k, make([]byte, 1024)),
		packet(TypeOnionRequest, make([]byte, 200)), packet(TypeOnionResponse, []byte{1}),
		packet(TypeForwardRequest, []byte{1}), packet(TypeForwarding, []byte{1}),
		packet(12), {16, 1}, append([]byte{255}, make([]byte, MaxData)...), {},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			if len(b) > 0 && p.Type != Type(b[0]) && !(b[0] >= 16 && p.Type == TypeData) {
				t.Fatalf("error %v, and type %v not taken from the first byte %d", err, p.Type, b[0])
			}
			return
		}
		out, err := p.Append(nil)
		if err != nil {
			t.Fatalf("parsed %x as %+v, which does not encode: %v", b, p, err)
		}
		if !bytes.Equal(out, b) || p.Len() != len(b) {
			t.Fatalf("parsed %x, encoded back as %x (Len %d)", b, out, p.Len())
		}
	})
}

// FuzzHandshake feeds arbitrary bytes to both handshake parsers and to
// frame reading and opening: no panic, and nothing opens that was not
// sealed with the key.
func FuzzHandshake(f *testing.F) {
	client, server := fixedKey(f, 1), fixedKey(f, 2)
	// A deterministic rand, so that the seeds are the same in the fuzz
	// workers, which run this setup again.
	h, hello, err := NewClientHandshake(client, server.Public, &counterReader{})
	if err != nil {
		f.Fatal(err)
	}
	_, reply, ss, err := AcceptClientHello(server, hello, &counterReader{next: 100})
	if err != nil {
		f.Fatal(err)
	}
	frame, _ := ss.SealFrame(nil, []byte{4, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(hello)
	f.Add(reply)
	f.Add(frame)
	f.Add(append(bytes.Clone(hello[:127]), hello[127]^1))
	f.Add([]byte{0x00, 0x11, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, _, err := AcceptClientHello(server, b, rand.Reader); err == nil && !bytes.Equal(b, hello) {
			// Only a client holding a secret key can make a hello that
			// opens; the fuzzer can reach one only by copying the seed's
			// key and box, which it can: accept that one. X25519 ignores
			// the top bit of a public key (RFC 7748, section 5), so the
			// seed's key with that bit set is the same key: the fuzzer
			// found it (testdata/fuzz/FuzzHandshake/eef28a97c45f1c2a).
			// Its owner gains nothing by it that a new key pair would not
			// give.
			if !bytes.Equal(b[:31], hello[:31]) || b[31]&0x7f != hello[31]&0x7f {
				t.Fatalf("hello %x opened", b)
			}
		}
		if _, err := h.Finish(b); err == nil && !bytes.Equal(b, reply) {
			t.Fatalf("reply %x opened", b)
		}
		var s Session // all-zero key: the fuzzer may find its frames, fine
		var buf [MaxCiphertext]byte
		if ct, err := ReadFrame(bytes.NewReader(b), buf[:]); err == nil {
			if len(ct) < minCiphertext || len(ct) > MaxCiphertext {
				t.Fatalf("ReadFrame returned %d bytes", len(ct))
			}
			s.OpenFrame(nil, ct)
		}
		s2 := *ss
		s2.OpenFrame(nil, b)
	})
}
