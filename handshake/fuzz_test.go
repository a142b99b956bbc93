package handshake

import (
	"bytes"
	"testing"
	"time"
)

// Every parser of network or file input has a fuzz target here. The
// targets check that nothing panics and that whatever is accepted is
// consistent; their seed corpora are real messages.

func fuzzPair(f *testing.F) (*testPair, []byte, []byte) {
	p := newTestPair(f, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = 1e12 })
	msg1, msg2, _ := p.respond(f, t0)
	return p, msg1, msg2
}

func FuzzConsumeInitiation(f *testing.F) {
	p, msg1, msg2 := fuzzPair(f)
	f.Add(msg1)
	f.Add(msg2)
	f.Add(msg1[:InitiationSize-1])
	now := t0
	f.Fuzz(func(t *testing.T, msg []byte) {
		now = now.Add(time.Millisecond)
		init, reply, err := p.res.ConsumeInitiation(msg, srcA, now)
		n := 0
		for _, set := range []bool{init != nil, reply != nil, err != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("ConsumeInitiation set %d of its three results", n)
		}
		if reply != nil && len(reply) >= len(msg) {
			t.Fatalf("a %d-byte message got a %d-byte reply", len(msg), len(reply))
		}
		if init != nil {
			if init.Peer.Verify() != nil {
				t.Fatal("accepted an initiation whose card does not verify")
			}
			if resp, _, err := init.Respond(1, now); err != nil || len(resp) != ResponseSize {
				t.Fatalf("Respond: %d bytes, %v", len(resp), err)
			}
		}
	})
}

func FuzzConsumeResponse(f *testing.F) {
	_, msg1, msg2 := fuzzPair(f)
	f.Add(msg2)
	f.Add(msg1)
	f.Fuzz(func(t *testing.T, msg []byte) {
		// A fresh initiator each time, with an initiation outstanding, so
		// the genuine seed is accepted only by the initiator it was for.
		p := newTestPair(t, nil)
		if _, err := p.ini.Initiation(t0); err != nil {
			t.Fatal(err)
		}
		est, err := p.ini.ConsumeResponse(msg, t0)
		if err == nil && (est == nil || est.Peer != p.rID.Card()) {
			t.Fatal("accepted a response with the wrong peer")
		}
	})
}

func FuzzConsumeCookieReply(f *testing.F) {
	p := newTestPair(f, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = -1 })
	msg1, _ := p.ini.Initiation(t0)
	_, reply, _ := p.res.ConsumeInitiation(msg1, srcA, t0)
	f.Add(reply)
	f.Add(msg1)
	f.Fuzz(func(t *testing.T, msg []byte) {
		before := p.ini.cookie
		if err := p.ini.ConsumeCookieReply(msg, t0); err != nil && p.ini.cookie != before {
			t.Fatal("a refused cookie reply changed the held cookie")
		}
	})
}

func FuzzPeek(f *testing.F) {
	_, msg1, msg2 := fuzzPair(f)
	f.Add(msg1)
	f.Add(msg2)
	f.Fuzz(func(t *testing.T, msg []byte) {
		typ, _, ok := Peek(msg)
		if ok && typ != TypeInitiation && typ != TypeResponse && typ != TypeCookieReply {
			t.Fatalf("Peek accepted type %d", typ)
		}
	})
}

// FuzzParams round-trips the parameter block: whatever parses must encode
// back to the same bytes (the format is canonical), and the engine's view
// must hold only engine types.
func FuzzParams(f *testing.F) {
	all, _ := withSuites(Params{{Type: 16, Value: []byte{5, 172}}, {Type: 99}}, DefaultSuites())
	f.Add(appendParams(nil, all))
	f.Add(make([]byte, paramsLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseParams(b)
		if err != nil {
			return
		}
		if again := appendParams(nil, p); !bytes.Equal(again, b) {
			t.Fatalf("block %x parsed and encoded as %x", b, again)
		}
		engine, _ := splitSuites(p)
		for _, e := range engine {
			if e.Type < FirstEngineParam {
				t.Fatalf("engine got reserved type %d", e.Type)
			}
		}
	})
}

func FuzzParseCard(f *testing.F) {
	c := newTestIdentity(f, 1).Card()
	f.Add(c.String())
	f.Add("pydevts1:")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCard(s)
		if err != nil {
			return
		}
		if got.Verify() != nil {
			t.Fatal("parsed a card that does not verify")
		}
		if again, err := ParseCard(got.String()); err != nil || again != got {
			t.Fatal("card does not round-trip")
		}
	})
}

func FuzzParseKeyFile(f *testing.F) {
	good, _ := MarshalKeyFile(newTestIdentity(f, 1))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseKeyFile(data)
		if err != nil {
			return
		}
		again, err := MarshalKeyFile(id)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseKeyFile(again); err != nil || back.Card() != id.Card() {
			t.Fatal("identity does not round-trip")
		}
	})
}

// FuzzOpen throws arbitrary packets at an Opener that has also opened
// genuine ones: nothing panics, and a failed packet leaves the session
// able to open the genuine packet that follows.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("\x40\x00hdr"), []byte("not a packet at all, just bytes"), uint64(3), uint8(0))
	f.Add([]byte{}, []byte{}, uint64(0), uint8(255))
	f.Fuzz(func(t *testing.T, ad, ct []byte, pn uint64, phase uint8) {
		a, b := newSessionPair(AES128GCM)
		b.Recv.Open(nil, ct, pn, phase, ad, t0)
		hdr, good := seal(a, 1<<20, []byte("genuine"), t0)
		if got, err := b.Recv.Open(nil, good, 1<<20, hdr[1], hdr, t0); err != nil || string(got) != "genuine" {
			t.Fatalf("genuine packet after a fuzzed one: %q, %v", got, err)
		}
	})
}
