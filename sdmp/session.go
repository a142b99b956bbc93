// The SDMP session layer (spec sections 6 and 7; decisions D6, D7, D8,
// D14, D15): two nodes that already hold each other's RSA keys exchange
// signed connection messages over any net.Conn, derive a key per
// direction, and then send documents as encrypted records. The same code
// runs over a TCP connection (the SDMP TCP binding) and over a pydevts
// stream; it never looks below net.Conn.
//
// # Handshake
//
//	initiator (dialled)                         responder
//	  u32 length ‖ SYML connection message  ──►
//	                                              parse, trial-verify, check g, p, N
//	                                        ◄──   "nope", close   (any failure)
//	                                        ◄──   u32 length ‖ SYML connection message
//	  parse, verify with the dialled key,
//	  check g, p, N
//	  "nope", close (any failure)          ──►
//	  records both ways                    ◄─►   records both ways
//
// The order is the TCP binding's (section 7): the responder answers only a
// message it accepted, so a stranger who connects learns nothing signed.
// The initiator's refusal reaches the responder after its handshake has
// returned: its first ReadDocument reports ErrPeerRefused.
//
// Pre-handshake frames are a 4-byte big-endian length and the SYML file
// in plaintext (D8); the length is at most sessionMaxConnMessage. "nope"
// is the 4 ASCII bytes alone, which, read as a length, is far too large to
// be one. Each connection message is signed by the sending node's key and
// names nobody: the responder tries its acceptable keys in turn (D15).
//
// Keys: s = N_peer^n mod p as len(p) big-endian bytes; each direction's
// AES-256 key is HKDF-SHA-256(s, salt = SHA-256(initiator stream ‖
// responder stream), info "sdmp0.9 i2r" or "sdmp0.9 r2i"). Records are
// described in record.go.

package sdmp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"time"
)

// Handshake limits.
const (
	// sessionMaxConnMessage bounds a pre-handshake frame. A connection
	// message is two 344-character base64 blocks and a hundred bytes of
	// YAML, plus a signature of at most 2732 base64 characters (a
	// 16384-bit key, the largest SYML accepts): about 4 KiB. 16 KiB leaves
	// room for any line endings and still lets nobody make us buffer much
	// before we know who they are.
	sessionMaxConnMessage = 16 << 10
	// sessionMaxMaxDocument bounds SessionConfig.MaxDocument: 1 GiB, so
	// that a record's length always fits its 32-bit prefix with room to
	// spare, and nobody configures a session to buffer more than that.
	sessionMaxMaxDocument = 1 << 30
	// sessionNopeTimeout bounds the write of "nope": it is a courtesy to
	// a peer we are dropping, not worth waiting for.
	sessionNopeTimeout = time.Second
)

// DefaultHandshakeTimeout is how long Handshake waits for the peer when
// SessionConfig.HandshakeTimeout is zero and ctx has no earlier deadline:
// two messages and a few RSA operations take milliseconds, so 10 s is
// generous for a slow link and still frees a connection that says nothing.
const DefaultHandshakeTimeout = 10 * time.Second

// DefaultMaxVerify is how many acceptable keys a responder tries a
// connection message's signature against when SessionConfig.MaxVerify is
// zero. Each try is an RSA-PSS verification that an unauthenticated peer
// can make us do: about 30 µs for a 2048-bit key and 190 µs for a
// 3072-bit one on the project's machines (Go 1.26, go test -bench), so 64
// tries cost at most about 12 ms per connection attempt. Whoever accepts
// connections should still limit their rate.
const DefaultMaxVerify = 64

// ErrPeerRefused is returned when the peer sent "nope": it refused our
// connection message (or, on the responder, the initiator refused ours;
// then the first ReadDocument returns it). The spec lets a node say
// nothing more about why.
var ErrPeerRefused = errors.New("sdmp: the peer refused the connection (it sent nope)")

