package sdmp

// The record layer of a session (decisions D8 and D14). One record carries
// one unit: a SYML document, which is a communication document or, as the
// answer to a resource request, the raw resource (D16).
//
//	+-----------+-----------------------------------------------------+
//	| length L  | AES-256-GCM(key, nonce, plaintext, AAD = length L)   |
//	| u32 BE    | L = len(plaintext) + 16; 272 ≤ L ≤ the record limit  |
//	+-----------+-----------------------------------------------------+
//	plaintext = raw DEFLATE (RFC 1951) of the document, then zero bytes
//	            up to the next multiple of 256
//	nonce     = the direction's record counter, 96-bit big-endian,
//	            starting at 0; each direction has its own key
//
// The receiver knows the next counter, so a replayed, reordered or dropped
// record does not open. A raw DEFLATE stream ends itself at its final
// block, so the zero padding needs no length: what follows the final
// block must be fewer than 256 zero bytes.

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
)

// Record constants.
const (
	// recordPad is the padding unit, 256 bytes (D14: the session page's
	// figure; the crypto page's 1024 is the odd one out). Padding hides a
	// document's exact compressed size.
	recordPad = 256
	// recordTagSize is the GCM tag.
	recordTagSize = 16
	// recordHeaderSize is the length prefix.
	recordHeaderSize = 4
	// recordMinLength is the smallest valid L: one padding unit and a tag.
	recordMinLength = recordPad + recordTagSize
	// recordKeepBuffer: buffers that grew past this for one large record
	// are dropped afterwards rather than kept for the life of the session.
	recordKeepBuffer = 1 << 20
)

// DefaultMaxDocument is the largest document a session sends or accepts
// (inflated) when SessionConfig.MaxDocument is zero: the largest SYML file
// this package decodes, a MaxDocument-byte stream behind a signature block
// of at most 8 KiB (symlMaxSignatureBlock). A bigger record could only
// carry a document the receiver refuses anyway.
const DefaultMaxDocument = MaxDocument + 8<<10

// recordLimitBytes caps what one key seals: 2^39 bytes of plaintext per
// direction, which is RFC 9001 section 6.6's confidentiality limit for
// AES-GCM (2^23 packets of up to 2^16 bytes) counted in bytes, since our
// records vary in size. A session that reaches it fails with
// ErrSessionExhausted; the caller connects again for fresh keys.
const recordLimitBytes = 1 << 39

// recordNope is "nope" read as a length prefix: 0x6e6f7065, far above any
// record limit, so a refusal can never be mistaken for a record.
var recordNope = binary.BigEndian.Uint32([]byte("nope"))

// Errors of the record layer.
var (
	// ErrRecordInvalid: a record from the peer is malformed (length,
	// padding, DEFLATE data) or does not authenticate under the next
	// counter (tampered, replayed, reordered, or a wrong key). The session
	// is closed.
	ErrRecordInvalid = errors.New("sdmp: invalid record")
	// ErrRecordTooLarge: a document is larger than the session's
	// MaxDocument, either one we were asked to send (the session stays
	// usable) or one the peer sent, measured as it inflates (the session
	// is closed).
	ErrRecordTooLarge = errors.New("sdmp: document exceeds the session's size limit")
	// ErrSessionExhausted: one direction's key has sealed as much as it
	// safely can (recordLimitBytes, or its counter ran out). Connect again.
	ErrSessionExhausted = errors.New("sdmp: session key exhausted; connect again")
)

// recordMaxLength is the largest L a session with this document limit
// accepts: the worst DEFLATE expansion of maxDocument bytes (stored blocks
// of at most 65535 bytes with 5 bytes of header each, plus the stream's
// ends; n/1024 + 64 covers it with room), rounded up to the padding unit,
// plus the tag.
func recordMaxLength(maxDocument int) int {
	n := maxDocument + maxDocument/1024 + 64
	return (n+recordPad-1)/recordPad*recordPad + recordTagSize
}

// recordNonce writes the 96-bit big-endian counter.
func recordNonce(nonce *[12]byte, seq uint64) {
	binary.BigEndian.PutUint32(nonce[:4], 0)
	binary.BigEndian.PutUint64(nonce[4:], seq)
}

func recordAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sdmp: record key: %w", err)
	}
	return cipher.NewGCM(block)
}

// recordSealer is the sending half of a session. It is not safe for
// concurrent use; Session serialises its callers.
type recordSealer struct {
	aead        cipher.AEAD
	seq         uint64 // the next record's counter
	sealed      uint64 // plaintext bytes sealed so far
	maxDocument int
	maxLength   int
	zw          *flate.Writer
	comp        bytes.Buffer // the DEFLATE output
	out         []byte       // the record being built
}

