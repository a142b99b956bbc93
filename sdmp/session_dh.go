package sdmp

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
)

// The Diffie-Hellman group of every SDMP session: RFC 3526 group 14, the
// 2048-bit MODP group with generator 2 (decision D6). The spec lets each
// side send its own g and p and says nothing about a mismatch; fixing one
// well-known safe prime means nobody has to check an arbitrary prime for
// primality or a trapdoor, and a peer that sends anything else is refused.
//
// p = 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 ), a safe prime:
// q = (p-1)/2 is prime too, so the group has only the subgroups of order
// 1, 2, q and 2q, and "1 < N < p-1 and N^q = 1" leaves exactly the
// elements of the large prime-order subgroup.
const sessionGroup14Hex = "" +
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1" +
	"29024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
	"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245" +
	"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
	"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D" +
	"C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
	"83655D23DCA3AD961C62F356208552BB9ED529077096966D" +
	"670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
	"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9" +
	"DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
	"15728E5A8AACAA68FFFFFFFFFFFFFFFF"

// sessionGroupG is the generator of group 14.
const sessionGroupG = 2

// sessionSecretBytes is the size of each connection's fresh DH exponent:
// 256 bits, the "at least 256 bits" of D6. Group 14 gives about 110 bits
// of security; RFC 3526 section 8 asks for an exponent of twice the
// strength, so 256 random bits is more than enough, and a short exponent
// keeps each exponentiation fast.
const sessionSecretBytes = 32

var (
	sessionP      = sessionMustHex(sessionGroup14Hex)
	sessionPBytes = sessionP.Bytes() // 256 bytes, the wire form of p
	sessionPMinus = new(big.Int).Sub(sessionP, big.NewInt(1))
	sessionQ      = new(big.Int).Rsh(sessionP, 1) // (p-1)/2; p is odd
	sessionG      = big.NewInt(sessionGroupG)
	sessionOne    = big.NewInt(1)
)

func sessionMustHex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("sdmp: bad group constant")
	}
	return n
}

// sessionDH is one side's ephemeral Diffie-Hellman share for one
// connection. The secret is never reused: a new connection makes a new
// sessionDH, which is where SDMP's forward secrecy comes from.
//
// math/big is not constant-time. Each secret is used for exactly two
// exponentiations (its share and the shared secret) and then dropped, so
// an attacker who can time them sees two samples per secret; that is the
// accepted cost of staying inside the standard library.
type sessionDH struct {
	secret *big.Int
	public []byte // N = g^n mod p, big-endian, left-padded to len(p)
}

// sessionNewDH draws a fresh secret from rand and computes its share.
func sessionNewDH(rand io.Reader) (*sessionDH, error) {
	var b [sessionSecretBytes]byte
	n := new(big.Int)
	for n.Cmp(sessionOne) <= 0 { // 0 and 1 are weak; a 2^-255 event
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("sdmp: DH secret: %w", err)
		}
		n.SetBytes(b[:])
	}
	N := new(big.Int).Exp(sessionG, n, sessionP)
	return &sessionDH{secret: n, public: N.FillBytes(make([]byte, len(sessionPBytes)))}, nil
}

// errSessionGroup and errSessionShare are what a peer's unacceptable DH
// values produce. Both end in "nope"; the text is only for our caller.
var (
	errSessionGroup = fmt.Errorf("%w: the DH group is not RFC 3526 group 14 (g=2, 2048-bit p)", ErrConnectionMessage)
	errSessionShare = fmt.Errorf("%w: the DH value N is not in the prime-order subgroup", ErrConnectionMessage)
)

// sessionCheckGroup accepts only our own g and p, byte for byte.
func sessionCheckGroup(g int64, p []byte) error {
	if g != sessionGroupG || string(p) != string(sessionPBytes) {
		return errSessionGroup
	}
	return nil
}

// sessionCheckShare parses a peer's N: exactly len(p) bytes (left-padded,
// as we send it), 1 < N < p-1, and N^q = 1 mod p. The last check refuses
// the elements of order 2q that pass the range check; with the first two
// it leaves only the subgroup of prime order q, so a malicious share
// cannot confine the shared secret to a small set.
func sessionCheckShare(N []byte) (*big.Int, error) {
	if len(N) != len(sessionPBytes) {
		return nil, fmt.Errorf("%w (%d bytes, want %d)", errSessionShare, len(N), len(sessionPBytes))
	}
	n := new(big.Int).SetBytes(N)
	if n.Cmp(sessionOne) <= 0 || n.Cmp(sessionPMinus) >= 0 {
		return nil, errSessionShare
	}
	if new(big.Int).Exp(n, sessionQ, sessionP).Cmp(sessionOne) != 0 {
		return nil, errSessionShare
	}
	return n, nil
}

// Labels of the two directions (D7). "i2r" protects what the initiator
// sends, "r2i" what the responder sends.
const (
	sessionInfoI2R = "sdmp0.9 i2r"
	sessionInfoR2I = "sdmp0.9 r2i"
)

// sessionKeyBytes: one AES-256 key per direction.
const sessionKeyBytes = 32

// sessionKeys derives the two direction keys (D7): s = peer^n mod p as
// big-endian bytes padded to len(p); HKDF-SHA-256 with that as the input
// keying material, salt = SHA-256(initiator stream ‖ responder stream).
// The salt binds the keys to both signed connection messages, which the
// spec's bare "s is the session key" does not: a record sealed under
// these keys also confirms that both sides saw the same two messages.
func (d *sessionDH) sessionKeys(peer *big.Int, initiatorStream, responderStream []byte) (i2r, r2i []byte, err error) {
	s := new(big.Int).Exp(peer, d.secret, sessionP)
	if s.Cmp(sessionOne) <= 0 { // impossible for a checked share; cheap to be sure
		return nil, nil, errSessionShare
	}
	ikm := s.FillBytes(make([]byte, len(sessionPBytes)))
	h := sha256.New()
	h.Write(initiatorStream)
	h.Write(responderStream)
	salt := h.Sum(nil)
	if i2r, err = hkdf.Key(sha256.New, ikm, salt, sessionInfoI2R, sessionKeyBytes); err != nil {
		return nil, nil, fmt.Errorf("sdmp: session keys: %w", err)
	}
	if r2i, err = hkdf.Key(sha256.New, ikm, salt, sessionInfoR2I, sessionKeyBytes); err != nil {
		return nil, nil, fmt.Errorf("sdmp: session keys: %w", err)
	}
	clear(ikm)
	return i2r, r2i, nil
}
