package handshake

import (
	"encoding/binary"
	"errors"
)

// Version is the handshake protocol version in the second byte of every
// handshake message. A message of another version is dropped, not answered.
const Version = 1

// MessageType is the first byte of a handshake message. The engine reserves
// all other values of that byte for its own packets.
type MessageType uint8

// The handshake message types.
const (
	TypeInitiation  MessageType = 1 // initiator -> responder
	TypeResponse    MessageType = 2 // responder -> initiator
	TypeCookieReply MessageType = 3 // responder under load -> initiator
)

// Message sizes and offsets; the layouts are drawn in doc.go. Every message
// has a fixed size, so a parser checks one length and nothing else can vary.
const (
	headerLen    = 4  // type, version, two reserved zero bytes
	idLen        = 8  // connection ID
	stampLen     = 8  // initiation timestamp, Unix nanoseconds
	macLen       = 16 // mac1 and mac2
	paramsLen    = 64 // the parameter block, see params.go
	cardTailLen  = 32 + 64
	cookieLen    = 16
	cookieNonceN = 24 // XChaCha20-Poly1305 nonce

	initPayloadLen = cardTailLen + stampLen + paramsLen               // 168
	respPayloadLen = idLen + cardTailLen + paramsLen                  // 168
	initNoiseLen   = dhLen + dhLen + tagLen + initPayloadLen + tagLen // 264
	respNoiseLen   = dhLen + respPayloadLen + tagLen                  // 216

	initMAC1Off = headerLen + idLen + initNoiseLen // 276
	initMAC2Off = initMAC1Off + macLen             // 292

	// InitiationSize is the size of an initiation.
	InitiationSize = initMAC2Off + macLen // 308
	// ResponseSize is the size of a response; it is smaller than
	// InitiationSize, so answering an unproven address never amplifies.
	ResponseSize = headerLen + idLen + respNoiseLen + macLen // 244
	// CookieReplySize is the size of a cookie reply, also smaller than
	// InitiationSize.
	CookieReplySize = headerLen + idLen + cookieNonceN + cookieLen + tagLen // 68

	respMAC1Off = ResponseSize - macLen
)

// prologueLabel is mixed into every handshake before the initiation's clear
// header, so the header (type, version, sender ID) is authenticated too and
// no other protocol's Noise_IK handshake can be mistaken for ours.
const prologueLabel = "pydevts handshake v1"

func prologue(header []byte) []byte {
	return append([]byte(prologueLabel), header...)
}

func putHeader(b []byte, t MessageType, id uint64) []byte {
	b = append(b, byte(t), Version, 0, 0)
	return binary.BigEndian.AppendUint64(b, id)
}

var errWrongHeader = errors.New("wrong header")

// checkHeader checks a message's length and its clear header and returns the
// ID that follows the header.
func checkHeader(b []byte, t MessageType, size int) (uint64, error) {
	if len(b) != size || b[0] != byte(t) || b[1] != Version || b[2] != 0 || b[3] != 0 {
		return 0, errWrongHeader
	}
	return binary.BigEndian.Uint64(b[headerLen:]), nil
}

// Peek tells what kind of handshake message b claims to be and the
// connection ID it is addressed by: for an initiation the initiator's ID
// (there is no connection yet), for a response or a cookie reply the ID of
// the initiator that is waiting for it. It checks the header and the length
// only; ok is false when b cannot be a handshake message of this version.
func Peek(b []byte) (t MessageType, id uint64, ok bool) {
	if len(b) < headerLen+idLen {
		return 0, 0, false
	}
	t = MessageType(b[0])
	var size int
	switch t {
	case TypeInitiation:
		size = InitiationSize
	case TypeResponse:
		size = ResponseSize
	case TypeCookieReply:
		size = CookieReplySize
	default:
		return 0, 0, false
	}
	id, err := checkHeader(b, t, size)
	return t, id, err == nil
}
