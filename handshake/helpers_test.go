package handshake

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// t0 is the tests' clock origin; tests pass times, never read the clock.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// newTestIdentity returns the identity whose keys derive from seed, the
// same on every run.
func newTestIdentity(t testing.TB, seed uint64) *Identity {
	t.Helper()
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	r := rand.NewChaCha8(s)
	var keys [64]byte
	r.Read(keys[:])
	id, err := IdentityFromSeeds(keys[:32], keys[32:])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var srcA = mustAddr("127.0.0.1:4000")
var srcB = mustAddr("127.0.0.2:4000")

func mustAddr(s string) []byte {
	b, err := netip.MustParseAddrPort(s).MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// testPair is an initiator and a responder that know each other.
type testPair struct {
	ini    *Initiator
	res    *Responder
	iID    *Identity
	rID    *Identity
	iCfg   InitiatorConfig
	resCfg ResponderConfig
}

func newTestPair(t testing.TB, edit func(*InitiatorConfig, *ResponderConfig)) *testPair {
	t.Helper()
	p := &testPair{iID: newTestIdentity(t, 1), rID: newTestIdentity(t, 2)}
	p.iCfg = InitiatorConfig{Identity: p.iID, Peer: p.rID.Card(), LocalID: 0x1111}
	p.resCfg = ResponderConfig{Identity: p.rID}
	if edit != nil {
		edit(&p.iCfg, &p.resCfg)
	}
	var err error
	if p.ini, err = NewInitiator(p.iCfg); err != nil {
		t.Fatal(err)
	}
	if p.res, err = NewResponder(p.resCfg); err != nil {
		t.Fatal(err)
	}
	return p
}

// respond makes an initiation at time now and has the responder answer it
// with connection ID 0x2222, failing the test if either step fails.
func (p *testPair) respond(t testing.TB, now time.Time) (msg1, msg2 []byte, res *Established) {
	t.Helper()
	msg1, err := p.ini.Initiation(now)
	if err != nil {
		t.Fatal(err)
	}
	got, cookie, err := p.res.ConsumeInitiation(msg1, srcA, now)
	if err != nil || cookie != nil {
		t.Fatalf("ConsumeInitiation: err %v, cookie reply %d bytes", err, len(cookie))
	}
	msg2, res, err = got.Respond(0x2222, now)
	if err != nil {
		t.Fatal(err)
	}
	return msg1, msg2, res
}

// run does a whole handshake at time now and fails the test if it does not
// complete.
func (p *testPair) run(t testing.TB, now time.Time) (ini, res *Established) {
	t.Helper()
	_, msg2, res := p.respond(t, now)
	ini, err := p.ini.ConsumeResponse(msg2, now)
	if err != nil {
		t.Fatalf("ConsumeResponse: %v", err)
	}
	return ini, res
}

// exchange seals n packets each way and checks that they open to the same
// bytes on the other side.
func exchange(t testing.TB, a, b *Session, firstPN uint64, n int, now time.Time) {
	t.Helper()
	for i := range n {
		pn := firstPN + uint64(i)
		for _, dir := range []struct{ from, to *Session }{{a, b}, {b, a}} {
			msg := bytes.Repeat([]byte{byte(i)}, 100+i)
			hdr := []byte{0xC0, dir.from.Send.Phase(now), byte(pn)}
			sealed := dir.from.Send.Seal(nil, msg, pn, hdr)
			got, err := dir.to.Recv.Open(nil, sealed, pn, hdr[1], hdr, now)
			if err != nil {
				t.Fatalf("packet %d: %v", pn, err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("packet %d opened to different bytes", pn)
			}
		}
	}
}
