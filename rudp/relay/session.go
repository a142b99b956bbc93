package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/box"
)

// Frame limits, from c-toxcore's MAX_PACKET_SIZE (2048) on the frame's
// length field, as tox-rs names them (research/tox.md, section 1).
const (
	// MaxPlaintext is the largest packet in one frame: the packet id byte
	// and what follows (tox-rs MAX_TCP_PACKET_SIZE).
	MaxPlaintext = MaxCiphertext - box.Overhead // 2032
	// MaxCiphertext is the largest value of a frame's length field
	// (tox-rs MAX_TCP_ENC_PACKET_PAYLOAD_SIZE). toxcore kills a connection
	// that announces more.
	MaxCiphertext = 2048
	// MaxFrame is the largest frame on the wire: the 2-byte length and the
	// ciphertext (tox-rs MAX_TCP_ENC_PACKET_SIZE).
	MaxFrame = 2 + MaxCiphertext // 2050
	// minCiphertext is the smallest useful frame: a one-byte packet and
	// the MAC. toxcore reads a length of 0 as "nothing yet" and tox-rs
	// refuses it; below 17 nothing can decrypt, so both are errors here.
	minCiphertext = 1 + box.Overhead
)

// NonceSize is the size of a NaCl box nonce.
const NonceSize = 24

// A Nonce is a 24-byte NaCl nonce. A session's nonces are one 192-bit
// big-endian counter per direction, started at the base nonce that the
// sending side chose and sent in its handshake message.
type Nonce [NonceSize]byte

// increment adds one to n as a big-endian integer, carrying from the last
// byte (toxcore's increment_nonce); it wraps to zero after all ones.
func (n *Nonce) increment() {
	for i := NonceSize - 1; i >= 0; i-- {
		n[i]++
		if n[i] != 0 {
			return
		}
	}
}

// A Session protects the frames of one established connection: one shared
// key, and one nonce counter for each direction. Each side seals with the
// base nonce it chose itself and opens with the one the other side sent.
//
// SealFrame and OpenFrame may run at the same time (a writer and a reader
// goroutine), but neither concurrently with itself: each advances its own
// counter, and any frame lost, reordered or altered desynchronises the
// counters for good, which is why a relay connection dies at the first
// frame that does not open.
type Session struct {
	key       [32]byte
	sendNonce Nonce
	recvNonce Nonce
}

// Errors of frame protection.
var (
	errFrameEmpty       = errors.New("relay: a frame must carry at least one byte")
	errOpen       error = frameError{errors.New("relay: frame does not decrypt (wrong key, or a frame lost, altered or reordered)")}
)

// SealFrame appends to dst the frame that carries plaintext: its length
// as a big-endian uint16, then the box. plaintext must be 1 to
// MaxPlaintext bytes and must not overlap dst's spare capacity.
func (s *Session) SealFrame(dst, plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return dst, errFrameEmpty
	}
	if len(plaintext) > MaxPlaintext {
		return dst, fmt.Errorf("relay: packet is %d bytes, more than a frame carries (%d)", len(plaintext), MaxPlaintext)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(plaintext)+box.Overhead))
	dst = box.SealAfterPrecomputation(dst, plaintext, (*[NonceSize]byte)(&s.sendNonce), &s.key)
	s.sendNonce.increment()
	return dst, nil
}

// OpenFrame appends to dst the plaintext of a frame's ciphertext (the
// bytes after its length field). dst must not overlap ciphertext. A frame
// that does not open leaves the counter where it was; the connection is
// then useless.
func (s *Session) OpenFrame(dst, ciphertext []byte) ([]byte, error) {
	if err := checkFrameLength(len(ciphertext)); err != nil {
		return dst, err
	}
	out, ok := box.OpenAfterPrecomputation(dst, ciphertext, (*[NonceSize]byte)(&s.recvNonce), &s.key)
	if !ok {
		return dst, errOpen
	}
	s.recvNonce.increment()
	return out, nil
}

// frameError marks a frame that breaks the framing or does not decrypt:
// the peer (or something between) is broken, not just gone.
type frameError struct{ error }

func (e frameError) Unwrap() error { return e.error }

func isFrameError(err error) bool {
	var fe frameError
	return errors.As(err, &fe)
}

// checkFrameLength checks a frame's length field.
func checkFrameLength(n int) error {
	switch {
	case n > MaxCiphertext:
		return frameError{fmt.Errorf("relay: frame length %d is more than %d", n, MaxCiphertext)}
	case n < minCiphertext:
		return frameError{fmt.Errorf("relay: frame length %d is less than %d (one byte and the MAC)", n, minCiphertext)}
	}
	return nil
}

// ReadFrame reads one frame from r into buf (which must hold
// MaxCiphertext bytes) and returns its ciphertext, a prefix of buf. It
// reads as bytes arrive; with a buffered r that keeps the socket drained
// whatever the frame sizes, so a sender is never stalled by a half-read
// frame (the toxcore relay's stall under load, research/tox.md section 5).
// A length out of range is an error before anything more is read.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if err := checkFrameLength(n); err != nil {
		return nil, err
	}
	if len(buf) < n {
		return nil, fmt.Errorf("relay: frame buffer is %d bytes, frame is %d", len(buf), n)
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n], nil
}