func recordNewSealer(key []byte, maxDocument int) (*recordSealer, error) {
	aead, err := recordAEAD(key)
	if err != nil {
		return nil, err
	}
	s := &recordSealer{aead: aead, maxDocument: maxDocument, maxLength: recordMaxLength(maxDocument)}
	// flate.NewWriter fails only for a bad level.
	s.zw, _ = flate.NewWriter(&s.comp, flate.DefaultCompression)
	return s, nil
}

// seal compresses, pads and encrypts doc, and returns the whole record
// (length prefix included). The result is valid until the next call.
func (s *recordSealer) seal(doc []byte) ([]byte, error) {
	if len(doc) > s.maxDocument {
		return nil, fmt.Errorf("%w: %d bytes to send, limit %d", ErrRecordTooLarge, len(doc), s.maxDocument)
	}
	s.comp.Reset()
	s.zw.Reset(&s.comp)
	if _, err := s.zw.Write(doc); err != nil {
		return nil, fmt.Errorf("sdmp: compress: %w", err)
	}
	if err := s.zw.Close(); err != nil {
		return nil, fmt.Errorf("sdmp: compress: %w", err)
	}
	padded := (s.comp.Len() + recordPad - 1) / recordPad * recordPad
	length := padded + recordTagSize
	if length > s.maxLength { // cannot happen within maxDocument; be sure
		return nil, fmt.Errorf("%w: a %d-byte record", ErrRecordTooLarge, length)
	}
	if s.seq == math.MaxUint64 || s.sealed+uint64(padded) > recordLimitBytes {
		return nil, ErrSessionExhausted
	}
	if cap(s.out) < recordHeaderSize+length {
		s.out = make([]byte, recordHeaderSize+length)
	}
	out := s.out[:recordHeaderSize+length]
	binary.BigEndian.PutUint32(out, uint32(length))
	plain := out[recordHeaderSize : recordHeaderSize+padded]
	clear(plain[copy(plain, s.comp.Bytes()):])
	var nonce [12]byte
	recordNonce(&nonce, s.seq)
	s.aead.Seal(plain[:0], nonce[:], plain, out[:recordHeaderSize])
	s.seq++
	s.sealed += uint64(padded)
	if s.comp.Cap() > recordKeepBuffer {
		s.comp = bytes.Buffer{}
		s.zw.Reset(&s.comp)
	}
	if cap(s.out) > recordKeepBuffer {
		s.out = nil // out stays valid for the caller; the next call allocates
	}
	return out, nil
}

// recordOpener is the receiving half of a session. It is not safe for
// concurrent use; Session serialises its callers.
type recordOpener struct {
	aead        cipher.AEAD
	seq         uint64 // the counter the next record must carry
	opened      uint64 // plaintext bytes opened so far
	maxDocument int
	maxLength   int
	ct          bytes.Buffer // the record being read
	src         bytes.Reader // the opened plaintext, as the inflater's input
	zr          io.ReadCloser
	doc         bytes.Buffer
}

func recordNewOpener(key []byte, maxDocument int) (*recordOpener, error) {
	aead, err := recordAEAD(key)
	if err != nil {
		return nil, err
	}
	return &recordOpener{aead: aead, maxDocument: maxDocument, maxLength: recordMaxLength(maxDocument)}, nil
}

// recordReadError is how readRecord reports a failure: partial says
// whether any byte of the record had been consumed, which decides whether
// a timeout leaves the stream usable.
type recordReadError struct {
	err     error
	partial bool
}

// read reads one record from r and returns the document it carries, a
// fresh slice the caller owns. first says that no record has been opened
// yet, the only time a peer's "nope" can arrive.
func (o *recordOpener) read(r io.Reader, first bool) ([]byte, *recordReadError) {
	var hdr [recordHeaderSize]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if n == 0 {
			return nil, &recordReadError{err: err}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) && first && string(hdr[:n]) == "nope"[:n] {
			err = fmt.Errorf("%w (truncated)", ErrPeerRefused)
		}
		return nil, &recordReadError{err: err, partial: true}
	}
	length := binary.BigEndian.Uint32(hdr[:])
	if length == recordNope && first {
		return nil, &recordReadError{err: ErrPeerRefused, partial: true}
	}
	if length < recordMinLength || (length-recordTagSize)%recordPad != 0 || int64(length) > int64(o.maxLength) {
		return nil, &recordReadError{err: fmt.Errorf("%w: length %d (a multiple of %d plus %d, at most %d)",
			ErrRecordInvalid, length, recordPad, recordTagSize, o.maxLength), partial: true}
	}
	// Grow as the bytes arrive rather than trusting the length with one
	// allocation: until the record authenticates, the length is unproven.
	o.ct.Reset()
	if _, err := io.CopyN(&o.ct, r, int64(length)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, &recordReadError{err: err, partial: true}
	}
	doc, err := o.open(hdr[:], o.ct.Bytes())
	if o.ct.Cap() > recordKeepBuffer {
		o.ct = bytes.Buffer{}
	}
	if err != nil {
		return nil, &recordReadError{err: err, partial: true}
	}
	return doc, nil
}

