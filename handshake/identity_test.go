package handshake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestCard(t *testing.T) {
	id, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	testCard(t, id.Card())

	// The last character of the public form carries four bits of the card
	// and two unused bits. Setting the unused bits must not give another
	// spelling of the same card; try it on many cards, so that every
	// value of the last character occurs.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for seed := range uint64(200) {
		s := newTestIdentity(t, seed).Card().String()
		v := strings.IndexByte(alphabet, s[len(s)-1])
		for bits := 1; bits < 4; bits++ {
			other := s[:len(s)-1] + string(alphabet[v^bits])
			if _, err := ParseCard(other); err == nil {
				t.Fatalf("%q and %q both parse", s, other)
			}
		}
	}
}

func testCard(t *testing.T, c Card) {
	t.Helper()
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	fp := c.Fingerprint()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(fp) {
		t.Fatalf("fingerprint %q is not 64 lowercase hex characters", fp)
	}
	want := sha256.Sum256(append(c.DH[:], c.Sign[:]...))
	if fp != hex.EncodeToString(want[:]) {
		t.Fatal("fingerprint is not SHA-256 of the X25519 and Ed25519 public keys")
	}

	s := c.String()
	if len(s) != 180 || strings.ContainsAny(s, " \n\t") || !strings.HasPrefix(s, "pydevts1:") {
		t.Fatalf("public form %q: want 180 characters on one line", s)
	}
	back, err := ParseCard("  " + s + "\n")
	if err != nil || back != c {
		t.Fatalf("ParseCard(String()) = %v, %v", back, err)
	}

	// As a JSON (or YAML) value, through MarshalText.
	j, _ := json.Marshal(map[string]Card{"peer": c})
	var m map[string]Card
	if err := json.Unmarshal(j, &m); err != nil || m["peer"] != c {
		t.Fatalf("JSON round trip: %v", err)
	}

	// Every damaged paste is caught: the signature checks the whole card.
	for i := len("pydevts1:"); i < len(s); i++ {
		b := []byte(s)
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		if _, err := ParseCard(string(b)); err == nil {
			t.Fatalf("character %d changed and the card still parsed", i)
		}
	}
	for _, bad := range []string{"", "pydevts1:", s[:100], "pydevts2:" + s[9:], s + "AA", strings.Replace(s, "pydevts1:", "", 1), s[:50] + "!" + s[51:]} {
		if _, err := ParseCard(bad); err == nil {
			t.Errorf("ParseCard(%.30q...) accepted", bad)
		}
	}
}

