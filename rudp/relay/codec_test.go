package relay

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/nacl/box"
)

// testKey is research/tox.md's fixed key: secret 32×0x01, whose public key
// libsodium and Go agree on.
const testPublicHex = "A4E09292B651C278B9772C569F5FA9BB13D906B46AB68C9DF9DC2B4409F8A209"

func fixedKey(t testing.TB, b byte) KeyPair {
	t.Helper()
	kp, err := KeyPairFromSecret(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func TestKeyPairFromSecret(t *testing.T) {
	kp := fixedKey(t, 1)
	if got := kp.Public.String(); got != testPublicHex {
		t.Fatalf("public key of 32×0x01 = %s, want %s", got, testPublicHex)
	}
	for _, s := range []string{testPublicHex, strings.ToLower(testPublicHex), " " + testPublicHex + "\n"} {
		k, err := ParsePublicKey(s)
		if err != nil || k != kp.Public {
			t.Errorf("ParsePublicKey(%q) = %v, %v", s, k, err)
		}
	}
	for _, s := range []string{"", testPublicHex[:62], testPublicHex + "00", "Z" + testPublicHex[1:]} {
		if _, err := ParsePublicKey(s); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", s)
		}
	}
	if _, err := KeyPairFromSecret(make([]byte, 31)); err == nil {
		t.Error("31-byte secret accepted")
	}
}

func TestNonceIncrement(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"000000000000000000000000000000000000000000000000", "000000000000000000000000000000000000000000000001"},
		{"0000000000000000000000000000000000000000000000ff", "000000000000000000000000000000000000000000000100"},
		{"00000000000000000000000000000000000000000000ffff", "000000000000000000000000000000000000000000010000"},
		{"01ffffffffffffffffffffffffffffffffffffffffffffff", "020000000000000000000000000000000000000000000000"},
		{"ffffffffffffffffffffffffffffffffffffffffffffffff", "000000000000000000000000000000000000000000000000"},
	} {
		var n Nonce
		hex.Decode(n[:], []byte(tc.in))
		n.increment()
		if got := hex.EncodeToString(n[:]); got != tc.want {
			t.Errorf("%s + 1 = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// counterReader is a deterministic rand: bytes 0, 1, 2, ... from start.
type counterReader struct{ next byte }

func (r *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

// TestHandshakeLayout builds both handshake messages with a deterministic
// rand and checks every field with nacl/box directly, as a peer written
// from the specification would.
func TestHandshakeLayout(t *testing.T) {
	client, server := fixedKey(t, 1), fixedKey(t, 2)
	h, hello, err := NewClientHandshake(client, server.Public, &counterReader{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hello) != 128 {
		t.Fatalf("client hello is %d bytes", len(hello))
	}
	if !bytes.Equal(hello[:32], client.Public[:]) {
		t.Error("hello does not start with the client's public key")
	}
	// counterReader gives the temporary secret (0..31), base nonce
	// (32..55), then the message nonce (56..79).
	seq := func(from, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(from + i)
		}
		return b
	}
	if !bytes.Equal(hello[32:56], seq(56, 24)) {
		t.Errorf("hello nonce %x, want the third draw", hello[32:56])
	}
	var ltC, ltS [32]byte
	box.Precompute(&ltC, (*[32]byte)(&server.Public), &client.Secret)
	box.Precompute(&ltS, (*[32]byte)(&client.Public), &server.Secret)
	if ltC != ltS {
		t.Fatal("beforenm differs between the two sides")
	}
	plain, ok := box.OpenAfterPrecomputation(nil, hello[56:], (*[24]byte)(hello[32:56]), &ltC)
	if !ok {
		t.Fatal("hello box does not open with box.Precompute's key")
	}
	temp, _ := KeyPairFromSecret(seq(0, 32))
	if !bytes.Equal(plain[:32], temp.Public[:]) || !bytes.Equal(plain[32:], seq(32, 24)) {
		t.Errorf("hello plaintext %x, want temp pk ‖ base nonce", plain)
	}

	gotKey, reply, ss, err := AcceptClientHello(server, hello, &counterReader{next: 100})
	if err != nil {
		t.Fatal(err)
	}
	if gotKey != client.Public || len(reply) != 96 {
		t.Fatalf("accept: key %v, reply %d bytes", gotKey, len(reply))
	}
	if !bytes.Equal(reply[:24], seq(100+56, 24)) {
		t.Errorf("reply nonce %x", reply[:24])
	}
	splain, ok := box.OpenAfterPrecomputation(nil, reply[24:], (*[24]byte)(reply[:24]), &ltC)
	if !ok {
		t.Fatal("reply box does not open")
	}
	stemp, _ := KeyPairFromSecret(seq(100, 32))
	if !bytes.Equal(splain[:32], stemp.Public[:]) || !bytes.Equal(splain[32:], seq(132, 24)) {
		t.Errorf("reply plaintext %x", splain)
	}
	cs, err := h.Finish(reply)
	if err != nil {
		t.Fatal(err)
	}

	// Session: K_s = beforenm(peer temp, own temp); the client seals with
	// its own base nonce (32..55), the server with its own (132..155).
	var ks [32]byte
	box.Precompute(&ks, (*[32]byte)(&stemp.Public), (*[32]byte)(seq(0, 32)))
	frame, err := cs.SealFrame(nil, []byte{4, 1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) != 2+9+16 || frame[0] != 0 || frame[1] != 25 {
		t.Fatalf("frame %x: want length 25 in front", frame)
	}
	if p, ok := box.OpenAfterPrecomputation(nil, frame[2:], (*[24]byte)(seq(32, 24)), &ks); !ok || p[0] != 4 {
		t.Fatalf("client frame does not open with its base nonce")
	}
	frame2, _ := cs.SealFrame(nil, []byte{5})
	n2 := Nonce(seq(32, 24))
	n2.increment()
	if _, ok := box.OpenAfterPrecomputation(nil, frame2[2:], (*[24]byte)(&n2), &ks); !ok {
		t.Fatalf("second frame does not use base nonce + 1")
	}
	for _, f := range [][]byte{frame, frame2} {
		if _, err := ss.OpenFrame(nil, f[2:]); err != nil {
			t.Fatalf("server opens client frame: %v", err)
		}
	}
	back, _ := ss.SealFrame(nil, []byte{16, 'x'})
	if p, err := cs.OpenFrame(nil, back[2:]); err != nil || string(p) != "\x10x" {
		t.Fatalf("client opens server frame: %q %v", p, err)
	}
	// Replaying a frame fails: the nonce has moved on.
	if _, err := ss.OpenFrame(nil, frame2[2:]); err == nil || !isFrameError(err) {
		t.Fatalf("replayed frame: %v", err)
	}
}

func TestHandshakeFailures(t *testing.T) {
	client, server, other := fixedKey(t, 1), fixedKey(t, 2), fixedKey(t, 3)
	_, hello, err := NewClientHandshake(client, other.Public, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := AcceptClientHello(server, hello, rand.Reader); err == nil {
		t.Error("hello for another server's key accepted")
	}
	_, hello, _ = NewClientHandshake(client, server.Public, rand.Reader)
	for _, i := range []int{0, 40, 100, 127} {
		bad := bytes.Clone(hello)
		bad[i] ^= 1
		if _, _, _, err := AcceptClientHello(server, bad, rand.Reader); err == nil {
			t.Errorf("hello with byte %d flipped accepted", i)
		}
	}
	if _, _, _, err := AcceptClientHello(server, hello[:127], rand.Reader); err == nil {
		t.Error("127-byte hello accepted")
	}
	// A low-order announced key: nobody holds its secret.
	low := bytes.Clone(hello)
	clear(low[:32])
	if _, _, _, err := AcceptClientHello(server, low, rand.Reader); err == nil {
		t.Error("all-zero client key accepted")
	}
	if _, _, err := NewClientHandshake(client, PublicKey{}, rand.Reader); err == nil {
		t.Error("all-zero relay key accepted")
	}
	h, hello, _ := NewClientHandshake(client, server.Public, rand.Reader)
	_, reply, _, err := AcceptClientHello(server, hello, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reply[50] ^= 1
	if _, err := h.Finish(reply); err == nil {
		t.Error("altered reply accepted")
	}
	if _, err := h.Finish(reply[:95]); err == nil {
		t.Error("95-byte reply accepted")
	}
	// Our own hello's nonce and box sent back open with the same key (the
	// fuzzer found it): a reflection, refused.
	if _, err := h.Finish(hello[KeySize:]); !errors.Is(err, errReflected) {
		t.Errorf("our own hello sent back as the reply: %v", err)
	}
}

func TestFrameLimits(t *testing.T) {
	s := &Session{}
	if _, err := s.SealFrame(nil, nil); err == nil {
		t.Error("empty packet sealed")
	}
	if _, err := s.SealFrame(nil, make([]byte, MaxPlaintext+1)); err == nil {
		t.Error("2033-byte packet sealed")
	}
	f, err := s.SealFrame(nil, make([]byte, MaxPlaintext))
	if err != nil || len(f) != MaxFrame || f[0] != 0x08 || f[1] != 0x00 {
		t.Fatalf("2032-byte packet: %d-byte frame starting %x, %v", len(f), f[:2], err)
	}
	buf := make([]byte, MaxCiphertext)
	for _, tc := range []struct {
		in   string
		want int // ciphertext length, or -1 for an error
	}{
		{"0800" + strings.Repeat("00", 2048), 2048},
		{"0801" + strings.Repeat("00", 2049), -1}, // 2049: toxcore resets the connection
		{"0011" + strings.Repeat("00", 17), 17},
		{"0010" + strings.Repeat("00", 16), -1}, // nothing but a MAC
		{"0000", -1},
		{"0011" + strings.Repeat("00", 5), -1}, // cut short
		{"08", -1},
	} {
		in, _ := hex.DecodeString(tc.in)
		got, err := ReadFrame(bytes.NewReader(in), buf)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("ReadFrame(%.12s…) accepted %d bytes", tc.in, len(got))
		case tc.want >= 0 && (err != nil || len(got) != tc.want):
			t.Errorf("ReadFrame(%.12s…) = %d bytes, %v; want %d", tc.in, len(got), err, tc.want)
		}
	}
}
