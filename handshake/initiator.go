package handshake

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// InitiatorConfig says whom an Initiator connects to and as whom.
type InitiatorConfig struct {
	// Identity is ours. Required.
	Identity *Identity
	// Peer is the responder's card, known in advance (IK). Required.
	Peer Card
	// LocalID is our connection ID: the responder addresses the response,
	// and the engine every later packet, to it.
	LocalID uint64
	// Params is what we announce to the responder; types from
	// FirstEngineParam up, MaxParamsLen bytes in all with the suites.
	Params Params
	// Suites are the AEADs we offer, most preferred first; nil means
	// DefaultSuites.
	Suites []Suite
}

// An Initiator runs the initiator's side of one handshake: it makes
// initiations (a fresh one for every attempt), takes a cookie reply when
// the responder is under load, and turns the response into an Established
// session. It is not safe for concurrent use.
type Initiator struct {
	cfg     InitiatorConfig
	params  Params // cfg.Params with the suites
	peerPub *ecdh.PublicKey
	mac1Key [32]byte // the responder's mac1 key
	ourMAC1 [32]byte // mac1 key of responses to us
	encKey  [32]byte // the responder's cookie encryption key

	// hs holds the states of the latest initiations, newest first: a
	// response to any of them completes the handshake.
	hs       [keptInitiations]*ikInitiator
	lastMAC1 [macLen]byte
	cookie   heldCookie
	done     bool
}

// NewInitiator checks cfg and returns an Initiator.
func NewInitiator(cfg InitiatorConfig) (*Initiator, error) {
	if cfg.Identity == nil {
		return nil, errors.New("handshake: InitiatorConfig.Identity is nil")
	}
	if err := cfg.Peer.Verify(); err != nil {
		return nil, fmt.Errorf("handshake: InitiatorConfig.Peer: %w", err)
	}
	suites, err := checkSuites(cfg.Suites)
	if err != nil {
		return nil, err
	}
	cfg.Suites = suites
	in := &Initiator{cfg: cfg}
	if in.params, err = withSuites(cfg.Params, suites); err != nil {
		return nil, err
	}
	if in.peerPub, err = ecdh.X25519().NewPublicKey(cfg.Peer.DH[:]); err != nil {
		return nil, fmt.Errorf("handshake: peer key: %v", err)
	}
	in.mac1Key = labelledKey(labelMAC1, cfg.Peer.DH[:])
	in.encKey = labelledKey(labelCookie, cfg.Peer.DH[:])
	ours := cfg.Identity.Card()
	in.ourMAC1 = labelledKey(labelMAC1, ours.DH[:])
	return in, nil
}

// keptInitiations is how many initiations an Initiator answers to: the
// latest and the ones before it. A retry goes out when no response came
// within the retry time, but on a slow or lossy path the response to an
// earlier initiation may still be on its way; accepting it saves a round
// trip, or the whole handshake when retries keep crossing responses. Each
// one kept costs a forged response two more DH operations.
const keptInitiations = 4

// Initiation returns a new initiation message, with a fresh ephemeral key
// and timestamp. Send a new one on every retry: the responder refuses an
// initiation it has seen. A response to it, or to one of the
// keptInitiations-1 before it, completes the handshake.
func (in *Initiator) Initiation(now time.Time) ([]byte, error) {
	if in.done {
		return nil, errors.New("handshake: initiator already established")
	}
	e, err := newEphemeral()
	if err != nil {
		return nil, err
	}
	hs := &ikInitiator{s: in.cfg.Identity.dh, e: e, rs: in.peerPub}

	card := in.cfg.Identity.Card()
	payload := make([]byte, 0, initPayloadLen)
	payload = append(payload, card.Sign[:]...)
	payload = append(payload, card.Sig[:]...)
	payload = binary.BigEndian.AppendUint64(payload, in.cfg.Identity.stamp(now))
	payload = appendParams(payload, in.params)

	msg := make([]byte, 0, InitiationSize)
	msg = putHeader(msg, TypeInitiation, in.cfg.LocalID)
	msg, err = hs.writeFirst(msg, prologue(msg[:headerLen+idLen]), payload)
	if err != nil {
		// Only a peer key of low order gets here; NewInitiator cannot
		// know it, the first DH does.
		return nil, fmt.Errorf("handshake: %w", err)
	}
	m1 := mac(in.mac1Key[:], msg)
	msg = append(msg, m1[:]...)
	if in.cookie.valid(now) {
		m2 := mac(in.cookie.cookie[:], msg)
		msg = append(msg, m2[:]...)
	} else {
		msg = append(msg, make([]byte, macLen)...)
	}
	copy(in.hs[1:], in.hs[:])
	in.hs[0], in.lastMAC1 = hs, m1
	return msg, nil
}

