package handshake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"testing/cryptotest"
	"time"
)

func TestMessageSizes(t *testing.T) {
	// The layouts drawn in doc.go; a change here is a wire format change.
	for name, c := range map[string][2]int{
		"initiation":   {InitiationSize, 308},
		"response":     {ResponseSize, 244},
		"cookie reply": {CookieReplySize, 68},
	} {
		if c[0] != c[1] {
			t.Errorf("%s is %d bytes, doc.go says %d", name, c[0], c[1])
		}
	}
	// Nothing a responder sends to an address it has not verified may be
	// larger than what it received.
	if ResponseSize >= InitiationSize || CookieReplySize >= InitiationSize {
		t.Error("a reply is larger than the initiation that prompts it")
	}
}

func TestHandshakeRoundTrip(t *testing.T) {
	p := newTestPair(t, func(ic *InitiatorConfig, rc *ResponderConfig) {
		ic.Params = Params{{Type: 16, Value: []byte{0x05, 0xac}}, {Type: 200, Value: []byte("fec")}}
		rc.Params = Params{{Type: 17, Value: []byte{1}}}
	})
	ini, res := p.run(t, t0)

	if ini.Hash != res.Hash {
		t.Error("handshake hashes differ")
	}
	if ini.LocalID != 0x1111 || ini.PeerID != 0x2222 || res.LocalID != 0x2222 || res.PeerID != 0x1111 {
		t.Errorf("IDs: initiator %x/%x, responder %x/%x", ini.LocalID, ini.PeerID, res.LocalID, res.PeerID)
	}
	if ini.Peer != p.rID.Card() || res.Peer != p.iID.Card() {
		t.Error("a side learnt the wrong identity card")
	}
	if ini.Suite != res.Suite || ini.Suite != DefaultSuites()[0] {
		t.Errorf("suites: initiator %v, responder %v, want %v", ini.Suite, res.Suite, DefaultSuites()[0])
	}
	if got := fmt.Sprint(res.PeerParams); got != fmt.Sprint(p.iCfg.Params) {
		t.Errorf("responder got params %v, want %v", got, p.iCfg.Params)
	}
	if got := fmt.Sprint(ini.PeerParams); got != fmt.Sprint(p.resCfg.Params) {
		t.Errorf("initiator got params %v, want %v", got, p.resCfg.Params)
	}
	if res.Session.Recv.Confirmed() {
		t.Error("responder session confirmed before any packet")
	}
	exchange(t, ini.Session, res.Session, 0, 50, t0)
	if !res.Session.Recv.Confirmed() || !ini.Session.Recv.Confirmed() {
		t.Error("sessions not confirmed after packets opened")
	}

	// A second handshake between the same nodes gives different keys:
	// both ephemeral keys are new.
	ini2, _ := newTestPair(t, nil).run(t, t0)
	if ini2.Hash == ini.Hash {
		t.Error("two handshakes with different ephemeral keys gave one hash")
	}
}