// SessionConfig configures Handshake. Key and one of Peer or Accept are
// required; every other zero value is a good default.
type SessionConfig struct {
	// Key is our node's private key; it signs our connection message.
	Key *rsa.PrivateKey
	// Initiator says that we opened the connection: we send our
	// connection message first, and accept only Peer's signature.
	Initiator bool
	// Peer is the public key of the node we dialled (initiator only).
	Peer *rsa.PublicKey
	// Accept lists the node keys a responder accepts (responder only).
	// The peer's connection message must verify with one of them.
	Accept []*rsa.PublicKey
	// MaxVerify caps the signature verifications a responder makes for
	// one connection message (D15); zero means DefaultMaxVerify. Keys whose
	// size does not match the signature are skipped without a
	// verification. Accept may not hold more keys than this, so that no
	// acceptable node is refused for being late in the list.
	MaxVerify int
	// HandshakeTimeout bounds the handshake when ctx has no earlier
	// deadline; zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxDocument is the largest document, inflated, that the session
	// sends or accepts; zero means DefaultMaxDocument. Both sides should
	// agree: a document one side may send and the other may not accept
	// ends the session.
	MaxDocument int
	// Rand is the source of the DH secret; nil means crypto/rand.
	Rand io.Reader
	// Now gives the time written as sdmp.created; nil means time.Now.
	Now func() time.Time
}

