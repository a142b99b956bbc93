package handshake

// Cipher suite negotiation and the parameter block.

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSuiteNegotiation(t *testing.T) {
	A, C := AES128GCM, ChaCha20Poly1305
	for _, c := range []struct {
		offered, ours []Suite
		want          Suite
		ok            bool
	}{
		{[]Suite{A, C}, []Suite{A, C}, A, true},
		{[]Suite{C, A}, []Suite{C, A}, C, true},
		{[]Suite{A, C}, []Suite{C, A}, C, true}, // disagreement: the software-fast one
		{[]Suite{C, A}, []Suite{A, C}, C, true},
		{[]Suite{A}, []Suite{C, A}, A, true},
		{[]Suite{A}, []Suite{C}, 0, false},
		{[]Suite{9, A}, []Suite{A}, A, true},
		{nil, []Suite{A}, 0, false},
	} {
		got, ok := chooseSuite(c.offered, c.ours)
		if got != c.want || ok != c.ok {
			t.Errorf("chooseSuite(%v, %v) = %v %v, want %v %v", c.offered, c.ours, got, ok, c.want, c.ok)
		}
	}
	for _, s := range []Suite{A, C} {
		p := newTestPair(t, func(ic *InitiatorConfig, rc *ResponderConfig) {
			ic.Suites, rc.Suites = []Suite{s}, []Suite{s}
		})
		ini, res := p.run(t, t0)
		if ini.Suite != s || res.Suite != s {
			t.Fatalf("negotiated %v/%v, want %v", ini.Suite, res.Suite, s)
		}
		exchange(t, ini.Session, res.Session, 0, 5, t0)
	}
	// No common suite: the responder drops the initiation.
	p := newTestPair(t, func(ic *InitiatorConfig, rc *ResponderConfig) {
		ic.Suites, rc.Suites = []Suite{A}, []Suite{C}
	})
	msg1, _ := p.ini.Initiation(t0)
	if _, _, err := p.res.ConsumeInitiation(msg1, srcA, t0); !errors.Is(err, ErrParams) {
		t.Errorf("no common suite: got %v, want ErrParams", err)
	}
	if _, err := NewInitiator(InitiatorConfig{Identity: p.iID, Peer: p.rID.Card(), Suites: []Suite{A, A}}); err == nil {
		t.Error("a suite listed twice was accepted")
	}
	if _, err := NewInitiator(InitiatorConfig{Identity: p.iID, Peer: p.rID.Card(), Suites: []Suite{7}}); err == nil {
		t.Error("an unknown suite was accepted")
	}
}

// TestSuitesWithoutAESHardware runs the defaults of a node whose CPU has
// no AES instructions: it puts ChaCha20-Poly1305 first, and a handshake
// with a node that has them settles on ChaCha20-Poly1305, which the slower
// side runs fastest.
func TestSuitesWithoutAESHardware(t *testing.T) {
	defer func(v bool) { hasAESGCMHardware = v }(hasAESGCMHardware)
	hasAESGCMHardware = true
	if got := DefaultSuites(); !slices.Equal(got, []Suite{AES128GCM, ChaCha20Poly1305}) {
		t.Fatalf("with AES hardware: DefaultSuites() = %v", got)
	}
	withAES := DefaultSuites()
	hasAESGCMHardware = false
	if got := DefaultSuites(); !slices.Equal(got, []Suite{ChaCha20Poly1305, AES128GCM}) {
		t.Fatalf("without AES hardware: DefaultSuites() = %v", got)
	}
	for name, ours := range map[string][]Suite{"responder with AES": withAES, "responder without": nil} {
		p := newTestPair(t, func(ic *InitiatorConfig, rc *ResponderConfig) {
			ic.Suites, rc.Suites = nil, ours
		})
		ini, res := p.run(t, t0)
		if ini.Suite != ChaCha20Poly1305 || res.Suite != ChaCha20Poly1305 {
			t.Errorf("%s: negotiated %v/%v, want ChaCha20-Poly1305", name, ini.Suite, res.Suite)
		}
		exchange(t, ini.Session, res.Session, 0, 5, t0)
	}
}

