package sdmp

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestEncrypted(t *testing.T) {
	alice, bob := testKey(t, "alice.key"), testKey(t, "bob.key")
	carol, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("---\nsdmp:\n  version: 0.9\nmessage: \"for Alice and Bob\"\n...")
	e, err := SealEncrypted(plain, &alice.PublicKey, &bob.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Keys) != 2 || len(e.Data) != len(plain)+symlGCMOverhead {
		t.Fatalf("%d keys, %d bytes of data", len(e.Keys), len(e.Data))
	}
	for _, k := range []*rsa.PrivateKey{alice, bob} {
		got, err := e.Open(k)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open: %q, %v", got, err)
		}
	}
	if _, err := e.Open(carol); err == nil || !strings.Contains(err.Error(), "none of the 2 keys is for key") {
		t.Errorf("Carol opened it: %v", err)
	}
	// Each key is RSA-OAEP with SHA-256 of one 32-byte key (D13).
	k, err := rsa.DecryptOAEP(sha256.New(), nil, alice, e.Keys[0], nil)
	if err != nil || len(k) != 32 {
		t.Errorf("keys[0] is not RSA-OAEP-SHA-256 of a 32-byte key: %v", err)
	}
	// Fresh key and nonce each time.
	e2, _ := SealEncrypted(plain, &alice.PublicKey)
	if bytes.Equal(e2.Data, e.Data) || bytes.Equal(e2.Data[:12], e.Data[:12]) {
		t.Error("two seals share data or nonce")
	}

	// Damage.
	flipped := &Encrypted{Keys: e.Keys, Data: bytes.Clone(e.Data)}
	flipped.Data[20] ^= 1
	if _, err := flipped.Open(alice); err == nil || !strings.Contains(err.Error(), "does not authenticate") {
		t.Errorf("altered data: %v", err)
	}
	badKey := &Encrypted{Keys: [][]byte{bytes.Clone(e.Keys[0])}, Data: e.Data}
	badKey.Keys[0][5] ^= 1
	if _, err := badKey.Open(alice); err == nil || !strings.Contains(err.Error(), "none of the 1 keys") {
		t.Errorf("altered key: %v", err)
	}
	if _, err := (&Encrypted{Keys: e.Keys, Data: e.Data[:27]}).Open(alice); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short data: %v", err)
	}
	if _, err := e.Open(nil); err == nil {
		t.Error("opened with no key")
	}

	// A signed inner document is fine too.
	signed := mustSign(t, alice, plain)
	if e, err := SealEncrypted(signed, &bob.PublicKey); err != nil {
		t.Errorf("SYML plaintext: %v", err)
	} else if got, _ := e.Open(bob); !bytes.Equal(got, signed) {
		t.Error("SYML plaintext changed")
	}

	small := smallKey(t)
	many := make([]*rsa.PublicKey, 257)
	for i := range many {
		many[i] = &alice.PublicKey
	}
	for _, c := range []struct {
		name  string
		plain []byte
		to    []*rsa.PublicKey
		says  string
	}{
		{"not YAML", []byte("hello"), []*rsa.PublicKey{&alice.PublicKey}, "neither a YAML stream"},
		{"no recipients", plain, nil, "0 recipients"},
		{"too many recipients", plain, many, "257 recipients"},
		{"small key", plain, []*rsa.PublicKey{&alice.PublicKey, &small.PublicKey}, "recipient 1: 1024-bit RSA key is below"},
		{"nil key", plain, []*rsa.PublicKey{nil}, "recipient 0: no RSA key"},
	} {
		if _, err := SealEncrypted(c.plain, c.to...); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}

// TestEncryptedDocument: a sealed resource goes through a document and
// opens at the other end.
func TestEncryptedDocument(t *testing.T) {
	alice, bob := testKey(t, "alice.key"), testKey(t, "bob.key")
	secret := make([]byte, 5000)
	rand.Read(secret)
	inner, err := EncodeDocument(&Resource{Publisher: aliceFingerprint, Created: testDocuments(t, alice, bob)[0].(*Resource).Created, Document: symlMapNode("blob", symlBinaryNode(secret))})
	if err != nil {
		t.Fatal(err)
	}
	e, err := SealEncrypted(inner, &bob.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	outer := &Resource{Publisher: aliceFingerprint, Created: testDocuments(t, alice, bob)[0].(*Resource).Created, Encrypted: e}
	stream, err := EncodeDocument(outer)
	if err != nil {
		t.Fatal(err)
	}
	file := mustSign(t, alice, stream)
	d, _, err := OpenDocument(file, func(string) (*rsa.PublicKey, error) { return &alice.PublicKey, nil })
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.(*Resource).Encrypted.Open(bob)
	if err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("Open: %v", err)
	}
	back, err := DecodeDocument(got)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := symlBinary(back.(*Resource).Document.Content[1], "blob")
	if err != nil || !bytes.Equal(blob, secret) {
		t.Fatalf("inner document: %v", err)
	}
}
