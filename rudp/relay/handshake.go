package relay

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/box"
)

// Handshake message sizes (research/tox.md, section 1). Neither has a
// length prefix.
const (
	// ClientHelloSize: client long-term public key 32, nonce 24, and the
	// box (MAC 16) of the client's temporary public key 32 and base nonce 24.
	ClientHelloSize = KeySize + NonceSize + helloBoxSize // 128
	// ServerHelloSize: nonce 24 and the box of the server's temporary
	// public key and base nonce.
	ServerHelloSize = NonceSize + helloBoxSize // 96

	helloPlainSize = KeySize + NonceSize           // 56
	helloBoxSize   = helloPlainSize + box.Overhead // 72
)

// ClientHandshake is the client's side of a handshake in progress: what it
// needs to open the server's reply and set up the session.
type ClientHandshake struct {
	longTerm   [32]byte // beforenm(server long-term pk, client long-term sk)
	tempSecret [KeySize]byte
	baseNonce  Nonce // the client's own: it seals with it
	// sent is the plaintext of our hello: a reply that opens to it is our
	// own hello sent back (both directions use the one long-term key).
	sent [helloPlainSize]byte
}

// NewClientHandshake starts a handshake from the client key pair self to
// the relay whose long-term key is server, and returns the 128-byte
// message to send. rand supplies the temporary key, the base nonce and the
// message nonce (crypto/rand.Reader in real use).
func NewClientHandshake(self KeyPair, server PublicKey, rand io.Reader) (*ClientHandshake, []byte, error) {
	lt, err := precompute(&server, &self.Secret)
	if err != nil {
		return nil, nil, fmt.Errorf("relay: the relay's key: %w", err)
	}
	h := &ClientHandshake{longTerm: lt}
	var n Nonce
	plain, err := newHelloPlain(rand, &h.tempSecret, &h.baseNonce, &n)
	if err != nil {
		return nil, nil, err
	}
	h.sent = plain
	msg := make([]byte, 0, ClientHelloSize)
	msg = append(msg, self.Public[:]...)
	msg = append(msg, n[:]...)
	msg = box.SealAfterPrecomputation(msg, plain[:], (*[NonceSize]byte)(&n), &h.longTerm)
	return h, msg, nil
}

// newHelloPlain fills in a fresh temporary secret key, base nonce and
// message nonce from rand, and returns the plaintext of a handshake
// message: the temporary public key and the base nonce.
func newHelloPlain(rand io.Reader, tempSecret *[KeySize]byte, base, msgNonce *Nonce) (plain [helloPlainSize]byte, err error) {
	var r [KeySize + 2*NonceSize]byte
	if _, err := io.ReadFull(rand, r[:]); err != nil {
		return plain, fmt.Errorf("relay: reading randomness for the handshake: %w", err)
	}
	copy(tempSecret[:], r[:KeySize])
	copy(base[:], r[KeySize:KeySize+NonceSize])
	copy(msgNonce[:], r[KeySize+NonceSize:])
	kp, err := KeyPairFromSecret(tempSecret[:])
	if err != nil {
		return plain, err
	}
	copy(plain[:KeySize], kp.Public[:])
	copy(plain[KeySize:], base[:])
	return plain, nil
}

// Handshake errors. None is ever answered: a relay closes the connection
// without a word, as toxcore does.
var (
	errHelloOpen = errors.New("relay: handshake message does not decrypt (wrong relay key, or not a Tox relay handshake)")
	// errReflected: the reply is the box of our own hello, sent back by
	// someone who cannot open it.
	errReflected = errors.New("relay: the server's handshake reply is our own hello sent back")
)

// Finish opens the server's 96-byte reply and returns the session.
func (h *ClientHandshake) Finish(reply []byte) (*Session, error) {
	if len(reply) != ServerHelloSize {
		return nil, fmt.Errorf("relay: server handshake is %d bytes, want %d", len(reply), ServerHelloSize)
	}
	peerTemp, peerBase, err := openHello(reply[:NonceSize], reply[NonceSize:], &h.longTerm)
	if err != nil {
		return nil, err
	}
	if [KeySize]byte(peerTemp) == [KeySize]byte(h.sent[:KeySize]) {
		return nil, errReflected
	}
	return deriveSession(&peerTemp, &h.tempSecret, h.baseNonce, peerBase)
}

// AcceptClientHello is the server's side of the handshake: it opens the
// client's 128-byte message with the server's long-term key pair and
// returns the key the client announced, the 96-byte reply to send, and
// the session. rand is as for NewClientHandshake.
func AcceptClientHello(server KeyPair, hello []byte, rand io.Reader) (client PublicKey, reply []byte, s *Session, err error) {
	if len(hello) != ClientHelloSize {
		return client, nil, nil, fmt.Errorf("relay: client handshake is %d bytes, want %d", len(hello), ClientHelloSize)
	}
	copy(client[:], hello[:KeySize])
	lt, err := precompute(&client, &server.Secret)
	if err != nil {
		return client, nil, nil, err
	}
	peerTemp, peerBase, err := openHello(hello[KeySize:KeySize+NonceSize], hello[KeySize+NonceSize:], &lt)
	if err != nil {
		return client, nil, nil, err
	}
	var tempSecret [KeySize]byte
	var base, n Nonce
	plain, err := newHelloPlain(rand, &tempSecret, &base, &n)
	if err != nil {
		return client, nil, nil, err
	}
	s, err = deriveSession(&peerTemp, &tempSecret, base, peerBase)
	if err != nil {
		return client, nil, nil, err
	}
	reply = make([]byte, 0, ServerHelloSize)
	reply = append(reply, n[:]...)
	reply = box.SealAfterPrecomputation(reply, plain[:], (*[NonceSize]byte)(&n), &lt)
	return client, reply, s, nil
}

// openHello opens the box of a handshake message with its nonce and
// returns the temporary public key and base nonce inside.
func openHello(nonce, sealed []byte, key *[32]byte) (temp PublicKey, base Nonce, err error) {
	var plain [helloPlainSize]byte
	if _, ok := box.OpenAfterPrecomputation(plain[:0], sealed, (*[NonceSize]byte)(nonce), key); !ok {
		return temp, base, errHelloOpen
	}
	copy(temp[:], plain[:KeySize])
	copy(base[:], plain[KeySize:])
	return temp, base, nil
}

// deriveSession derives the session key from the peer's temporary public key
// and our temporary secret key.
func deriveSession(peerTemp *PublicKey, tempSecret *[KeySize]byte, ownBase, peerBase Nonce) (*Session, error) {
	k, err := precompute(peerTemp, tempSecret)
	if err != nil {
		return nil, fmt.Errorf("relay: the peer's temporary key: %w", err)
	}
	return &Session{key: k, sendNonce: ownBase, recvNonce: peerBase}, nil
}