// sessionResolve checks cfg and fills in the defaults.
func sessionResolve(cfg *SessionConfig) (SessionConfig, error) {
	if cfg == nil {
		return SessionConfig{}, errors.New("sdmp: handshake: no SessionConfig")
	}
	c := *cfg
	if c.Key == nil {
		return c, errors.New("sdmp: handshake: SessionConfig.Key (our node key) is required")
	}
	if c.MaxVerify <= 0 {
		c.MaxVerify = DefaultMaxVerify
	}
	if c.Initiator {
		if c.Peer == nil {
			return c, errors.New("sdmp: handshake: an initiator needs SessionConfig.Peer, the key of the node it dialled")
		}
	} else {
		if len(c.Accept) == 0 {
			return c, errors.New("sdmp: handshake: a responder needs SessionConfig.Accept, the node keys it accepts")
		}
		if len(c.Accept) > c.MaxVerify {
			return c, fmt.Errorf("sdmp: handshake: %d acceptable keys, more than MaxVerify (%d) allows a peer to make us try", len(c.Accept), c.MaxVerify)
		}
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxDocument <= 0 {
		c.MaxDocument = DefaultMaxDocument
	}
	if c.MaxDocument > sessionMaxMaxDocument {
		return c, fmt.Errorf("sdmp: handshake: MaxDocument %d is above the %d-byte maximum", c.MaxDocument, sessionMaxMaxDocument)
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// A Session is an established SDMP session over a net.Conn: documents
// written with WriteDocument arrive, in order and unaltered, at the peer's
// ReadDocument, or the session ends with an error.
//
// One goroutine may read while another writes. Concurrent calls to
// WriteDocument (or to ReadDocument) are serialised, each document whole.
// Any failure other than a read timeout before a record's first byte ends
// the session: the connection is closed and every later call returns the
// same error.
type Session struct {
	conn      net.Conn
	peer      *rsa.PublicKey
	initiator bool

	writeMu sync.Mutex // guards sealer
	sealer  *recordSealer

	readMu  sync.Mutex // guards opener, opened and readEOF
	opener  *recordOpener
	opened  bool // a record has been opened: "nope" can no longer come
	readEOF bool // the peer closed its side

	failMu  sync.Mutex // guards failErr
	failErr error      // why the session ended; nil while it runs

	closeOnce  sync.Once
	closeError error // conn.Close's result, set inside closeOnce
}

// Handshake runs the SDMP connection-message exchange on conn and returns
// the session. It respects ctx and cfg.HandshakeTimeout through conn's
// deadline, which it clears on success; after that, set deadlines on the
// session (SetDeadline and friends) or on conn.
//
// On any failure (a bad length, parse, signature, unknown key, group or N,
// a timeout, a cancelled ctx, an unusable cfg) Handshake sends the four
// bytes "nope" (unless the peer sent them), closes conn and returns an
// error: one wrapping ErrConnectionMessage when we refused the peer,
// ErrPeerRefused when it refused us.
func Handshake(ctx context.Context, conn net.Conn, cfg *SessionConfig) (*Session, error) {
	c, err := sessionResolve(cfg)
	if err != nil {
		sessionDrop(conn, err)
		return nil, err
	}
	deadline := time.Now().Add(c.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		conn.SetDeadline(time.Unix(1, 0)) // wakes a blocked read or write
		close(fired)
	})
	s, err := sessionRun(conn, &c)
	if !stop() {
		<-fired // so that sessionDrop's deadline is not overwritten
		err = fmt.Errorf("sdmp: handshake: %w", context.Cause(ctx))
	}
	if err != nil {
		sessionDrop(conn, err)
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return s, nil
}

// sessionDrop is the drop procedure of section 7: "nope", then close. It
// sends nothing to a peer that refused us.
func sessionDrop(conn net.Conn, cause error) {
	if !errors.Is(cause, ErrPeerRefused) {
		conn.SetWriteDeadline(time.Now().Add(sessionNopeTimeout))
		conn.Write([]byte("nope"))
	}
	conn.Close()
}

// sessionRun is the exchange itself, in the order of section 7.
func sessionRun(conn net.Conn, c *SessionConfig) (*Session, error) {
	var (
		dh  *sessionDH
		own []byte // our connection message's stream
	)
	sendOwn := func() error {
		var err error
		if dh, err = sessionNewDH(c.Rand); err != nil {
			return err
		}
		own = sessionEmitConnMessage(c.Now(), sessionGroupG, sessionPBytes, dh.public)
		file, err := SignSYML(c.Key, own)
		if err != nil {
			return fmt.Errorf("sdmp: handshake: signing our connection message: %w", err)
		}
		return sessionWriteFrame(conn, file)
	}
	keys := c.Accept
	if c.Initiator {
		keys = []*rsa.PublicKey{c.Peer}
		if err := sendOwn(); err != nil {
			return nil, err
		}
	}
	file, err := sessionReadFrame(conn)
	if err != nil {
		return nil, err
	}
	peer, err := sessionAccept(file, keys, c.MaxVerify, c.Initiator)
	if err != nil {
		return nil, err
	}
	initiatorStream, responderStream := own, peer.stream
	if !c.Initiator {
		if err := sendOwn(); err != nil {
			return nil, err
		}
		initiatorStream, responderStream = peer.stream, own
	}
	i2r, r2i, err := dh.sessionKeys(peer.N, initiatorStream, responderStream)
	if err != nil {
		return nil, err
	}
	defer clear(i2r)
	defer clear(r2i)
	sendKey, recvKey := i2r, r2i
	if !c.Initiator {
		sendKey, recvKey = r2i, i2r
	}
	s := &Session{conn: conn, peer: peer.key, initiator: c.Initiator}
	if s.sealer, err = recordNewSealer(sendKey, c.MaxDocument); err != nil {
		return nil, err
	}
	if s.opener, err = recordNewOpener(recvKey, c.MaxDocument); err != nil {
		return nil, err
	}
	return s, nil
}

// sessionWriteFrame sends a pre-handshake frame: length, then the file.
func sessionWriteFrame(conn net.Conn, file []byte) error {
	frame := make([]byte, 4, 4+len(file))
	binary.BigEndian.PutUint32(frame, uint32(len(file)))
	if _, err := conn.Write(append(frame, file...)); err != nil {
		return fmt.Errorf("sdmp: handshake: sending our connection message: %w", err)
	}
	return nil
}

// sessionReadFrame reads the peer's pre-handshake frame, or its "nope".
func sessionReadFrame(conn net.Conn) ([]byte, error) {
	var hdr [4]byte
	if n, err := io.ReadFull(conn, hdr[:]); err != nil {
		if n > 0 && string(hdr[:n]) == "nope"[:n] {
			return nil, fmt.Errorf("%w (truncated)", ErrPeerRefused)
		}
		return nil, fmt.Errorf("sdmp: handshake: reading the peer's connection message: %w", err)
	}
	if string(hdr[:]) == "nope" {
		return nil, ErrPeerRefused
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > sessionMaxConnMessage {
		return nil, sessionMessageError("a %d-byte frame (the limit is %d)", n, sessionMaxConnMessage)
	}
	file := make([]byte, n)
	if _, err := io.ReadFull(conn, file); err != nil {
		return nil, fmt.Errorf("sdmp: handshake: reading the peer's connection message: %w", err)
	}
	return file, nil
}

// sessionPeer is what an accepted connection message gives.
type sessionPeer struct {
	stream []byte
	key    *rsa.PublicKey
	N      *big.Int
}

// sessionAccept checks a peer's SYML connection message: its form, the
// group, the signature against keys (at most maxVerify verifications),
// and last, once the sender is known, its N, the one costly check.
func sessionAccept(file []byte, keys []*rsa.PublicKey, maxVerify int, initiator bool) (*sessionPeer, error) {
	syml, err := ParseSYML(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConnectionMessage, err)
	}
	m, err := sessionParseConnMessage(syml.Stream)
	if err != nil {
		return nil, err
	}
	if err := sessionCheckGroup(m.g, m.p); err != nil {
		return nil, err
	}
	var signer *rsa.PublicKey
	tries := 0
	for _, k := range keys {
		if k == nil || k.N == nil || k.Size() != len(syml.Signature) {
			continue
		}
		if tries++; tries > maxVerify {
			break
		}
		if syml.Verify(k) == nil {
			signer = k
			break
		}
	}
	if signer == nil {
		if initiator {
			return nil, sessionMessageError("not signed by the node we dialled (%.16s…)", Fingerprint(keys[0]))
		}
		return nil, sessionMessageError("signed by none of the %d node keys we accept", len(keys))
	}
	N, err := sessionCheckShare(m.N)
	if err != nil {
		return nil, err
	}
	return &sessionPeer{stream: syml.Stream, key: signer, N: N}, nil
}

// Peer returns the public key of the node at the other end, the one whose
// signature its connection message carried.
func (s *Session) Peer() *rsa.PublicKey { return s.peer }

// PeerFingerprint returns Fingerprint(s.Peer()).
func (s *Session) PeerFingerprint() string { return Fingerprint(s.peer) }

// Initiator says whether we opened the connection.
func (s *Session) Initiator() bool { return s.initiator }

// LocalAddr returns the connection's local address.
func (s *Session) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// RemoteAddr returns the connection's remote address.
func (s *Session) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// SetDeadline sets the connection's read and write deadlines, as
// net.Conn.SetDeadline. A read that times out before a record's first byte
// leaves the session usable; any other timeout ends it, since a record cut
// in the middle cannot be resumed.
func (s *Session) SetDeadline(t time.Time) error { return s.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline, as net.Conn.SetReadDeadline.
func (s *Session) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline, as net.Conn.SetWriteDeadline.
// A write that times out ends the session.
func (s *Session) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// Close closes the connection. Blocked and later calls return an error
// that wraps net.ErrClosed. The peer sees the end of the stream (io.EOF
// from ReadDocument) after the last whole record.
func (s *Session) Close() error {
	s.fail(fmt.Errorf("sdmp: session closed: %w", net.ErrClosed))
	return s.closeError
}

// fail ends the session with err, unless it has ended already, and
// returns the error that ended it.
func (s *Session) fail(err error) error {
	s.failMu.Lock()
	if s.failErr == nil {
		s.failErr = err
	}
	err = s.failErr
	s.failMu.Unlock()
	s.closeOnce.Do(func() { s.closeError = s.conn.Close() })
	return err
}

// failure returns the error that ended the session, or nil.
func (s *Session) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failErr
}