// ConsumeCookieReply takes the responder's cookie: the responder is under
// load and wants proof of our address. The next Initiation carries it;
// send one at once.
func (in *Initiator) ConsumeCookieReply(msg []byte, now time.Time) error {
	id, err := checkHeader(msg, TypeCookieReply, CookieReplySize)
	if err != nil {
		return ErrMalformed
	}
	if in.hs[0] == nil || in.done || id != in.cfg.LocalID {
		return ErrUnexpected
	}
	return in.cookie.open(msg, &in.encKey, in.lastMAC1[:], now)
}

// ConsumeResponse completes the handshake with the responder's response to
// one of our latest initiations (see keptInitiations).
func (in *Initiator) ConsumeResponse(msg []byte, now time.Time) (*Established, error) {
	id, err := checkHeader(msg, TypeResponse, ResponseSize)
	if err != nil {
		return nil, ErrMalformed
	}
	if in.hs[0] == nil || in.done || id != in.cfg.LocalID {
		return nil, ErrUnexpected
	}
	if !macEqual(msg[respMAC1Off:], mac(in.ourMAC1[:], msg[:respMAC1Off])) {
		return nil, ErrMAC
	}
	var buf [respPayloadLen]byte
	var payload []byte
	var hs *ikInitiator
	for _, hs = range in.hs {
		if hs == nil {
			return nil, ErrAuth
		}
		if payload, err = hs.readSecond(buf[:0], msg[headerLen+idLen:respMAC1Off]); err == nil {
			break
		}
	}
	if err != nil {
		return nil, ErrAuth
	}
	peerID := binary.BigEndian.Uint64(payload)
	card := Card{DH: in.cfg.Peer.DH}
	copy(card.Sign[:], payload[idLen:idLen+32])
	copy(card.Sig[:], payload[idLen+32:idLen+cardTailLen])
	if card.Sign != in.cfg.Peer.Sign || card.Verify() != nil {
		return nil, ErrIdentity
	}
	peerParams, err := parseParams(payload[idLen+cardTailLen:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrParams, err)
	}
	engine, chosen := splitSuites(peerParams)
	if len(chosen) != 1 || !slices.Contains(in.cfg.Suites, chosen[0]) {
		return nil, fmt.Errorf("%w: the responder chose suites %v, we offered %v", ErrParams, chosen, in.cfg.Suites)
	}
	k1, k2 := hs.sym.split()
	in.done = true
	est := &Established{
		Peer:       card,
		PeerParams: engine,
		LocalID:    in.cfg.LocalID,
		PeerID:     peerID,
		Suite:      chosen[0],
		Hash:       hs.sym.h,
		Session:    newSession(chosen[0], k1, k2, now),
	}
	in.hs = [keptInitiations]*ikInitiator{}
	return est, nil
}

// newEphemeral makes an ephemeral X25519 key from 32 bytes of crypto/rand
// (any 32 bytes are a valid X25519 private key, RFC 7748 section 5).
func newEphemeral() (*ecdh.PrivateKey, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("handshake: ephemeral key: %w", err)
	}
	return ecdh.X25519().NewPrivateKey(b[:])
}

// Established is a finished handshake, seen from one side.
type Established struct {
	// Peer is the other side's verified identity card.
	Peer Card
	// PeerParams are the engine parameters the peer announced.
	PeerParams Params
	// LocalID and PeerID are the two connection IDs: packets to us carry
	// LocalID, packets to the peer PeerID.
	LocalID, PeerID uint64
	// Suite is the AEAD both sides chose.
	Suite Suite
	// Hash is the Noise handshake hash: the same on both sides and unique
	// to this handshake, for binding a higher protocol to the session.
	Hash [32]byte
	// Session protects the packets that follow.
	Session *Session
}
