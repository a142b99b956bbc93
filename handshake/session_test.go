package handshake

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// TestSealKnownAnswer checks key derivation and sealing against values
// computed outside Go: HKDF-Expand with Python's hmac module, the AEADs with
// the pyca/cryptography package (see the script in the comment below).
//
//	secret = bytes(range(32)); pn = 0x0102030405
//	key = HKDF-Expand-SHA256(secret, "pydevts key", 16 or 32)
//	iv  = HKDF-Expand-SHA256(secret, "pydevts iv", 12)
//	nonce = iv XOR pn (big-endian, right-aligned)
//	next secret = HKDF-Expand-SHA256(secret, "pydevts key update", 32)
//	AESGCM(key).encrypt(nonce, b"pydevts known answer", b"\xc0\x00header")
func TestSealKnownAnswer(t *testing.T) {
	var secret [32]byte
	for i := range secret {
		secret[i] = byte(i)
	}
	k := deriveKeys(AES128GCM, secret)
	if got := hex.EncodeToString(k.iv[:]); got != "d2c0711630bc665b1362cae8" {
		t.Errorf("iv = %s", got)
	}
	if got := hex.EncodeToString(k.secret[:]); got != "9d78b2c0886930969f1c18c59be83486cb960350b0649f90d19b7fce81cda559" {
		t.Errorf("next secret = %s", got)
	}
	const pn = 0x0102030405
	ad := []byte("\xc0\x00header")
	pt := []byte("pydevts known answer")
	for _, c := range []struct {
		suite Suite
		phase int
		want  string
	}{
		{AES128GCM, 0, "60befd6b7356d5845d535c48f61717c288bb2426285f31416eed979b30f0c948dc5384b4"},
		{ChaCha20Poly1305, 0, "862ad5e4ac35b0b4ebc22dd03111f89704ea88f8808b990c5abf8a77cd4de5a30b2905fa"},
		{AES128GCM, 1, "6b39e940086666d82a60d79e6c3801f1e13e4b70a48f5fb10de002ec93445f10d9ff1a69"},
	} {
		s := newSession(c.suite, secret, secret, t0)
		if c.phase == 1 {
			s.Send.rekeyAfter = 0
		}
		if p := s.Send.Phase(t0); int(p) != c.phase {
			t.Fatalf("phase %d, want %d", p, c.phase)
		}
		got := s.Send.Seal(nil, pt, pn, ad)
		if hex.EncodeToString(got) != c.want {
			t.Errorf("%v phase %d: sealed %x, want %s", c.suite, c.phase, got, c.want)
		}
	}
}

func newSessionPair(suite Suite) (a, b *Session) {
	var k1, k2 [32]byte
	k1[0], k2[0] = 1, 2
	return newSession(suite, k1, k2, t0), newSession(suite, k2, k1, t0)
}

// seal seals pn from s with a header that carries the phase, as the engine
// will; it returns the header and the sealed payload.
func seal(s *Session, pn uint64, msg []byte, now time.Time) (hdr, ct []byte) {
	hdr = []byte{0x40, s.Send.Phase(now), byte(pn >> 8), byte(pn)}
	return hdr, s.Send.Seal(nil, msg, pn, hdr)
}

func TestSealInPlace(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	msg := []byte("in place, no copies")
	buf := make([]byte, 4, 4+len(msg)+TagSize)
	buf[0], buf[1] = 0x40, a.Send.Phase(t0)
	buf = append(buf, msg...)
	sealed := a.Send.Seal(buf[4:4], buf[4:], 1, buf[:4])
	if &sealed[0] != &buf[4] || len(sealed) != len(msg)+TagSize {
		t.Fatal("Seal did not seal in place")
	}
	opened, err := b.Recv.Open(sealed[:0], sealed, 1, buf[1], buf[:4], t0)
	if err != nil || !bytes.Equal(opened, msg) {
		t.Fatalf("Open in place: %q, %v", opened, err)
	}
}

func TestTamperedPacket(t *testing.T) {
	a, b := newSessionPair(ChaCha20Poly1305)
	hdr, ct := seal(a, 5, []byte("payload"), t0)
	for i := range len(hdr) + len(ct) {
		h, c := bytes.Clone(hdr), bytes.Clone(ct)
		if i < len(h) {
			h[i] ^= 1
		} else {
			c[i-len(h)] ^= 1
		}
		_, err := b.Recv.Open(nil, c, 5, h[1], h, t0)
		if !errors.Is(err, ErrPacketAuth) && !errors.Is(err, ErrKeyPhase) {
			t.Fatalf("byte %d flipped: got %v", i, err)
		}
	}
	if _, err := b.Recv.Open(nil, ct, 6, hdr[1], hdr, t0); !errors.Is(err, ErrPacketAuth) {
		t.Fatalf("packet opened under another packet number: %v", err)
	}
	if b.Recv.Failures() == 0 {
		t.Error("failures not counted")
	}
	if _, err := b.Recv.Open(nil, ct, 5, hdr[1], hdr, t0); err != nil {
		t.Fatalf("genuine packet refused after forgeries: %v", err)
	}
}

