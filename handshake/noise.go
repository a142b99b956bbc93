package handshake

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"hash"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
)

// This file is the Noise Protocol Framework core (revision 34): the
// SymmetricState of section 5.2 and the two messages of the IK pattern of
// section 7.5, over X25519, ChaCha20-Poly1305 and BLAKE2s. It knows nothing
// of pydevts: the layer in initiator.go and responder.go builds our
// messages around it. It is checked against the cacophony test vectors in
// noise_test.go, so what it computes is standard Noise, not our reading of it.

// noiseProtocolName names the protocol in the Noise way; its hash starts the
// transcript, so two programs that disagree on any algorithm fail the first
// message instead of deriving different keys silently.
const noiseProtocolName = "Noise_IK_25519_ChaChaPoly_BLAKE2s"

const (
	hashLen = blake2s.Size // HASHLEN of Noise: 32 for BLAKE2s
	dhLen   = 32           // DHLEN of Noise: 32 for X25519
	tagLen  = chacha20poly1305.Overhead
)

var errNoiseAuth = errors.New("noise: message authentication failed")

func newBlake2s() hash.Hash {
	h, err := blake2s.New256(nil)
	if err != nil {
		panic(err) // unreachable: New256 fails only on an over-long key
	}
	return h
}

// noiseHKDF is HKDF(chaining_key, input_key_material, 2) of Noise section
// 4.3, with HMAC-BLAKE2s. It returns the first two outputs; the third is
// never needed by IK.
func noiseHKDF(ck *[hashLen]byte, ikm []byte) (out1, out2 [hashLen]byte) {
	m := hmac.New(newBlake2s, ck[:])
	m.Write(ikm)
	var tempKey [hashLen]byte
	m.Sum(tempKey[:0])

	m = hmac.New(newBlake2s, tempKey[:])
	m.Write([]byte{1})
	m.Sum(out1[:0])

	m.Reset()
	m.Write(out1[:])
	m.Write([]byte{2})
	m.Sum(out2[:0])
	return out1, out2
}

// symmetricState is Noise's SymmetricState with its embedded CipherState.
type symmetricState struct {
	ck     [hashLen]byte // chaining key
	h      [hashLen]byte // transcript hash
	k      [32]byte      // cipher key, valid when hasKey
	hasKey bool
	n      uint64 // nonce of the cipher state
}

// init is InitializeSymmetric followed by MixHash(prologue).
func (s *symmetricState) init(protocolName string, prologue []byte) {
	*s = symmetricState{}
	if len(protocolName) <= hashLen {
		copy(s.h[:], protocolName)
	} else {
		s.h = blake2s.Sum256([]byte(protocolName))
	}
	s.ck = s.h
	s.mixHash(prologue)
}

func (s *symmetricState) mixHash(data []byte) {
	d := newBlake2s()
	d.Write(s.h[:])
	d.Write(data)
	d.Sum(s.h[:0])
}

func (s *symmetricState) mixKey(ikm []byte) {
	s.ck, s.k = noiseHKDF(&s.ck, ikm)
	s.hasKey = true
	s.n = 0
}

// mixDH mixes the X25519 result of priv and pub into the key. X25519 with a
// low-order point gives all zeros, which ecdh rejects; such a peer key is an
// attack or corruption, so the handshake fails.
func (s *symmetricState) mixDH(priv *ecdh.PrivateKey, pub *ecdh.PublicKey) error {
	shared, err := priv.ECDH(pub)
	if err != nil {
		return errNoiseAuth
	}
	s.mixKey(shared)
	return nil
}

func noiseNonce(n uint64) []byte {
	// Noise ChaChaPoly nonce: 32 bits of zeros, then the counter little-endian.
	var nonce [chacha20poly1305.NonceSize]byte
	binary.LittleEndian.PutUint64(nonce[4:], n)
	return nonce[:]
}

func (s *symmetricState) aead() cipher.AEAD {
	aead, err := chacha20poly1305.New(s.k[:])
	if err != nil {
		panic(err) // unreachable: the key is always 32 bytes
	}
	return aead
}

// encryptAndHash appends the encryption of plaintext to dst and mixes the
// ciphertext into the transcript. Before the first mixKey it copies plaintext
// as Noise says; IK always has a key when it encrypts.
func (s *symmetricState) encryptAndHash(dst, plaintext []byte) []byte {
	start := len(dst)
	if !s.hasKey {
		dst = append(dst, plaintext...)
	} else {
		dst = s.aead().Seal(dst, noiseNonce(s.n), plaintext, s.h[:])
		s.n++
	}
	s.mixHash(dst[start:])
	return dst
}

// decryptAndHash appends the decryption of ciphertext to dst and mixes the
// ciphertext into the transcript. On failure the state is unchanged, so it is
// no use to an attacker probing with variations.
func (s *symmetricState) decryptAndHash(dst, ciphertext []byte) ([]byte, error) {
	if !s.hasKey {
		dst = append(dst, ciphertext...)
	} else {
		var err error
		if dst, err = s.aead().Open(dst, noiseNonce(s.n), ciphertext, s.h[:]); err != nil {
			return nil, errNoiseAuth
		}
		s.n++
	}
	s.mixHash(ciphertext)
	return dst, nil
}

