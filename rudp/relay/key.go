package relay

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/salsa20/salsa"
)

// KeySize is the size of a Curve25519 public or secret key.
const KeySize = 32

// A PublicKey is a Curve25519 public key: a relay's long-term key, a
// client's announced key (the key other clients route to), or a temporary
// session key.
type PublicKey [KeySize]byte

// String returns the key as 64 upper-case hex digits, the form Tox tools
// print (tox-bootstrapd's "Public Key:").
func (k PublicKey) String() string { return strings.ToUpper(hex.EncodeToString(k[:])) }

// ParsePublicKey reads 64 hex digits, in either case; white space around
// them is ignored.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	s = strings.TrimSpace(s)
	if len(s) != 2*KeySize {
		return k, fmt.Errorf("relay: public key is %d characters, want %d hex digits", len(s), 2*KeySize)
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("relay: public key is not hex: %v", err)
	}
	return k, nil
}

// MarshalText implements encoding.TextMarshaler with String's form.
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePublicKey.
func (k *PublicKey) UnmarshalText(b []byte) error {
	v, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// A KeyPair is a Curve25519 key pair. Its zero value is not a usable key
// pair; configurations read the zero value as "make a fresh one".
type KeyPair struct {
	Public PublicKey
	Secret [KeySize]byte
}

// NewKeyPair makes a key pair from crypto/rand.
func NewKeyPair() (KeyPair, error) {
	var sk [KeySize]byte
	if _, err := rand.Read(sk[:]); err != nil {
		return KeyPair{}, fmt.Errorf("relay: reading randomness for a key: %w", err)
	}
	return KeyPairFromSecret(sk[:])
}

// KeyPairFromSecret returns the key pair of a 32-byte secret key: any 32
// bytes are a valid Curve25519 secret (they are clamped when used). A
// pydevts identity's X25519 private key, crypto/ecdh's Bytes, is one.
func KeyPairFromSecret(secret []byte) (KeyPair, error) {
	priv, err := ecdh.X25519().NewPrivateKey(secret)
	if err != nil {
		return KeyPair{}, fmt.Errorf("relay: secret key: %v", err)
	}
	var kp KeyPair
	copy(kp.Secret[:], secret)
	copy(kp.Public[:], priv.PublicKey().Bytes())
	return kp, nil
}

func (kp *KeyPair) isZero() bool { return *kp == KeyPair{} }

// orFresh makes a zero kp (a config's default) a fresh key pair.
func (kp *KeyPair) orFresh() error {
	if !kp.isZero() {
		return nil
	}
	var err error
	*kp, err = NewKeyPair()
	return err
}

// errLowOrder is the error for a peer key whose shared secret with any key
// is all zeros (a point of small order): whoever sends one could
// impersonate it without a secret key, so it is refused.
var errLowOrder = errors.New("relay: peer's public key is a point of small order")

// precompute returns NaCl's crypto_box_beforenm(peer, secret): the X25519
// shared secret hashed by HSalsa20 with a zero input, which is what
// nacl/box.Precompute computes, except that a low-order peer key is an
// error here instead of a key everyone knows.
func precompute(peer *PublicKey, secret *[KeySize]byte) (key [32]byte, err error) {
	shared, err := curve25519.X25519(secret[:], peer[:])
	if err != nil {
		return key, errLowOrder
	}
	var zeros [16]byte
	var s [32]byte
	copy(s[:], shared)
	salsa.HSalsa20(&key, &zeros, &s, &salsa.Sigma)
	return key, nil
}
