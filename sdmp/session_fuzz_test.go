package sdmp

import (
	"bytes"
	"crypto/rsa"
	"testing"
	"time"
)

// The session's two parsers of network input, fuzzed: records (framing,
// authentication, inflation and padding) and connection messages (YAML,
// fields, signature, DH values). Neither may panic or hang, and what they
// accept must be consistent. The seeds are built deterministically here,
// so that the fuzz workers, which run this setup again, see the same ones;
// testdata/fuzz holds signed seeds, which cannot be (PSS is randomised).

// recordFuzzMax is the fuzzed opener's MaxDocument: small, so that a
// mutated DEFLATE stream reaches the limit quickly.
const recordFuzzMax = 1 << 16

// FuzzSessionRecord feeds arbitrary bytes three ways: as the peer's
// records on the wire (under a fixed key), as an opened plaintext to
// inflate (a peer that holds the key but breaks the format), and as a
// document to seal and open again.
func FuzzSessionRecord(f *testing.F) {
	s, _ := recordTestPair(f, recordTestKeyA, recordFuzzMax)
	var stream []byte
	for _, d := range []string{"", "hello", "---\nsdmp:\n  version: 0.9\n...", string(make([]byte, 1000))} {
		rec, err := s.seal([]byte(d))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Clone(rec))
		stream = append(stream, rec...)
	}
	f.Add(stream)
	f.Add([]byte("nope"))
	hello := recordDeflate([]byte("hello"))
	f.Add(recordPadded(hello, 256))
	f.Add(recordDeflate(make([]byte, 2*recordFuzzMax)))
	// One pair for the round trips, kept in step across executions:
	// making a DEFLATE compressor for each would dominate the run.
	rs, ro := recordTestPair(f, recordTestKeyB, recordFuzzMax)
	f.Fuzz(func(t *testing.T, b []byte) {
		// 1. Records on the wire. Nothing the fuzzer makes can carry a
		// valid tag except a seed's own, so a document out is a seed's.
		o, _ := recordNewOpener(recordTestKeyA, recordFuzzMax)
		r := bytes.NewReader(b)
		for first := true; ; first = false {
			doc, rerr := o.read(r, first)
			if rerr != nil {
				break
			}
			if len(doc) > recordFuzzMax {
				t.Fatalf("a %d-byte document past the %d limit", len(doc), recordFuzzMax)
			}
		}
		// 2. An opened plaintext.
		o, _ = recordNewOpener(recordTestKeyA, recordFuzzMax)
		if doc, err := o.inflate(bytes.Clone(b)); err == nil {
			if len(doc) > recordFuzzMax {
				t.Fatalf("inflated %d bytes past the %d limit", len(doc), recordFuzzMax)
			}
		}
		// 3. Any bytes, sealed and opened again, come back whole.
		if len(b) <= recordFuzzMax {
			rec, err := rs.seal(b)
			if err != nil {
				t.Fatal(err)
			}
			got, rerr := ro.read(bytes.NewReader(rec), false)
			if rerr != nil || !bytes.Equal(got, b) {
				t.Fatalf("round trip of %d bytes: %d bytes back, %v", len(b), len(got), rerr)
			}
		}
	})
}

// FuzzConnectionMessage parses arbitrary bytes as a connection message's
// YAML stream and as a whole SYML file from the node we dialled (alice).
func FuzzConnectionMessage(f *testing.F) {
	alice := &testKey(f, "alice.key").PublicKey
	created := time.Date(2015, 6, 18, 12, 0, 0, 0, time.UTC)
	good := sessionEmitConnMessage(created, 2, sessionPBytes, sessionTestShare(f))
	f.Add(good)
	f.Add(sessionEmitConnMessage(created, 2, []byte{1, 2, 3}, []byte{4, 5, 6}))
	f.Add([]byte("---\nsdmp: {version: 0.9, created: \"2015-06-18\", connection: {g: 2, p: !!binary AQID, N: !!binary BAUG}}\n..."))
	f.Add([]byte("---\nx: &a 1\nsdmp:\n  version: *a\n..."))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := sessionParseConnMessage(b); err == nil {
			again, err := sessionParseConnMessage(sessionEmitConnMessage(m.created, m.g, m.p, m.N))
			if err != nil {
				t.Fatalf("accepted %q, but its re-emitted form is refused: %v", b, err)
			}
			if again.g != m.g || !bytes.Equal(again.p, m.p) || !bytes.Equal(again.N, m.N) {
				t.Fatalf("re-emitted message parses as %+v, not %+v", again, m)
			}
			// sessionCheckShare is left out: its 2048-bit exponentiation
			// would slow every exec a hundredfold, its input checks are
			// a length and two comparisons, and TestSessionRefusedMessages
			// covers its edges.
		}
		peer, err := sessionAccept(b, []*rsa.PublicKey{alice}, 4, true)
		if err == nil {
			if peer.key != alice || peer.N == nil {
				t.Fatal("accepted without a signer or a share")
			}
			if s, err := ParseSYML(b); err != nil || s.Verify(alice) != nil {
				t.Fatal("accepted a message that alice's key does not verify")
			}
		}
	})
}