func TestConfigErrors(t *testing.T) {
	id := newTestIdentity(t, 1)
	peer := newTestIdentity(t, 2).Card()
	broken := peer
	broken.Sig[0] ^= 1
	for _, c := range []struct {
		name string
		cfg  InitiatorConfig
	}{
		{"no identity", InitiatorConfig{Peer: peer}},
		{"broken peer card", InitiatorConfig{Identity: id, Peer: broken}},
		{"reserved param type", InitiatorConfig{Identity: id, Peer: peer, Params: Params{{Type: 3}}}},
		{"param twice", InitiatorConfig{Identity: id, Peer: peer, Params: Params{{Type: 20}, {Type: 20}}}},
		{"params too long", InitiatorConfig{Identity: id, Peer: peer, Params: Params{{Type: 20, Value: make([]byte, 60)}}}},
	} {
		if _, err := NewInitiator(c.cfg); err == nil {
			t.Errorf("%s: NewInitiator accepted it", c.name)
		}
	}
	if _, err := NewResponder(ResponderConfig{}); err == nil {
		t.Error("NewResponder without identity accepted")
	}
	if _, err := NewResponder(ResponderConfig{Identity: id, Params: Params{{Type: 20, Value: make([]byte, 61)}}}); err == nil {
		t.Error("NewResponder with params too long accepted")
	}
	// The largest block that fits is accepted.
	if _, err := NewInitiator(InitiatorConfig{Identity: id, Peer: peer, Params: Params{{Type: 20, Value: make([]byte, MaxParamsLen-4-2)}}}); err != nil {
		t.Errorf("largest parameter block refused: %v", err)
	}
}

// TestParseParamsRefuses feeds parseParams one bad block per rule of the
// format; each must be refused with a reason, and the good block beside
// them must parse.
func TestParseParamsRefuses(t *testing.T) {
	// block builds a paramsLen-byte block from its leading bytes.
	block := func(lead ...byte) []byte {
		b := make([]byte, paramsLen)
		copy(b, lead)
		return b
	}
	// at writes v into b from index i.
	at := func(b []byte, i int, v ...byte) []byte {
		copy(b[i:], v)
		return b
	}
	good := block(paramsVersion, 1, 2, byte(AES128GCM), byte(ChaCha20Poly1305), 16, 1, 9, 200, 0)
	p, err := parseParams(good)
	if err != nil {
		t.Fatalf("good block refused: %v", err)
	}
	if want := "[{1 [1 2]} {16 [9]} {200 []}]"; fmt.Sprint(p) != want {
		t.Fatalf("good block parsed as %v, want %s", p, want)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[:paramsLen-1], "63 bytes"},
		{"long", append(bytes.Clone(good), 0), "65 bytes"},
		{"version 0", block(0, 16, 0), "version 0"},
		{"version 2", block(2, 16, 0), "version 2"},
		// An entry of type 16 fills bytes 1 to 60; the next one starts at 61.
		{"value past the end", at(block(paramsVersion, 16, 58), 61, 17, 5), "runs past"},
		{"length byte missing", at(block(paramsVersion, 16, 60), 63, 17), "runs past"},
		{"out of order", block(paramsVersion, 17, 0, 16, 0), "out of order"},
		{"repeated", block(paramsVersion, 16, 1, 1, 16, 0), "out of order or repeated"},
		{"padding not zero", func() []byte { b := bytes.Clone(good); b[paramsLen-1] = 1; return b }(), "padding"},
		{"entry after padding", block(paramsVersion, 16, 0, 0, 17, 0), "padding"},
	} {
		_, err := parseParams(c.b)
		if err == nil || !errors.Is(err, errParams) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %q", c.name, err, c.want)
		}
	}
}
