package handshake

import "errors"

// Errors of the handshake. Each means "drop the message": none is ever
// answered, so a prober learns nothing from them; the engine counts them by
// kind.
var (
	// ErrMalformed: wrong length, type, version or reserved bits.
	ErrMalformed = errors.New("handshake: malformed message")
	// ErrMAC: mac1 is wrong, so the sender does not know our public key
	// (or the message is damaged). Checked before any expensive work.
	ErrMAC = errors.New("handshake: mac1 does not verify")
	// ErrAuth: the Noise handshake failed: a wrong static key, a damaged
	// or forged message, or a message for another handshake.
	ErrAuth = errors.New("handshake: authentication failed")
	// ErrIdentity: the peer authenticated, but its identity card does not
	// verify or is not the card the initiator expected.
	ErrIdentity = errors.New("handshake: peer identity card does not verify or is not the expected one")
	// ErrRefused: the responder's allow-list or Accept callback refused
	// the peer.
	ErrRefused = errors.New("handshake: peer refused")
	// ErrReplayedInitiation: an initiation with the same timestamp was
	// accepted from the same peer already, or it is too old (see
	// stamps.go).
	ErrReplayedInitiation = errors.New("handshake: replayed initiation")
	// ErrParams: the peer's parameter block is malformed, or no cipher
	// suite is common to both sides.
	ErrParams = errors.New("handshake: unacceptable parameters")
	// ErrUnexpected: a response or cookie reply for which no initiation of
	// ours is waiting.
	ErrUnexpected = errors.New("handshake: no initiation waits for this message")

	// ErrPacketReplayed: a packet number that has been opened before.
	ErrPacketReplayed = errors.New("handshake: packet replayed")
	// ErrPacketTooOld: a packet number more than ReplayWindow behind the
	// newest; it may or may not be a replay, and cannot be told.
	ErrPacketTooOld = errors.New("handshake: packet too far behind the replay window")
	// ErrKeyPhase: a packet under a key phase whose key is gone (older than
	// KeyGrace) or too far ahead.
	ErrKeyPhase = errors.New("handshake: packet under an unknown key phase")
	// ErrPacketAuth: a packet failed authentication.
	ErrPacketAuth = errors.New("handshake: packet authentication failed")
	// ErrIntegrityLimit: so many packets failed authentication that a
	// forgery could succeed (RFC 9001 section 6.6); close the connection.
	ErrIntegrityLimit = errors.New("handshake: integrity limit reached; the session must end")
)