// TestHandshakeKnownAnswer pins the whole exchange for fixed keys,
// randomness and time: any change to the wire format or the key schedule
// shows here. The Noise core under it is checked against the published
// cacophony vector in noise_test.go.
func TestHandshakeKnownAnswer(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1)
	p := newTestPair(t, func(ic *InitiatorConfig, rc *ResponderConfig) {
		ic.Suites = []Suite{AES128GCM, ChaCha20Poly1305}
		rc.Suites = []Suite{AES128GCM, ChaCha20Poly1305}
	})
	msg1, msg2, res := p.respond(t, t0)
	ini, err := p.ini.ConsumeResponse(msg2, t0)
	if err != nil {
		t.Fatal(err)
	}
	pkt := ini.Session.Send.Seal(nil, []byte("hello"), 7, []byte{ini.Session.Send.Phase(t0)})
	back := res.Session.Send.Seal(nil, []byte("world"), 9, []byte{res.Session.Send.Phase(t0)})

	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:8]) }
	for _, c := range []struct{ name, got, want string }{
		{"initiator card", p.iID.Fingerprint(), "01bfedf9fb1a3f79488e09eaa8294d9c4ff73d13a7adb46aeaa31fab8b065743"},
		{"responder card", p.rID.Fingerprint(), "14e0d1c9c7a3e3f41b12225593bd2322f5da0be7962d4d9cf725828c2c11088c"},
		{"initiation", sum(msg1), "2e300d13b2f11bfe"},
		{"response", sum(msg2), "bebeecc6e392c45b"},
		{"handshake hash", hex.EncodeToString(ini.Hash[:]), "61812389866b02602b9f4946ef65ce2b2ae8e33bb634985094e9c4752dd163a8"},
		{"first packet i->r", hex.EncodeToString(pkt), "3b3dd936513d306ce0522c3273830f7b6a00dee732"},
		{"first packet r->i", hex.EncodeToString(back), "4128d06d21a1373fac58e47f2b23ddd4b9be1bffde"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestWrongStaticKey(t *testing.T) {
	other := newTestIdentity(t, 9)
	// The initiator believes the responder is "other".
	p := newTestPair(t, func(ic *InitiatorConfig, rc *ResponderConfig) { ic.Peer = other.Card() })
	msg1, err := p.ini.Initiation(t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.res.ConsumeInitiation(msg1, srcA, t0); !errors.Is(err, ErrMAC) {
		t.Fatalf("initiation for another key: got %v, want ErrMAC", err)
	}
	// Someone who knows our public key can make mac1 right; the Noise
	// layer must still refuse a message made for another static key.
	m1 := mac(p.res.mac1Key[:], msg1[:initMAC1Off])
	copy(msg1[initMAC1Off:], m1[:])
	if _, _, err := p.res.ConsumeInitiation(msg1, srcA, t0); !errors.Is(err, ErrAuth) {
		t.Fatalf("initiation for another key with a good mac1: got %v, want ErrAuth", err)
	}
}

// TestTamperedInitiation flips each bit position's byte of an initiation:
// with the original mac1 every change dies at the header or mac1 check;
// with mac1 recomputed (an attacker who knows the responder's public key)
// every change in the Noise part still fails authentication.
func TestTamperedInitiation(t *testing.T) {
	// Hundreds of initiations in one instant would put a real responder
	// under load; this test is about authentication, not load.
	p := newTestPair(t, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = 1e12 })
	msg1, err := p.ini.Initiation(t0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range initMAC2Off {
		bad := bytes.Clone(msg1)
		bad[i] ^= 0x04
		_, _, err := p.res.ConsumeInitiation(bad, srcA, t0)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMAC) {
			t.Fatalf("byte %d flipped: got %v, want ErrMalformed or ErrMAC", i, err)
		}
		if i < headerLen || i >= initMAC1Off {
			continue
		}
		m1 := mac(p.res.mac1Key[:], bad[:initMAC1Off])
		copy(bad[initMAC1Off:], m1[:])
		if _, _, err := p.res.ConsumeInitiation(bad, srcA, t0); !errors.Is(err, ErrAuth) {
			t.Fatalf("byte %d flipped, mac1 recomputed: got %v, want ErrAuth", i, err)
		}
	}
	for _, n := range []int{0, 1, headerLen + idLen, InitiationSize - 1, InitiationSize + 1} {
		b := append(bytes.Clone(msg1), 0)[:n]
		if _, _, err := p.res.ConsumeInitiation(b, srcA, t0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte initiation: got %v, want ErrMalformed", n, err)
		}
	}
	// The genuine message is still good after all that.
	if got, _, err := p.res.ConsumeInitiation(msg1, srcA, t0); err != nil || got == nil {
		t.Fatalf("genuine initiation refused after forgeries: %v", err)
	}
}

func TestTamperedResponse(t *testing.T) {
	p := newTestPair(t, nil)
	_, msg2, _ := p.respond(t, t0)
	ourMAC1 := labelledKey(labelMAC1, p.iID.card.DH[:])
	for i := range msg2 {
		bad := bytes.Clone(msg2)
		bad[i] ^= 0x20
		if _, err := p.ini.ConsumeResponse(bad, t0); err == nil {
			t.Fatalf("response with byte %d flipped accepted", i)
		}
		if i < headerLen+idLen || i >= respMAC1Off {
			continue
		}
		m1 := mac(ourMAC1[:], bad[:respMAC1Off])
		copy(bad[respMAC1Off:], m1[:])
		if _, err := p.ini.ConsumeResponse(bad, t0); !errors.Is(err, ErrAuth) {
			t.Fatalf("response byte %d flipped, mac1 recomputed: got %v, want ErrAuth", i, err)
		}
	}
	if _, err := p.ini.ConsumeResponse(msg2, t0); err != nil {
		t.Fatalf("genuine response refused after forgeries: %v", err)
	}
	if _, err := p.ini.ConsumeResponse(msg2, t0); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("second copy of the response: got %v, want ErrUnexpected", err)
	}
}

func TestReplayedInitiation(t *testing.T) {
	p := newTestPair(t, nil)
	old, _ := p.ini.Initiation(t0)
	msg1, _ := p.ini.Initiation(t0) // same clock reading: still a newer timestamp
	if _, _, err := p.res.ConsumeInitiation(msg1, srcA, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.res.ConsumeInitiation(msg1, srcA, t0.Add(time.Second)); !errors.Is(err, ErrReplayedInitiation) {
		t.Errorf("same initiation twice: got %v, want ErrReplayedInitiation", err)
	}
	// An older one not seen yet is another connection's, overtaken.
	if _, _, err := p.res.ConsumeInitiation(old, srcA, t0); err != nil {
		t.Errorf("older initiation after a newer one, not seen before: %v", err)
	}
	if _, _, err := p.res.ConsumeInitiation(old, srcA, t0); !errors.Is(err, ErrReplayedInitiation) {
		t.Errorf("the older initiation twice: got %v, want ErrReplayedInitiation", err)
	}
	// The initiator's clock going back does not lock it out of this
	// process's later handshakes: timestamps stay above the last one sent.
	later, _ := p.ini.Initiation(t0.Add(-time.Hour))
	if _, _, err := p.res.ConsumeInitiation(later, srcA, t0); err != nil {
		t.Errorf("initiation made after a clock step back: %v", err)
	}
}

// TestReplayTableBound fills the replay table past MaxPeers: it must not
// grow beyond the bound, and peers still connect.
func TestReplayTableBound(t *testing.T) {
	resID := newTestIdentity(t, 2)
	res, err := NewResponder(ResponderConfig{Identity: resID, MaxPeers: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		ini, err := NewInitiator(InitiatorConfig{Identity: newTestIdentity(t, uint64(100+i)), Peer: resID.Card()})
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := ini.Initiation(t0)
		if _, _, err := res.ConsumeInitiation(msg, srcA, t0); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		if n := len(res.lastStamp); n > 4 {
			t.Fatalf("replay table holds %d peers, bound is 4", n)
		}
	}
}

func TestCookieUnderLoad(t *testing.T) {
	p := newTestPair(t, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = -1 })
	msg1, _ := p.ini.Initiation(t0)
	got, reply, err := p.res.ConsumeInitiation(msg1, srcA, t0)
	if err != nil || got != nil || reply == nil {
		t.Fatalf("under load: got %v, reply %d bytes, err %v; want a cookie reply", got, len(reply), err)
	}
	if len(reply) != CookieReplySize || len(reply) >= len(msg1) {
		t.Fatalf("cookie reply is %d bytes for a %d-byte initiation", len(reply), len(msg1))
	}
	if typ, id, ok := Peek(reply); !ok || typ != TypeCookieReply || id != 0x1111 {
		t.Fatalf("Peek(cookie reply) = %v %x %v", typ, id, ok)
	}
	// A damaged cookie reply is refused and changes nothing.
	bad := bytes.Clone(reply)
	bad[len(bad)-1] ^= 1
	if err := p.ini.ConsumeCookieReply(bad, t0); !errors.Is(err, ErrAuth) {
		t.Fatalf("damaged cookie reply: got %v, want ErrAuth", err)
	}
	if err := p.ini.ConsumeCookieReply(reply, t0); err != nil {
		t.Fatal(err)
	}
	msg1, _ = p.ini.Initiation(t0)
	// The cookie proves srcA, not srcB.
	if got, reply, _ := p.res.ConsumeInitiation(msg1, srcB, t0); got != nil || reply == nil {
		t.Fatal("a cookie for one address was accepted from another")
	}
	got, reply, err = p.res.ConsumeInitiation(msg1, srcA, t0)
	if err != nil || got == nil {
		t.Fatalf("initiation with a valid cookie: reply %d bytes, err %v", len(reply), err)
	}
	msg2, _, err := got.Respond(0x2222, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ini.ConsumeResponse(msg2, t0); err != nil {
		t.Fatal(err)
	}
}

// TestLoadMeter checks the token bucket: HandshakeRate initiations per
// second, a burst of a tenth on top, cookie replies beyond.
func TestLoadMeter(t *testing.T) {
	res, err := NewResponder(ResponderConfig{Identity: newTestIdentity(t, 2), HandshakeRate: 100})
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	for range 50 {
		if !res.underLoad(t0) {
			served++
		}
	}
	if served != 10 {
		t.Errorf("burst served %d, want 10", served)
	}
	if !res.underLoad(t0.Add(5 * time.Millisecond)) {
		t.Error("served after half a token's time")
	}
	if res.underLoad(t0.Add(10 * time.Millisecond)) {
		t.Error("not served after a whole token's time")
	}
	if !res.underLoad(t0.Add(10 * time.Millisecond)) {
		t.Error("a second initiation in the same instant was served")
	}
	if !res.underLoad(t0) {
		t.Error("a time before the last one refilled the bucket")
	}
	if res.underLoad(t0.Add(20 * time.Millisecond)) {
		t.Error("the clock read out of order held back the refill")
	}
	served = 0
	for i := range 1000 { // one second at 1000 attempts per second
		if !res.underLoad(t0.Add(time.Second + time.Duration(i)*time.Millisecond)) {
			served++
		}
	}
	if served < 95 || served > 115 {
		t.Errorf("served %d of 1000 initiations in a second at rate 100", served)
	}
}

func TestExpiredCookie(t *testing.T) {
	p := newTestPair(t, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = -1 })
	msg1, _ := p.ini.Initiation(t0)
	_, reply, _ := p.res.ConsumeInitiation(msg1, srcA, t0)
	if err := p.ini.ConsumeCookieReply(reply, t0); err != nil {
		t.Fatal(err)
	}
	// The initiator stops using a cookie after CookieRefresh...
	late := t0.Add(CookieRefresh + time.Second)
	msg1, _ = p.ini.Initiation(late)
	if !bytes.Equal(msg1[initMAC2Off:], make([]byte, macLen)) {
		t.Fatal("initiator used a cookie older than CookieRefresh")
	}
	// ...and the responder refuses one whose secret has been replaced
	// twice, even from an initiator that still holds it.
	later := t0.Add(2*CookieRefresh + time.Second)
	p.ini.cookie.received = later
	msg1, _ = p.ini.Initiation(later)
	if got, reply, _ := p.res.ConsumeInitiation(msg1, srcA, later); got != nil || reply == nil {
		t.Fatal("responder accepted an expired cookie")
	}
	// A cookie under the previous secret is still good.
	p2 := newTestPair(t, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = -1 })
	msg1, _ = p2.ini.Initiation(t0)
	_, reply, _ = p2.res.ConsumeInitiation(msg1, srcA, t0)
	p2.ini.ConsumeCookieReply(reply, t0)
	soon := t0.Add(CookieRefresh + time.Second) // the responder rotates once
	p2.ini.cookie.received = soon
	msg1, _ = p2.ini.Initiation(soon)
	if got, _, err := p2.res.ConsumeInitiation(msg1, srcA, soon); got == nil {
		t.Fatalf("cookie under the previous secret refused: %v", err)
	}
}

func TestAllowAndAccept(t *testing.T) {
	stranger := newTestIdentity(t, 7)
	known := newTestIdentity(t, 1)
	for _, c := range []struct {
		name   string
		allow  []string
		accept func(Card) error
		want   error
	}{
		{"open", nil, nil, nil},
		{"allowed", []string{known.Fingerprint()}, nil, nil},
		{"allowed, upper case", []string{"  " + upper(known.Fingerprint())}, nil, nil},
		{"not in allow-list", []string{stranger.Fingerprint()}, nil, ErrRefused},
		{"callback refuses", nil, func(Card) error { return errors.New("no") }, ErrRefused},
		{"allowed but callback refuses", []string{known.Fingerprint()}, func(c Card) error {
			if c.Fingerprint() == known.Fingerprint() {
				return errors.New("banned")
			}
			return nil
		}, ErrRefused},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newTestPair(t, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.Allow, rc.Accept = c.allow, c.accept })
			msg1, _ := p.ini.Initiation(t0)
			_, _, err := p.res.ConsumeInitiation(msg1, srcA, t0)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := NewResponder(ResponderConfig{Identity: known, Allow: []string{"abc"}}); err == nil {
		t.Error("allow-list entry that is not a fingerprint was accepted")
	}
}

func upper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func TestCardChecks(t *testing.T) {
	// An initiator whose card signature is broken is refused.
	p := newTestPair(t, nil)
	p.iID.card.Sig[5] ^= 1
	msg1, _ := p.ini.Initiation(t0)
	if _, _, err := p.res.ConsumeInitiation(msg1, srcA, t0); !errors.Is(err, ErrIdentity) {
		t.Errorf("initiator with a broken card: got %v, want ErrIdentity", err)
	}

	// An initiator that expects another signing key for the responder's
	// X25519 key (a valid card, signed by someone else) refuses the
	// responder's real card.
	impostor := newTestIdentity(t, 8)
	rID := newTestIdentity(t, 2)
	fake := Card{DH: rID.Card().DH, Sign: impostor.Card().Sign}
	copy(fake.Sig[:], impostor.Sign(cardMessage(fake.DH[:])))
	if err := fake.Verify(); err != nil {
		t.Fatal(err)
	}
	p = newTestPair(t, func(ic *InitiatorConfig, _ *ResponderConfig) { ic.Peer = fake })
	_, msg2, _ := p.respond(t, t0)
	if _, err := p.ini.ConsumeResponse(msg2, t0); !errors.Is(err, ErrIdentity) {
		t.Errorf("responder with another signing key: got %v, want ErrIdentity", err)
	}
}

// TestLateResponse: a response to one of the last keptInitiations
// initiations completes the handshake, the same keys on both sides; one
// to an older initiation does not.
func TestLateResponse(t *testing.T) {
	p := newTestPair(t, nil)
	var responses [][]byte
	var sessions []*Session
	for i := range keptInitiations + 1 {
		now := t0.Add(time.Duration(i) * time.Second)
		msg, _ := p.ini.Initiation(now)
		got, _, err := p.res.ConsumeInitiation(msg, srcA, now)
		if err != nil {
			t.Fatal(err)
		}
		resp, est, err := got.Respond(uint64(i+1), now)
		if err != nil {
			t.Fatal(err)
		}
		responses, sessions = append(responses, resp), append(sessions, est.Session)
	}
	// responses[0] answers an initiation keptInitiations+1 back.
	if _, err := p.ini.ConsumeResponse(responses[0], t0); !errors.Is(err, ErrAuth) {
		t.Fatalf("response to an initiation %d back: got %v, want ErrAuth", keptInitiations+1, err)
	}
	est, err := p.ini.ConsumeResponse(responses[1], t0)
	if err != nil || est.PeerID != 2 {
		t.Fatalf("response to an initiation %d back: %v", keptInitiations, err)
	}
	// The keys are those of that initiation's responder.
	pkt := est.Session.Send.Seal(nil, []byte("late but good"), 0, []byte("ad"))
	if pt, err := sessions[1].Recv.Open(nil, pkt, 0, est.Session.Send.Phase(t0), []byte("ad"), t0); err != nil || string(pt) != "late but good" {
		t.Fatalf("late response's session: %q, %v", pt, err)
	}
	if _, err := p.ini.ConsumeResponse(responses[4], t0); !errors.Is(err, ErrUnexpected) {
		t.Errorf("a second response after the handshake completed: got %v, want ErrUnexpected", err)
	}
	if _, err := p.ini.Initiation(t0); err == nil {
		t.Error("Initiation after the handshake completed")
	}
}

func TestPeek(t *testing.T) {
	p := newTestPair(t, nil)
	msg1, msg2, _ := p.respond(t, t0)
	if typ, id, ok := Peek(msg1); !ok || typ != TypeInitiation || id != 0x1111 {
		t.Errorf("Peek(initiation) = %v %x %v", typ, id, ok)
	}
	if typ, id, ok := Peek(msg2); !ok || typ != TypeResponse || id != 0x1111 {
		t.Errorf("Peek(response) = %v %x %v", typ, id, ok)
	}
	for _, b := range [][]byte{nil, {1}, msg1[:100], append([]byte{9}, msg1[1:]...), append([]byte{1, 2}, msg1[2:]...)} {
		if _, _, ok := Peek(b); ok {
			t.Errorf("Peek accepted %x...", b[:min(len(b), 4)])
		}
	}
}

// TestConcurrentInitiations: one identity dialing many connections at
// once has its initiations arrive in any order. The newest 32 are
// accepted whatever their order, each once; one older than all those
// kept, or more than 10 s older than the newest, is refused.
func TestConcurrentInitiations(t *testing.T) {
	p := newTestPair(t, nil)
	var msgs [][]byte
	for range replayStamps + 1 {
		m, _ := p.ini.Initiation(t0)
		msgs = append(msgs, m)
	}
	for i := len(msgs) - 1; i >= 1; i-- { // newest first
		if _, _, err := p.res.ConsumeInitiation(msgs[i], srcA, t0); err != nil {
			t.Fatalf("initiation %d of %d, newest first: %v", i, len(msgs), err)
		}
	}
	for i, m := range msgs {
		if _, _, err := p.res.ConsumeInitiation(m, srcA, t0); !errors.Is(err, ErrReplayedInitiation) {
			t.Errorf("initiation %d again (or the 33rd newest): got %v, want ErrReplayedInitiation", i, err)
		}
	}
	q := newTestPair(t, nil)
	old, _ := q.ini.Initiation(t0)
	newer, _ := q.ini.Initiation(t0.Add(11 * time.Second))
	if _, _, err := q.res.ConsumeInitiation(newer, srcA, t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.res.ConsumeInitiation(old, srcA, t0); !errors.Is(err, ErrReplayedInitiation) {
		t.Errorf("initiation 11 s older than the newest: got %v, want ErrReplayedInitiation", err)
	}
}

func TestStampsForget(t *testing.T) {
	var s stamps
	base := uint64(1e18)
	for i := range uint64(1000) {
		if !s.accept(base + i*uint64(time.Second)) {
			t.Fatalf("stamp %d refused", i)
		}
		if len(s.seen) > replayStamps {
			t.Fatalf("%d stamps kept", len(s.seen))
		}
	}
	if len(s.seen) != 10 {
		t.Errorf("%d stamps kept a second apart, want the 10 within 10 s", len(s.seen))
	}
	for i := range uint64(1000) {
		if s.accept(base + i*uint64(time.Second)) {
			t.Fatalf("stamp %d accepted twice", i)
		}
	}
}
