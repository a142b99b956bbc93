package sdmp

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MinKeyBits is the smallest RSA modulus this package signs with, verifies
// with or accepts in a PEM file or an identity document. SDMP 0.9
// (docs/cryptography) asks for "at least 2048 bits". It is a variable only
// so that a test can raise it; lowering it below 2048 breaks the spec.
var MinKeyBits = 2048

// symlMaxKeyBits bounds the keys we accept from others. The spec sets no
// upper bound, but an RSA verification costs about the square of the
// modulus size, so a peer could make every signature check expensive with a
// huge key; 16384 bits is also where Go's own RSA code stops.
const symlMaxKeyBits = 16384

// symlGenerateBits is the size of the keys we make: 3072 bits (D1), the
// size NIST SP 800-57 pairs with 128-bit security, above the spec's 2048
// minimum that is only good for about 112.
const symlGenerateBits = 3072

// GenerateKey makes a new 3072-bit RSA key for signing SYML documents (D1).
// It takes a second or so.
func GenerateKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, symlGenerateBits)
	if err != nil {
		return nil, fmt.Errorf("sdmp: generating an RSA key: %w", err)
	}
	return k, nil
}

// Fingerprint returns a key's SDMP key fingerprint: the lowercase hex
// SHA-256 of its DER SubjectPublicKeyInfo (D1), the bytes `openssl pkey
// -pubin -outform DER` prints, so that
//
//	openssl pkey -in key.pem -pubout -outform DER | sha256sum
//
// gives the same 64 characters. It returns "" for a nil or unusable key.
func Fingerprint(pub *rsa.PublicKey) string {
	if pub == nil || pub.N == nil {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ResourceID returns the SDMP resource identifier of a YAML stream: the
// lowercase hex SHA-256 of its exact bytes, from "---" through "..."
// (docs/resources). The signature block is not part of it, so the
// identifier of a resource is also its SYML stream digest.
func ResourceID(stream []byte) string {
	sum := sha256.Sum256(stream)
	return hex.EncodeToString(sum[:])
}

// symlCheckKeySize refuses keys outside [MinKeyBits, symlMaxKeyBits].
func symlCheckKeySize(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return errors.New("sdmp: no RSA key")
	}
	bits := pub.N.BitLen()
	if bits < MinKeyBits {
		return fmt.Errorf("sdmp: %d-bit RSA key is below the %d-bit minimum", bits, MinKeyBits)
	}
	if bits > symlMaxKeyBits {
		return fmt.Errorf("sdmp: %d-bit RSA key is above the %d-bit maximum", bits, symlMaxKeyBits)
	}
	return nil
}

// symlOnePEM decodes the one PEM block of b. Text before the block is
// skipped, as pem.Decode does (openssl writes none, but people paste keys
// under a comment); a second block is refused, so a file never holds a
// key we silently ignore.
func symlOnePEM(b []byte, what string) (*pem.Block, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		if strings.Contains(string(b), "-----BEGIN") {
			return nil, fmt.Errorf("sdmp: %s: PEM block is truncated or damaged", what)
		}
		return nil, fmt.Errorf("sdmp: %s: no PEM block found", what)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("sdmp: %s: more than one PEM block (a %q block follows the %q one)", what, next.Type, block.Type)
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, fmt.Errorf("sdmp: %s: the PEM block is encrypted; decrypt it first (openssl pkey -in FILE -out PLAIN.pem)", what)
	}
	return block, nil
}

// ParsePrivateKeyPEM reads an RSA private key in PEM, as openssl writes
// it: PKCS#8 ("PRIVATE KEY", what `openssl genpkey` writes) or PKCS#1
// ("RSA PRIVATE KEY", what `openssl genrsa -traditional` and older tools
// write). Encrypted keys, other algorithms and keys below MinKeyBits are
// refused with an error that says which.
func ParsePrivateKeyPEM(b []byte) (*rsa.PrivateKey, error) {
	block, err := symlOnePEM(b, "private key")
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sdmp: private key: PKCS#8: %v", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("sdmp: private key: a %s key; SDMP keys are RSA", symlKeyKind(k))
		}
		key = rk
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sdmp: private key: PKCS#1: %v", err)
		}
		key = k
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("sdmp: private key: the key is encrypted; decrypt it first (openssl pkey -in FILE -out PLAIN.pem)")
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, fmt.Errorf("sdmp: private key: found a %q block, a public key; signing needs the private key", block.Type)
	default:
		return nil, fmt.Errorf("sdmp: private key: a %q PEM block; want \"PRIVATE KEY\" (PKCS#8) or \"RSA PRIVATE KEY\" (PKCS#1)", block.Type)
	}
	if err := symlCheckKeySize(&key.PublicKey); err != nil {
		return nil, err
	}
	return key, nil
}

// ParsePublicKeyPEM reads an RSA public key in PEM: SubjectPublicKeyInfo
// ("PUBLIC KEY", what `openssl pkey -pubout` writes) or PKCS#1 ("RSA
// PUBLIC KEY"). Keys below MinKeyBits are refused. Given a private key it
// says so rather than deriving the public half, so that a private key is
// never handed around where a public one is meant.
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	block, err := symlOnePEM(b, "public key")
	if err != nil {
		return nil, err
	}
	var key *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sdmp: public key: SubjectPublicKeyInfo: %v", err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("sdmp: public key: a %s key; SDMP keys are RSA", symlKeyKind(k))
		}
		key = rk
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sdmp: public key: PKCS#1: %v", err)
		}
		key = k
	case "PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("sdmp: public key: found a %q block, a private key; extract the public key with openssl pkey -in FILE -pubout", block.Type)
	default:
		return nil, fmt.Errorf("sdmp: public key: a %q PEM block; want \"PUBLIC KEY\" (SubjectPublicKeyInfo) or \"RSA PUBLIC KEY\" (PKCS#1)", block.Type)
	}
	if err := symlCheckKeySize(key); err != nil {
		return nil, err
	}
	return key, nil
}

// MarshalPrivateKeyPEM writes k as a PKCS#8 "PRIVATE KEY" PEM block, the
// form `openssl genpkey` writes. It returns nil if k cannot be encoded (a
// damaged key).
func MarshalPrivateKeyPEM(k *rsa.PrivateKey) []byte {
	if k == nil {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// MarshalPublicKeyPEM writes k as a SubjectPublicKeyInfo "PUBLIC KEY" PEM
// block, the form `openssl pkey -pubout` writes; its DER bytes are what
// Fingerprint hashes and what an identity document carries. It returns nil
// if k cannot be encoded.
func MarshalPublicKeyPEM(k *rsa.PublicKey) []byte {
	if k == nil || k.N == nil {
		return nil
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// symlKeyKind names a non-RSA key for an error message.
func symlKeyKind(k any) string {
	switch k.(type) {
	case *ecdsa.PublicKey, *ecdsa.PrivateKey:
		return "ECDSA"
	case ed25519.PublicKey, ed25519.PrivateKey:
		return "Ed25519"
	case *ecdh.PublicKey, *ecdh.PrivateKey:
		return "X25519 (ECDH)"
	}
	return fmt.Sprintf("%T", k)
}
