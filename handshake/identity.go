package handshake

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// cardContext separates identity-card signatures from anything else the
// signing key may sign (SDMP documents, for one). The NUL ends the text so
// no other context can be a prefix of it.
const cardContext = "pydevts identity card v1\x00"

// CardSize is the length of a Card in binary form.
const CardSize = 32 + 32 + ed25519.SignatureSize

// cardPrefix starts the one-line public form, so a pasted string says what it
// is and a future format can be told apart.
const cardPrefix = "pydevts1:"

// A Card is the public half of an identity: the X25519 key that others use
// in key exchange, the Ed25519 key the node signs with, and the Ed25519
// signature of the X25519 key, which binds the two into one identity. A Card
// whose signature does not verify is never returned by this package.
type Card struct {
	DH   [32]byte                    // X25519 public key
	Sign [32]byte                    // Ed25519 public key
	Sig  [ed25519.SignatureSize]byte // Ed25519 signature by Sign over cardContext and DH
}

func cardMessage(dh []byte) []byte {
	return append([]byte(cardContext), dh...)
}

// Verify reports whether the card's signature binds its two keys.
func (c Card) Verify() error {
	if !ed25519.Verify(c.Sign[:], cardMessage(c.DH[:]), c.Sig[:]) {
		return errors.New("handshake: identity card signature does not verify")
	}
	return nil
}

// Fingerprint is the lowercase hex SHA-256 of the card's two public keys,
// X25519 first: 64 characters that name the node, as SDMP names nodes.
func (c Card) Fingerprint() string {
	h := sha256.New()
	h.Write(c.DH[:])
	h.Write(c.Sign[:])
	return hex.EncodeToString(h.Sum(nil))
}

// AppendBinary appends the card's CardSize bytes to b.
func (c Card) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, c.DH[:]...)
	b = append(b, c.Sign[:]...)
	return append(b, c.Sig[:]...), nil
}

// ParseCardBinary reads a card from its CardSize-byte form and verifies it.
func ParseCardBinary(b []byte) (Card, error) {
	var c Card
	if len(b) != CardSize {
		return c, fmt.Errorf("handshake: identity card is %d bytes, want %d", len(b), CardSize)
	}
	copy(c.DH[:], b[0:32])
	copy(c.Sign[:], b[32:64])
	copy(c.Sig[:], b[64:])
	if err := c.Verify(); err != nil {
		return Card{}, err
	}
	return c, nil
}

// String returns the card's one-line public form, "pydevts1:" followed by
// the card in unpadded base64url: 180 characters that fit a flag or a YAML
// value and verify themselves when parsed, so a damaged paste is caught.
func (c Card) String() string {
	b, _ := c.AppendBinary(make([]byte, 0, CardSize))
	return cardPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseCard reads the one-line public form that String writes. Surrounding
// white space is ignored.
func ParseCard(s string) (Card, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, cardPrefix)
	if !ok {
		return Card{}, fmt.Errorf("handshake: public identity must start with %q", cardPrefix)
	}
	// Strict: the last character's unused bits must be zero, so each card
	// has exactly one public form and any changed character is refused.
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil {
		return Card{}, fmt.Errorf("handshake: public identity is not valid base64url: %v", err)
	}
	return ParseCardBinary(b)
}

// MarshalText implements encoding.TextMarshaler with the one-line form, so
// a Card can be a YAML or JSON value.
func (c Card) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseCard.
func (c *Card) UnmarshalText(b []byte) error {
	v, err := ParseCard(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// An Identity is a node's key pairs: X25519 for key exchange and Ed25519 for
// signing. It is safe for concurrent use.
type Identity struct {
	dh   *ecdh.PrivateKey
	sign ed25519.PrivateKey
	card Card

	// lastStamp is the newest initiation timestamp this identity has sent,
	// so that timestamps stay strictly increasing even when several
	// connections start within one clock tick (see Initiator.Initiation).
	lastStamp atomic.Uint64
}

// NewIdentity makes a new identity from crypto/rand.
func NewIdentity() (*Identity, error) {
	var seeds [64]byte
	if _, err := rand.Read(seeds[:]); err != nil {
		return nil, fmt.Errorf("handshake: reading randomness for a new identity: %w", err)
	}
	return IdentityFromSeeds(seeds[:32], seeds[32:])
}

// IdentityFromSeeds makes the identity whose X25519 private key is dhKey and
// whose Ed25519 private key derives from the 32-byte signSeed (RFC 8032).
func IdentityFromSeeds(dhKey, signSeed []byte) (*Identity, error) {
	dh, err := ecdh.X25519().NewPrivateKey(dhKey)
	if err != nil {
		return nil, fmt.Errorf("handshake: X25519 private key: %v", err)
	}
	if len(signSeed) != ed25519.SeedSize {
		return nil, fmt.Errorf("handshake: Ed25519 seed is %d bytes, want %d", len(signSeed), ed25519.SeedSize)
	}
	id := &Identity{dh: dh, sign: ed25519.NewKeyFromSeed(signSeed)}
	copy(id.card.DH[:], dh.PublicKey().Bytes())
	copy(id.card.Sign[:], id.sign.Public().(ed25519.PublicKey))
	copy(id.card.Sig[:], ed25519.Sign(id.sign, cardMessage(id.card.DH[:])))
	return id, nil
}

// Card returns the identity's public card.
func (id *Identity) Card() Card { return id.card }

// DHPrivateKey returns the identity's X25519 private key, for a protocol
// that must hold the key itself: a Tox TCP relay (package rudp/relay)
// announces itself with the node's X25519 key, so that a relay run from a
// node's key file is known by the key in the node's Card. The Noise
// handshake and the relay's NaCl box hash the shared secret differently
// (BLAKE2s HKDF, HSalsa20) and neither protocol answers with anything the
// other would accept, so one key can serve both.
func (id *Identity) DHPrivateKey() *ecdh.PrivateKey { return id.dh }

// Fingerprint returns the fingerprint of the identity's card.
func (id *Identity) Fingerprint() string { return id.card.Fingerprint() }

// Sign signs message with the identity's Ed25519 key. Whoever holds the Card
// can check the result with Card.VerifySignature.
func (id *Identity) Sign(message []byte) []byte { return ed25519.Sign(id.sign, message) }

// VerifySignature reports whether sig is the card owner's Ed25519 signature
// of message.
func (c Card) VerifySignature(message, sig []byte) bool {
	return ed25519.Verify(c.Sign[:], message, sig)
}

// stamp returns a timestamp for a new initiation: the wall clock in
// nanoseconds, but always above the previous one, so that the responder's
// replay check ("newer than the last one seen") never refuses an honest
// initiation made in the same tick as the one before.
func (id *Identity) stamp(now time.Time) uint64 {
	t := uint64(now.UnixNano())
	for {
		last := id.lastStamp.Load()
		next := max(t, last+1)
		if id.lastStamp.CompareAndSwap(last, next) {
			return next
		}
	}
}