func TestReplayedPacket(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	hdr, ct := seal(a, 9, []byte("once"), t0)
	if _, err := b.Recv.Open(nil, ct, 9, hdr[1], hdr, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv.Open(nil, ct, 9, hdr[1], hdr, t0); !errors.Is(err, ErrPacketReplayed) {
		t.Fatalf("replayed packet: got %v, want ErrPacketReplayed", err)
	}
}

// TestRecoveredPacket: a packet rebuilt from parity is refused when it
// arrives itself later, and a packet opened already cannot be recovered.
func TestRecoveredPacket(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	hdr7, ct7 := seal(a, 7, []byte("rebuilt"), t0)
	hdr8, ct8 := seal(a, 8, []byte("opened"), t0)
	if _, err := b.Recv.Open(nil, ct8, 8, hdr8[1], hdr8, t0); err != nil {
		t.Fatal(err)
	}
	if !b.Recv.Recovered(7) {
		t.Fatal("packet 7 not recoverable")
	}
	if _, err := b.Recv.Open(nil, ct7, 7, hdr7[1], hdr7, t0); !errors.Is(err, ErrPacketReplayed) {
		t.Fatalf("late original of a recovered packet: got %v, want ErrPacketReplayed", err)
	}
	if b.Recv.Recovered(7) || b.Recv.Recovered(8) {
		t.Fatal("a packet recovered or opened twice")
	}
	if b.Recv.Recovered(8 + ReplayWindow + 5); b.Recv.Recovered(8) {
		t.Fatal("a packet behind the window recovered")
	}
}

func TestPacketFarBehind(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	const newest = 20000
	old := map[uint64][2][]byte{}
	for _, pn := range []uint64{newest - ReplayWindow, newest - ReplayWindow + 1, newest - 1, newest} {
		h, c := seal(a, pn, []byte{byte(pn)}, t0)
		old[pn] = [2][]byte{h, c}
	}
	open := func(pn uint64) error {
		_, err := b.Recv.Open(nil, old[pn][1], pn, old[pn][0][1], old[pn][0], t0)
		return err
	}
	if err := open(newest); err != nil {
		t.Fatal(err)
	}
	if err := open(newest - ReplayWindow); !errors.Is(err, ErrPacketTooOld) {
		t.Errorf("packet ReplayWindow behind: got %v, want ErrPacketTooOld", err)
	}
	if err := open(newest - ReplayWindow + 1); err != nil {
		t.Errorf("oldest packet inside the window: %v", err)
	}
	if err := open(newest - 1); err != nil {
		t.Errorf("packet just behind the newest: %v", err)
	}
	if ReplayWindow < 4096 {
		t.Errorf("ReplayWindow is %d, must be at least 4096", ReplayWindow)
	}
}

// TestKeyUpdateByCount seals across several key phases and delivers the
// packets shuffled: every packet opens once, stragglers of the previous
// phase included, and the receiver follows the sender's phase.
func TestKeyUpdateByCount(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	a.Send.rekeyAfter = 10
	type pkt struct {
		pn      uint64
		hdr, ct []byte
	}
	var pkts []pkt
	for pn := range uint64(45) {
		h, c := seal(a, pn, []byte{byte(pn)}, t0)
		pkts = append(pkts, pkt{pn, h, c})
	}
	if a.Send.KeyPhase() != 4 {
		t.Fatalf("sender at phase %d after 45 packets at 10 per key, want 4", a.Send.KeyPhase())
	}
	// Swap neighbours: each phase's first packet arrives before the
	// previous phase's last one.
	for i := 0; i+1 < len(pkts); i += 2 {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	for _, p := range pkts {
		got, err := b.Recv.Open(nil, p.ct, p.pn, p.hdr[1], p.hdr, t0)
		if err != nil || len(got) != 1 || got[0] != byte(p.pn) {
			t.Fatalf("packet %d (phase %d): %v", p.pn, p.hdr[1], err)
		}
	}
	if b.Recv.KeyPhase() != 4 {
		t.Errorf("receiver at phase %d, want 4", b.Recv.KeyPhase())
	}
}

func TestKeyUpdateByTime(t *testing.T) {
	a, b := newSessionPair(ChaCha20Poly1305)
	h0, c0 := seal(a, 1, []byte("before"), t0)
	later := t0.Add(RekeyAfterTime)
	h1, c1 := seal(a, 2, []byte("after"), later)
	if h1[1] == h0[1] {
		t.Fatal("no key update after RekeyAfterTime")
	}
	if _, err := b.Recv.Open(nil, c1, 2, h1[1], h1, later); err != nil {
		t.Fatal(err)
	}
	// The packet sealed before the update is late: within KeyGrace it
	// opens, after it the old key is gone.
	if _, err := b.Recv.Open(nil, bytes.Clone(c0), 1, h0[1], h0, later.Add(KeyGrace+time.Second)); !errors.Is(err, ErrKeyPhase) {
		t.Errorf("packet under the old key after KeyGrace: got %v, want ErrKeyPhase", err)
	}
	if _, err := b.Recv.Open(nil, c0, 1, h0[1], h0, later.Add(KeyGrace-time.Second)); err != nil {
		t.Errorf("packet under the old key within KeyGrace: %v", err)
	}
}

func TestKeyPhaseTooFarAhead(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	a.Send.rekeyAfter = 1
	var h, c []byte
	for pn := range uint64(maxPhasesAhead + 2) {
		h, c = seal(a, pn, []byte("x"), t0)
	}
	// The receiver has seen none of the phases in between.
	if _, err := b.Recv.Open(nil, c, maxPhasesAhead+1, h[1], h, t0); !errors.Is(err, ErrKeyPhase) {
		t.Errorf("packet %d phases ahead: got %v, want ErrKeyPhase", h[1], err)
	}
	// maxPhasesAhead missed updates are still followed.
	a, b = newSessionPair(AES128GCM)
	a.Send.rekeyAfter = 1
	for pn := range uint64(maxPhasesAhead + 1) {
		h, c = seal(a, pn, []byte("x"), t0)
	}
	if _, err := b.Recv.Open(nil, c, maxPhasesAhead, h[1], h, t0); err != nil {
		t.Errorf("packet %d phases ahead: %v", h[1], err)
	}
}

// TestKeyPhaseSkipped: a receiver that jumps two phases at once still opens
// a late packet of the phase it skipped.
func TestKeyPhaseSkipped(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	a.Send.rekeyAfter = 1
	var pkts [3][2][]byte
	for pn := range uint64(3) {
		h, c := seal(a, pn, []byte{byte(pn)}, t0)
		pkts[pn] = [2][]byte{h, c}
	}
	for _, pn := range []uint64{0, 2, 1} { // phase 0, then 2, then the late phase 1
		h, c := pkts[pn][0], pkts[pn][1]
		if _, err := b.Recv.Open(nil, c, pn, h[1], h, t0); err != nil {
			t.Fatalf("packet %d (phase %d): %v", pn, h[1], err)
		}
	}
}

func TestIntegrityLimit(t *testing.T) {
	a, b := newSessionPair(AES128GCM)
	b.Recv.integrityLimit = 3
	hdr, ct := seal(a, 1, []byte("genuine"), t0)
	bad := bytes.Clone(ct)
	bad[0] ^= 1
	for range 3 {
		if _, err := b.Recv.Open(nil, bad, 1, hdr[1], hdr, t0); !errors.Is(err, ErrPacketAuth) {
			t.Fatal(err)
		}
	}
	if _, err := b.Recv.Open(nil, ct, 1, hdr[1], hdr, t0); !errors.Is(err, ErrIntegrityLimit) {
		t.Fatalf("after the limit: got %v, want ErrIntegrityLimit", err)
	}
}

func TestSealRefusesRepeatedPacketNumber(t *testing.T) {
	a, _ := newSessionPair(AES128GCM)
	a.Send.Seal(nil, []byte("x"), 5, nil)
	defer func() {
		if recover() == nil {
			t.Error("Seal accepted a packet number twice")
		}
	}()
	a.Send.Seal(nil, []byte("y"), 5, nil)
}

func TestSealOpenAllocations(t *testing.T) {
	for _, suite := range []Suite{AES128GCM, ChaCha20Poly1305} {
		a, b := newSessionPair(suite)
		buf := make([]byte, 0, 1400+TagSize)
		msg := make([]byte, 1400)
		hdr := []byte{0x40, 0}
		pn := uint64(0)
		allocs := testing.AllocsPerRun(100, func() {
			pn++
			ct := a.Send.Seal(buf[:0], msg, pn, hdr)
			if _, err := b.Recv.Open(ct[:0], ct, pn, 0, hdr, t0); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %.1f allocations per seal+open, want 0", suite, allocs)
		}
	}
}
