package sdmp

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The keys in testdata were made with OpenSSL 3 for these tests only:
//
//	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out alice.key
//	openssl pkey -in alice.key -pubout -out alice.pub
//	openssl pkey -in alice.key -traditional -out alice-pkcs1.key
//	openssl rsa -in alice.key -RSAPublicKey_out -out alice-pkcs1.pub
//	(bob.key likewise; small.key with 1024 bits; ed25519.key, ecdsa.key;
//	encrypted.key with -aes256 -pass pass:secret)
//
// and the fingerprints below with
//
//	openssl pkey -pubin -in alice.pub -outform DER | sha256sum
const (
	aliceFingerprint = "fa11fdfea53c1a923d744e815d4f9eb9bcbd04c1f195341897b3d8f3ac349a3b"
	bobFingerprint   = "27c10dfab8dddeb8f50b34bdc5a7873af543be683f2060f432091953ef28a0a5"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testKey reads a private key from testdata.
func testKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := ParsePrivateKeyPEM(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

// smallKey is testdata/small.key, a 1024-bit key that ParsePrivateKeyPEM
// refuses, read past the check.
func smallKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(readTestdata(t, "small.key"))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// needOpenSSL skips a test when the openssl CLI is missing, except in CI
// (PYDEVTS_REQUIRE_TOOLS), where it must run.
func needOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("PYDEVTS_REQUIRE_TOOLS") != "" {
			t.Fatal("openssl not installed, and PYDEVTS_REQUIRE_TOOLS is set (as in CI)")
		}
		t.Skip("openssl not installed")
	}
}

func TestKeyKnownAnswers(t *testing.T) {
	alice := testKey(t, "alice.key")
	if fp := Fingerprint(&alice.PublicKey); fp != aliceFingerprint {
		t.Errorf("Fingerprint(alice) = %s, openssl says %s", fp, aliceFingerprint)
	}
	if fp := Fingerprint(&testKey(t, "bob.key").PublicKey); fp != bobFingerprint {
		t.Errorf("Fingerprint(bob) = %s, openssl says %s", fp, bobFingerprint)
	}
	// Every form of Alice's key is the same key.
	for _, name := range []string{"alice.pub", "alice-pkcs1.pub"} {
		pub, err := ParsePublicKeyPEM(readTestdata(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !pub.Equal(&alice.PublicKey) {
			t.Errorf("%s is not Alice's public key", name)
		}
	}
	if k := testKey(t, "alice-pkcs1.key"); !k.Equal(alice) {
		t.Error("alice-pkcs1.key is not Alice's key")
	}
	// We write what openssl wrote: PKCS#8 and SPKI, byte for byte.
	if got, want := MarshalPrivateKeyPEM(alice), readTestdata(t, "alice.key"); !bytes.Equal(got, want) {
		t.Errorf("MarshalPrivateKeyPEM:\n%s\nwant (openssl):\n%s", got, want)
	}
	if got, want := MarshalPublicKeyPEM(&alice.PublicKey), readTestdata(t, "alice.pub"); !bytes.Equal(got, want) {
		t.Errorf("MarshalPublicKeyPEM:\n%s\nwant (openssl):\n%s", got, want)
	}
	// ResourceID: `printf -- '---\n...' | sha256sum`.
	if id := ResourceID([]byte("---\n...")); id != "cac771be9d0b7aa980035509188c8f23ee56f4f5b0ec78700f30ff905bb3ba36" {
		t.Errorf("ResourceID = %s", id)
	}
	if Fingerprint(nil) != "" || Fingerprint(&rsa.PublicKey{}) != "" {
		t.Error("Fingerprint of no key is not empty")
	}
	if MarshalPrivateKeyPEM(nil) != nil || MarshalPublicKeyPEM(nil) != nil {
		t.Error("marshalling no key gave bytes")
	}
}

func TestGenerateKey(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.N.BitLen() != 3072 {
		t.Errorf("GenerateKey made %d bits, want 3072", k.N.BitLen())
	}
	back, err := ParsePrivateKeyPEM(MarshalPrivateKeyPEM(k))
	if err != nil || !back.Equal(k) {
		t.Fatalf("private key round trip: %v", err)
	}
	pub, err := ParsePublicKeyPEM(MarshalPublicKeyPEM(&k.PublicKey))
	if err != nil || !pub.Equal(&k.PublicKey) || Fingerprint(pub) != Fingerprint(&k.PublicKey) {
		t.Fatalf("public key round trip: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	alice := readTestdata(t, "alice.key")
	alicePub := readTestdata(t, "alice.pub")
	damaged := bytes.Replace(alice, []byte("MII"), []byte("MIJ"), 1)
	for _, c := range []struct {
		name   string
		pem    []byte
		public bool
		says   string
	}{
		{"empty", nil, false, "no PEM block"},
		{"garbage", []byte("not a key"), true, "no PEM block"},
		{"truncated", alice[:len(alice)/2], false, "truncated"},
		{"truncated public", alicePub[:len(alicePub)-10], true, "truncated"},
		{"damaged DER", damaged, false, "PKCS#8"},
		{"ed25519", readTestdata(t, "ed25519.key"), false, "Ed25519 key; SDMP keys are RSA"},
		{"ecdsa", readTestdata(t, "ecdsa.key"), false, "ECDSA key"},
		{"1024 bits", readTestdata(t, "small.key"), false, "1024-bit RSA key is below the 2048-bit minimum"},
		{"1024 bits public", readTestdata(t, "small.pub"), true, "1024-bit RSA key is below"},
		{"encrypted", readTestdata(t, "encrypted.key"), false, "encrypted"},
		{"public as private", alicePub, false, "public key; signing needs the private key"},
		{"private as public", alice, true, "a private key; extract the public key"},
		{"two blocks", append(bytes.Clone(alice), readTestdata(t, "bob.key")...), false, "more than one PEM block"},
		{"certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), true, `"CERTIFICATE" PEM block`},
		{"legacy encrypted", []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"), false, "encrypted"},
	} {
		var err error
		if c.public {
			_, err = ParsePublicKeyPEM(c.pem)
		} else {
			_, err = ParsePrivateKeyPEM(c.pem)
		}
		if err == nil || !strings.Contains(err.Error(), c.says) || !strings.HasPrefix(err.Error(), "sdmp: ") {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.says)
		}
	}
	// A comment before the block is fine, as pem.Decode allows.
	if _, err := ParsePublicKeyPEM(append([]byte("Alice's key:\n"), alicePub...)); err != nil {
		t.Errorf("key after a comment line: %v", err)
	}
}

// TestFingerprintOpenSSL checks Fingerprint against openssl for a fresh key
// (the constants above cover the committed ones).
func TestFingerprintOpenSSL(t *testing.T) {
	needOpenSSL(t)
	k := testKey(t, "bob.key")
	pubFile := filepath.Join(t.TempDir(), "pub.pem")
	os.WriteFile(pubFile, MarshalPublicKeyPEM(&k.PublicKey), 0o600)
	der, err := exec.Command("openssl", "pkey", "-pubin", "-in", pubFile, "-outform", "DER").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Fingerprint(&k.PublicKey), ResourceID(der); got != want {
		t.Errorf("Fingerprint %s, SHA-256 of openssl's DER %s", got, want)
	}
}
