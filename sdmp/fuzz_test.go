package sdmp

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// The parsers of files and streams from other nodes have fuzz targets:
// nothing may panic, and what is accepted must be consistent. Their seed
// corpora (testdata/fuzz/<Name>) hold real files and streams; f.Add adds
// the documents of every kind.

// FuzzParseSYML: whatever ParseSYML accepts has a stream of the required
// form and a signature of a plausible size, and the same signature and
// stream written out as SignSYML writes them parse back to the same.
func FuzzParseSYML(f *testing.F) {
	alice := testKey(f, "alice.key")
	bob := testKey(f, "bob.key")
	f.Add(readTestdata(f, "alice-user.syml"))
	for _, d := range testDocuments(f, alice, bob)[:4] {
		stream, err := EncodeDocument(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(mustSign(f, alice, stream))
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		s, err := ParseSYML(file)
		if err != nil {
			if s != nil {
				t.Fatal("an error and a SYML")
			}
			return
		}
		if !bytes.HasPrefix(s.Stream, []byte("---")) || !bytes.HasSuffix(s.Stream, []byte("\n...")) {
			t.Fatalf("accepted stream %q", s.Stream)
		}
		if len(s.Signature)*8 < MinKeyBits {
			t.Fatalf("accepted a %d-byte signature", len(s.Signature))
		}
		// Rewrite it in our layout: the same SYML again.
		b64 := base64.StdEncoding.EncodeToString(s.Signature)
		var out []byte
		for len(b64) > 0 {
			n := min(symlLineWidth, len(b64))
			out = append(append(out, b64[:n]...), '\n')
			b64 = b64[n:]
		}
		again, err := ParseSYML(append(out, s.Stream...))
		if err != nil || !bytes.Equal(again.Signature, s.Signature) || !bytes.Equal(again.Stream, s.Stream) {
			t.Fatalf("rewritten, it parses differently: %v", err)
		}
		// Verification of whatever parsed must not panic, and a signature
		// that verifies still verifies after the rewrite.
		if s.Verify(&alice.PublicKey) == nil && again.Verify(&alice.PublicKey) != nil {
			t.Fatal("the rewritten file no longer verifies")
		}
	})
}

// FuzzDecodeDocument: whatever DecodeDocument accepts, EncodeDocument
// writes, and that encoding decodes to a document that encodes to the
// same bytes again (our subset is a fixed point), of the same kind and
// signer. Refusals are *DocumentError.
func FuzzDecodeDocument(f *testing.F) {
	alice := testKey(f, "alice.key")
	bob := testKey(f, "bob.key")
	f.Add(readTestdata(f, "alice-user.yaml"))
	for _, d := range testDocuments(f, alice, bob) {
		stream, err := EncodeDocument(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(stream)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		d, err := DecodeDocument(stream)
		if err != nil {
			if _, ok := err.(*DocumentError); !ok || d != nil {
				t.Fatalf("refused with %T %v and a document %v", err, err, d)
			}
			return
		}
		enc, err := EncodeDocument(d)
		if err != nil {
			t.Fatalf("a decoded document does not encode: %v\n%s", err, stream)
		}
		d2, err := DecodeDocument(enc)
		if err != nil {
			t.Fatalf("our encoding does not decode: %v\n%s", err, enc)
		}
		if d2.Kind() != d.Kind() || d2.Signer() != d.Signer() {
			t.Fatalf("kind %s signer %s became %s %s", d.Kind(), d.Signer(), d2.Kind(), d2.Signer())
		}
		enc2, err := EncodeDocument(d2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point (%v):\n%s\n%s", err, enc, enc2)
		}
	})
}