// open decrypts one record's ciphertext (in place) under the next counter
// and inflates it.
func (o *recordOpener) open(hdr, ct []byte) ([]byte, error) {
	if o.seq == math.MaxUint64 || o.opened+uint64(len(ct)-recordTagSize) > recordLimitBytes {
		return nil, ErrSessionExhausted
	}
	var nonce [12]byte
	recordNonce(&nonce, o.seq)
	plain, err := o.aead.Open(ct[:0], nonce[:], ct, hdr)
	if err != nil {
		return nil, fmt.Errorf("%w: record %d does not authenticate", ErrRecordInvalid, o.seq)
	}
	o.seq++
	o.opened += uint64(len(plain))
	return o.inflate(plain)
}

// inflate undoes DEFLATE and padding, reading at most maxDocument+1 bytes
// so that a small record cannot inflate without bound (a zip bomb).
func (o *recordOpener) inflate(plain []byte) ([]byte, error) {
	o.src.Reset(plain)
	// bytes.Reader is an io.ByteReader, so the inflater reads from it
	// directly, without a buffer, and stops right after the final block.
	if o.zr == nil {
		o.zr = flate.NewReader(&o.src)
	} else if err := o.zr.(flate.Resetter).Reset(&o.src, nil); err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", ErrRecordInvalid, err)
	}
	o.doc.Reset()
	defer func() {
		if o.doc.Cap() > recordKeepBuffer {
			o.doc = bytes.Buffer{}
		}
	}()
	n, err := o.doc.ReadFrom(io.LimitReader(o.zr, int64(o.maxDocument)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", ErrRecordInvalid, err)
	}
	if n > int64(o.maxDocument) {
		return nil, fmt.Errorf("%w: the peer's document inflates past %d bytes", ErrRecordTooLarge, o.maxDocument)
	}
	// The inflater may have read a byte or so of the padding for its bit
	// buffer, but never a whole unit: fewer than 256 bytes remain, all zero.
	rest := plain[len(plain)-o.src.Len():]
	if len(rest) >= recordPad {
		return nil, fmt.Errorf("%w: %d bytes after the DEFLATE stream", ErrRecordInvalid, len(rest))
	}
	for _, b := range rest {
		if b != 0 {
			return nil, fmt.Errorf("%w: non-zero padding", ErrRecordInvalid)
		}
	}
	return bytes.Clone(o.doc.Bytes()), nil
}

// WriteDocument sends one document (a SYML file, in SDMP a communication
// document or a raw resource) as one record. The bytes are compressed and
// sealed before WriteDocument returns, so doc may be reused at once.
//
// A document larger than MaxDocument returns ErrRecordTooLarge and leaves
// the session usable; any other failure ends it.
func (s *Session) WriteDocument(doc []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.failure(); err != nil {
		return err
	}
	rec, err := s.sealer.seal(doc)
	if errors.Is(err, ErrRecordTooLarge) {
		return err
	}
	if err != nil {
		return s.fail(err)
	}
	if _, err := s.conn.Write(rec); err != nil {
		return s.fail(fmt.Errorf("sdmp: session write: %w", err))
	}
	return nil
}

// ReadDocument returns the next document the peer sent, a new slice the
// caller owns. The session does not parse it: that is for the caller,
// which knows whether it expects a communication document or a resource.
//
// At the end of the stream, after the peer closed, ReadDocument returns
// io.EOF. A read that times out before a record's first byte returns an
// error that wraps os.ErrDeadlineExceeded and leaves the session usable.
// Any other failure (a record that does not authenticate or is malformed,
// a document past MaxDocument, a peer's "nope", a connection error) ends
// the session.
func (s *Session) ReadDocument() ([]byte, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if err := s.failure(); err != nil {
		return nil, err
	}
	if s.readEOF {
		return nil, io.EOF
	}
	doc, rerr := s.opener.read(s.conn, !s.opened)
	if rerr == nil {
		s.opened = true
		return doc, nil
	}
	err := rerr.err
	if !rerr.partial {
		if err == io.EOF {
			// The peer closed between records. Reads are over; writes go
			// on until the caller closes, as on a half-closed net.Conn.
			s.readEOF = true
			return nil, io.EOF
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return nil, fmt.Errorf("sdmp: session read: %w", err)
		}
	}
	if !errors.Is(err, ErrRecordInvalid) && !errors.Is(err, ErrRecordTooLarge) &&
		!errors.Is(err, ErrPeerRefused) && !errors.Is(err, ErrSessionExhausted) {
		err = fmt.Errorf("sdmp: session read: %w", err)
	}
	return nil, s.fail(err)
}