// split returns the initiator-to-responder and responder-to-initiator keys.
func (s *symmetricState) split() (k1, k2 [32]byte) {
	return noiseHKDF(&s.ck, nil)
}

// ikInitiator runs the initiator's side of IK:
//
//	<- s
//	...
//	-> e, es, s, ss
//	<- e, ee, se
type ikInitiator struct {
	sym symmetricState
	s   *ecdh.PrivateKey // our static key
	e   *ecdh.PrivateKey // our ephemeral key
	rs  *ecdh.PublicKey  // the responder's static key, known in advance
}

// writeFirst appends "e, es, s, ss" and the encrypted payload to dst.
func (hs *ikInitiator) writeFirst(dst []byte, prologue, payload []byte) ([]byte, error) {
	hs.sym.init(noiseProtocolName, prologue)
	hs.sym.mixHash(hs.rs.Bytes()) // pre-message "<- s"

	ePub := hs.e.PublicKey().Bytes()
	dst = append(dst, ePub...)
	hs.sym.mixHash(ePub)
	if err := hs.sym.mixDH(hs.e, hs.rs); err != nil { // es
		return nil, err
	}
	dst = hs.sym.encryptAndHash(dst, hs.s.PublicKey().Bytes())
	if err := hs.sym.mixDH(hs.s, hs.rs); err != nil { // ss
		return nil, err
	}
	return hs.sym.encryptAndHash(dst, payload), nil
}

// readSecond processes "e, ee, se" and decrypts the payload into dst.
func (hs *ikInitiator) readSecond(dst, msg []byte) (payload []byte, err error) {
	if len(msg) < dhLen+tagLen {
		return nil, errNoiseAuth
	}
	re, err := ecdh.X25519().NewPublicKey(msg[:dhLen])
	if err != nil {
		return nil, errNoiseAuth
	}
	sym := hs.sym // work on a copy: a forged response must not spoil the state
	sym.mixHash(msg[:dhLen])
	if err := sym.mixDH(hs.e, re); err != nil { // ee
		return nil, err
	}
	if err := sym.mixDH(hs.s, re); err != nil { // se
		return nil, err
	}
	payload, err = sym.decryptAndHash(dst, msg[dhLen:])
	if err != nil {
		return nil, err
	}
	hs.sym = sym
	return payload, nil
}

// ikResponder runs the responder's side of IK.
type ikResponder struct {
	sym symmetricState
	s   *ecdh.PrivateKey // our static key
	e   *ecdh.PrivateKey // our ephemeral key, set before writeSecond
	re  *ecdh.PublicKey  // the initiator's ephemeral key
	rs  *ecdh.PublicKey  // the initiator's static key, learnt from the first message
}

// readFirst processes "e, es, s, ss" and decrypts the payload into dst.
func (hs *ikResponder) readFirst(dst []byte, prologue, msg []byte) (payload []byte, err error) {
	if len(msg) < dhLen+dhLen+tagLen+tagLen {
		return nil, errNoiseAuth
	}
	hs.sym.init(noiseProtocolName, prologue)
	hs.sym.mixHash(hs.s.PublicKey().Bytes()) // pre-message "<- s"

	hs.re, err = ecdh.X25519().NewPublicKey(msg[:dhLen])
	if err != nil {
		return nil, errNoiseAuth
	}
	hs.sym.mixHash(msg[:dhLen])
	if err := hs.sym.mixDH(hs.s, hs.re); err != nil { // es
		return nil, err
	}
	encS := msg[dhLen : dhLen+dhLen+tagLen]
	var rsBuf [dhLen]byte
	rsBytes, err := hs.sym.decryptAndHash(rsBuf[:0], encS)
	if err != nil {
		return nil, err
	}
	hs.rs, err = ecdh.X25519().NewPublicKey(rsBytes)
	if err != nil {
		return nil, errNoiseAuth
	}
	if err := hs.sym.mixDH(hs.s, hs.rs); err != nil { // ss
		return nil, err
	}
	return hs.sym.decryptAndHash(dst, msg[dhLen+dhLen+tagLen:])
}

// writeSecond appends "e, ee, se" and the encrypted payload to dst.
func (hs *ikResponder) writeSecond(dst, payload []byte) ([]byte, error) {
	ePub := hs.e.PublicKey().Bytes()
	dst = append(dst, ePub...)
	hs.sym.mixHash(ePub)
	if err := hs.sym.mixDH(hs.e, hs.re); err != nil { // ee
		return nil, err
	}
	if err := hs.sym.mixDH(hs.e, hs.rs); err != nil { // se
		return nil, err
	}
	return hs.sym.encryptAndHash(dst, payload), nil
}