func TestIdentitySign(t *testing.T) {
	id := newTestIdentity(t, 5)
	sig := id.Sign([]byte("resource"))
	c := id.Card()
	if !c.VerifySignature([]byte("resource"), sig) {
		t.Fatal("signature does not verify")
	}
	if c.VerifySignature([]byte("resourcE"), sig) {
		t.Fatal("signature verifies another message")
	}
	// A card signature cannot be passed off as a document signature
	// without the context prefix, and vice versa.
	if c.VerifySignature(c.DH[:], c.Sig[:]) {
		t.Fatal("card signature verifies over the bare key: no domain separation")
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node.key")
	id := newTestIdentity(t, 6)
	if err := WriteKeyFile(path, id, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	back, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Card() != id.Card() {
		t.Fatal("loaded identity differs from the one written")
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte(id.Fingerprint())) || !bytes.Contains(data, []byte(id.Card().String())) {
		t.Error("key file does not name its fingerprint and public form")
	}

	// No silent overwrite...
	other := newTestIdentity(t, 7)
	if err := WriteKeyFile(path, other, false); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrite without force: got %v, want fs.ErrExist", err)
	}
	if back, _ := LoadKeyFile(path); back.Card() != id.Card() {
		t.Fatal("refused overwrite changed the file")
	}
	// ...but with it, atomically and still 0600.
	if err := WriteKeyFile(path, other, true); err != nil {
		t.Fatal(err)
	}
	if back, _ := LoadKeyFile(path); back.Card() != other.Card() {
		t.Fatal("forced overwrite did not replace the key")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("overwritten key file mode %04o, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := MarshalKeyFile(newTestIdentity(t, 6))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := write("open.key", good, 0o644)
	if _, err := LoadKeyFile(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: got %v, want an error that says chmod 600", err)
	}
	if _, err := LoadKeyFile(filepath.Join(dir, "missing.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	if _, err := LoadKeyFile(dir); err == nil {
		t.Error("a directory loaded as a key file")
	}
	if _, err := LoadKeyFile(write("big.key", bytes.Repeat([]byte("#\n"), maxKeyFileSize), 0o600)); err == nil {
		t.Error("oversized file accepted")
	}

	// Every truncation of a good file is refused with an error that says
	// so, never a panic and never a half identity.
	// (Cutting only the final newline leaves a complete file, so the loop
	// stops before that.)
	for n := 1; n < len(good)-1; n++ {
		if _, err := ParseKeyFile(good[:n]); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("file truncated to %d of %d bytes: got %v, want an error that says truncated", n, len(good), err)
		}
	}
	// The same through LoadKeyFile, which names the file.
	cut := write("cut.key", good[:len(good)/2], 0o600)
	if _, err := LoadKeyFile(cut); err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), cut) {
		t.Errorf("truncated key file: got %v, want an error naming the file and saying truncated", err)
	}

	// Keys of the wrong size in sound PKCS#8 and PEM: a 31-byte Ed25519
	// seed, and a 33-byte X25519 key.
	wrongSize := func(oid byte, n int) []byte {
		der := []byte{0x30, byte(14 + n), 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, oid, 0x04, byte(2 + n), 0x04, byte(n)}
		der = append(der, bytes.Repeat([]byte{7}, n)...)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	blocks := bytes.SplitAfter(good, []byte("-----END PRIVATE KEY-----\n"))
	for name, data := range map[string][]byte{
		"31-byte Ed25519 seed": slices.Concat(wrongSize(0x70, 31), blocks[1]),
		"33-byte X25519 key":   slices.Concat(blocks[0], wrongSize(0x6e, 33)),
	} {
		if _, err := LoadKeyFile(write("size.key", data, 0o600)); err == nil || !strings.Contains(err.Error(), "wrong length") {
			t.Errorf("%s: got %v, want an error that says wrong length", name, err)
		}
	}

	// A key of the wrong length inside otherwise sound PEM.
	id := newTestIdentity(t, 6)
	short := bytes.Replace(good, []byte("MC4CAQAw"), []byte("MC0CAQAw"), 1)
	for name, data := range map[string][]byte{
		"empty":            nil,
		"not PEM":          []byte("hello, I am not a key\n"),
		"raw key bytes":    bytes.Repeat([]byte{7}, 64),
		"wrong length key": short,
		"wrong block type": bytes.ReplaceAll(good, []byte("PRIVATE KEY"), []byte("PUBLIC KEY")),
		"one key only":     good[:bytes.Index(good, []byte("-----END"))+len("-----END PRIVATE KEY-----\n")],
		"signing key twice": func() []byte {
			i := bytes.Index(good, []byte("-----BEGIN"))
			j := bytes.Index(good, []byte("-----END")) + len("-----END PRIVATE KEY-----\n")
			return append(bytes.Clone(good[:j]), good[i:j]...)
		}(),
	} {
		if _, err := ParseKeyFile(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if back, err := ParseKeyFile(good); err != nil || back.Card() != id.Card() {
		t.Fatalf("good file: %v", err)
	}
}

// TestKeyFileOpenSSL reads our key file with openssl: the first PEM block is
// a standard Ed25519 PKCS#8 key whose public half is the card's signing key,
// and a signature made by Identity.Sign verifies with openssl.
func TestKeyFileOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("PYDEVTS_REQUIRE_TOOLS") != "" {
			t.Fatal("openssl not installed, and PYDEVTS_REQUIRE_TOOLS is set (as in CI)")
		}
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "node.key")
	id := newTestIdentity(t, 8)
	if err := WriteKeyFile(key, id, false); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(dir, "pub.pem")
	if out, err := exec.Command("openssl", "pkey", "-in", key, "-pubout", "-out", pub).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey: %v\n%s", err, out)
	}
	der, err := exec.Command("openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	card := id.Card()
	if !bytes.HasSuffix(der, card.Sign[:]) {
		t.Fatalf("openssl sees public key %x, card has %x", der, card.Sign)
	}
	msg := filepath.Join(dir, "msg")
	sig := filepath.Join(dir, "msg.sig")
	os.WriteFile(msg, []byte("signed by pydevts"), 0o600)
	os.WriteFile(sig, id.Sign([]byte("signed by pydevts")), 0o600)
	out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl did not verify our signature: %v\n%s", err, out)
	}
	os.WriteFile(msg, []byte("signed by pydevtS"), 0o600)
	if out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified a signature over another message:\n%s", out)
	}
}
