package sdmp

import (
	"bytes"
	"crypto/rsa"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/alice-user.syml was signed by openssl, as in the research
// notes' recipe (section 2.5):
//
//	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
//	    -sign alice.key -out sig.bin alice-user.yaml
//	{ base64 -w 76 sig.bin; cat alice-user.yaml; } > alice-user.syml
//
// and its resource identifier is `sha256sum alice-user.yaml`.
const aliceUserID = "85c4bf460c3880380b2fb7a97365c622dc1858612af79a0f3f760051ac52c318"

func TestSYMLKnownAnswer(t *testing.T) {
	s, err := ParseSYML(readTestdata(t, "alice-user.syml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Stream, readTestdata(t, "alice-user.yaml")) {
		t.Fatalf("stream is not the signed bytes:\n%s", s.Stream)
	}
	if id := ResourceID(s.Stream); id != aliceUserID {
		t.Errorf("ResourceID = %s, sha256sum says %s", id, aliceUserID)
	}
	alice := testKey(t, "alice.key")
	if err := s.Verify(&alice.PublicKey); err != nil {
		t.Errorf("openssl's signature: %v", err)
	}
	bob := testKey(t, "bob.key")
	if err := s.Verify(&bob.PublicKey); err == nil || !strings.Contains(err.Error(), "does not verify with key 27c10dfab8dddeb8") {
		t.Errorf("verified with Bob's key: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	alice := testKey(t, "alice.key")
	stream := readTestdata(t, "alice-user.yaml")
	file, err := SignSYML(alice, stream)
	if err != nil {
		t.Fatal(err)
	}
	// 256 bytes of signature: 344 base64 characters in lines of 76, then
	// the stream and nothing after it.
	lines := strings.SplitAfter(string(file), "\n")
	for i, l := range lines[:5] {
		if want := 77; i < 4 && len(l) != want {
			t.Errorf("signature line %d is %d bytes with its newline, want %d", i, len(l), want)
		}
	}
	if lines[4] != strings.TrimSuffix(lines[4], "\n")+"\n" || len(lines[4]) != 344-4*76+1 {
		t.Errorf("last signature line %q", lines[4])
	}
	if !bytes.HasSuffix(file, stream) || len(file) != 344+5+len(stream) {
		t.Fatalf("file does not end with the stream as given:\n%s", file)
	}
	s, err := ParseSYML(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Stream, stream) {
		t.Fatal("parsed stream differs")
	}
	if err := s.Verify(&alice.PublicKey); err != nil {
		t.Fatal(err)
	}
	// PSS is randomised: two signatures differ, both verify.
	again, _ := SignSYML(alice, stream)
	if bytes.Equal(again, file) {
		t.Error("two signatures are equal; PSS salt is not random")
	}
	// The stream's own bytes, CRLF and all, are what is signed.
	crlf := []byte(strings.ReplaceAll(string(stream), "\n", "\r\n"))
	file, err = SignSYML(alice, crlf)
	if err != nil {
		t.Fatal(err)
	}
	file = []byte(strings.ReplaceAll(string(file[:bytes.IndexByte(file, '-')]), "\n", "\r\n") + string(crlf))
	for _, tail := range []string{"", "\n", "\r\n"} {
		s, err := ParseSYML(append(bytes.Clone(file), tail...))
		if err != nil {
			t.Fatalf("CRLF file + %q: %v", tail, err)
		}
		if !bytes.Equal(s.Stream, crlf) || s.Verify(&alice.PublicKey) != nil {
			t.Fatalf("CRLF file + %q does not verify", tail)
		}
	}
}

func TestSYMLErrors(t *testing.T) {
	alice := testKey(t, "alice.key")
	stream := readTestdata(t, "alice-user.yaml")
	good, err := SignSYML(alice, stream)
	if err != nil {
		t.Fatal(err)
	}
	sigEnd := bytes.IndexByte(good, '-')
	with := func(edit func(b []byte) []byte) []byte { return edit(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		file []byte
		says string
	}{
		{"empty", nil, `no YAML stream`},
		{"no stream", good[:sigEnd], `no YAML stream`},
		{"no signature", stream, `no signature before "---"`},
		{"only line breaks", append([]byte("\n\r\n"), stream...), `no signature before "---"`},
		{"truncated in the signature", good[3:], `not valid base64`},
		{"truncated signature, whole lines", append(bytes.Clone(good[:77*3]), stream...), `too short for a 2048-bit key`},
		{"truncated in the stream", good[:len(good)-20], `does not end with a "..." line`},
		{"truncated in the marker", good[:len(good)-1], `does not end with a "..." line`},
		{"bad base64 character", with(func(b []byte) []byte { b[10] = '*'; return b }), `signature line 1: '*' is not a base64 character`},
		{"base64url", with(func(b []byte) []byte { b[80] = '_'; return b }), `signature line 2: '_' is not a base64`},
		{"base64url dash", with(func(b []byte) []byte { b[80] = '-'; return b }), `'-' is not a standard base64 character`},
		{"space in signature", with(func(b []byte) []byte { b[5] = ' '; return b }), `' ' is not a base64 character`},
		{"lone carriage return", with(func(b []byte) []byte { b[76] = '\r'; return b }), `carriage return not followed by a line feed`},
		{"padding inside", with(func(b []byte) []byte { b[40] = '='; return b }), `not valid base64`},
		{"no line break before ---", append(bytes.Clone(good[:sigEnd-1]), stream...), `must end with a line break`},
		{"trailing garbage", append(bytes.Clone(good), "\nmore"...), `trailing data after "..."`},
		{"trailing space", append(bytes.Clone(good), ' '), `trailing data after "...": " " (only one line break`},
		{"two trailing newlines", append(bytes.Clone(good), "\n\n"...), `trailing data after "..."`},
		{"second document", append(bytes.Clone(good), "\n---\nx: 1"...), `trailing data after "..."`},
		{"---x", append(bytes.Clone(good[:sigEnd]), "---x\n..."...), `not with the document marker "---" and a line break`},
		{"-- only", append(bytes.Clone(good[:sigEnd]), "--\n..."...), `not with "---"`},
		{"huge signature block", append(bytes.Repeat([]byte("AAAA\n"), 4000), stream...), `longer than a 16384-bit key's signature`},
	} {
		_, err := ParseSYML(c.file)
		if err == nil || !strings.Contains(err.Error(), c.says) || !strings.HasPrefix(err.Error(), "sdmp: SYML: ") {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.says)
		}
	}

	// Verification failures.
	bob := testKey(t, "bob.key")
	s, _ := ParseSYML(good)
	altered := &SYML{Signature: s.Signature, Stream: bytes.Replace(s.Stream, []byte("Alice"), []byte("Alicf"), 1)}
	flipped := &SYML{Signature: bytes.Clone(s.Signature), Stream: s.Stream}
	flipped.Signature[100] ^= 1
	small := smallKey(t)
	for _, c := range []struct {
		name string
		s    *SYML
		key  *rsa.PublicKey
		says string
	}{
		{"wrong key", s, &bob.PublicKey, "does not verify with key 27c10dfab8dddeb8"},
		{"altered stream", altered, &alice.PublicKey, "does not verify"},
		{"altered signature", flipped, &alice.PublicKey, "does not verify"},
		{"1024-bit key", s, &small.PublicKey, "1024-bit RSA key is below the 2048-bit minimum"},
		{"signature of another size", &SYML{Signature: s.Signature[:255], Stream: s.Stream}, &alice.PublicKey, "the signature is 255 bytes"},
		{"no key", s, nil, "no RSA key"},
		{"nil SYML", nil, &alice.PublicKey, "nothing to verify"},
	} {
		err := c.s.Verify(c.key)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.says)
		}
	}

	// Signing failures.
	for _, c := range []struct {
		name   string
		key    *rsa.PrivateKey
		stream string
		says   string
	}{
		{"1024-bit key", small, string(stream), "below the 2048-bit minimum"},
		{"no key", nil, string(stream), "no signing key"},
		{"no ---", alice, "sdmp: {}\n...", `not with "---"`},
		{"no ...", alice, "---\nsdmp: {}\n", `does not end with a "..." line`},
		{"trailing newline", alice, string(stream) + "\n", `trailing data after "..."`},
	} {
		_, err := SignSYML(c.key, []byte(c.stream))
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("sign, %s: error %v, want one saying %q", c.name, err, c.says)
		}
	}
}

// TestSYMLOpenSSL cross-checks signatures with the openssl CLI both ways.
func TestSYMLOpenSSL(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	alice := testKey(t, "alice.key")
	priv := filepath.Join("testdata", "alice.key")
	pub := filepath.Join("testdata", "alice.pub")
	stream := []byte("---\nsdmp:\n  version: 0.9\n  note: \"cross-checked with openssl\"\n...")
	streamFile := file("stream.yaml", stream)

	// Ours verifies with openssl, salt length auto.
	signed, err := SignSYML(alice, stream)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ParseSYML(signed)
	sigFile := file("ours.sig", s.Signature)
	verify := func(sig, data string) ([]byte, error) {
		return exec.Command("openssl", "dgst", "-sha256", "-verify", pub,
			"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto",
			"-signature", sig, data).CombinedOutput()
	}
	if out, err := verify(sigFile, streamFile); err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl does not verify our signature: %v\n%s", err, out)
	}
	// ...and only over the stream we signed.
	other := file("other.yaml", bytes.Replace(stream, []byte("openssl"), []byte("OpenSSL"), 1))
	if out, err := verify(sigFile, other); err == nil {
		t.Fatalf("openssl verified our signature over another stream:\n%s", out)
	}
	// We sign with a 32-byte salt: openssl insists on that length too.
	if out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pub,
		"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
		"-signature", sigFile, streamFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl with salt length 32: %v\n%s", err, out)
	}

	// openssl's verify with ours: salt 32 (the SYML recipe) and openssl's
	// default salt (as large as fits), which Verify accepts too.
	for _, salt := range []string{"32", "max"} {
		sig := filepath.Join(dir, "openssl-"+salt+".sig")
		if out, err := exec.Command("openssl", "dgst", "-sha256", "-sign", priv,
			"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:"+salt,
			"-out", sig, streamFile).CombinedOutput(); err != nil {
			t.Fatalf("openssl sign: %v\n%s", err, out)
		}
		b64, err := exec.Command("openssl", "base64", "-in", sig).Output() // 64 columns
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSYML(append(b64, stream...))
		if err != nil {
			t.Fatalf("salt %s: %v", salt, err)
		}
		if err := s.Verify(&alice.PublicKey); err != nil {
			t.Errorf("openssl's signature, salt %s: %v", salt, err)
		}
	}
}
