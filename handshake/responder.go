package handshake

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ResponderConfig says whom a Responder accepts and what it announces.
type ResponderConfig struct {
	// Identity is ours. Required.
	Identity *Identity
	// Allow, when not empty, lists the fingerprints (64 hex characters) of
	// the only peers accepted.
	Allow []string
	// Accept, when not nil, is asked about every peer that authenticated
	// (and passed Allow); an error refuses the peer. It may be called from
	// several goroutines at once.
	Accept func(peer Card) error
	// Params is what we announce to initiators.
	Params Params
	// Suites are the AEADs we accept, most preferred first; nil means
	// DefaultSuites.
	Suites []Suite
	// HandshakeRate is how many initiations per second, from addresses
	// not yet proven by a cookie, the responder answers with real work
	// before it counts as under load and answers with cookie replies
	// instead; a burst of HandshakeRate/10 (at least one) is allowed on
	// top. Zero means DefaultHandshakeRate; a negative value means always
	// under load, so that every initiator must prove its address first.
	HandshakeRate float64
	// MaxPeers bounds the replay table (the initiation timestamps seen of
	// each peer, at most 32); zero means DefaultMaxPeers. See doc.go for what happens
	// to a peer that falls out of it.
	MaxPeers int
}

const (
	// DefaultHandshakeRate is the default ResponderConfig.HandshakeRate. A
	// responder answers an initiation with about 0.26 ms of CPU
	// (BenchmarkResponder on the project's machines: 3800 a second per
	// core), so 1000 a second holds the work done for unproven addresses
	// to about a quarter of one core. Beyond it a flood gets cookie
	// replies (4 µs each), and honest initiators one more round trip.
	DefaultHandshakeRate = 1000
	// DefaultMaxPeers is the default ResponderConfig.MaxPeers: 65536 peers
	// at about 100 bytes each is a few MB.
	DefaultMaxPeers = 1 << 16
)

// A Responder answers initiations. It is safe for concurrent use: the
// Diffie-Hellman work of several initiations runs in parallel, and only
// the small shared state (cookie secret, load meter, replay table) is
// locked.
type Responder struct {
	cfg     ResponderConfig
	allow   map[string]bool
	params  Params // cfg.Params with our suites, to check they fit
	mac1Key [32]byte
	rate    float64
	burst   float64

	// mu guards cookies, tokens, tokensAt and lastStamp.
	mu        sync.Mutex
	cookies   cookieJar
	tokens    float64
	tokensAt  time.Time
	lastStamp map[[32]byte]*stamps // per peer X25519 key: see stamps.go
}

// NewResponder checks cfg and returns a Responder.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.Identity == nil {
		return nil, errors.New("handshake: ResponderConfig.Identity is nil")
	}
	suites, err := checkSuites(cfg.Suites)
	if err != nil {
		return nil, err
	}
	cfg.Suites = suites
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = DefaultMaxPeers
	}
	r := &Responder{cfg: cfg, lastStamp: map[[32]byte]*stamps{}}
	// The response carries exactly one suite, the longest list we could
	// answer with is one entry; check with that.
	if r.params, err = withSuites(cfg.Params, suites[:1]); err != nil {
		return nil, err
	}
	if len(cfg.Allow) > 0 {
		r.allow = map[string]bool{}
		for _, fp := range cfg.Allow {
			fp = strings.ToLower(strings.TrimSpace(fp))
			if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
				return nil, fmt.Errorf("handshake: allow-list entry %q is not a fingerprint (64 hex characters)", fp)
			}
			r.allow[fp] = true
		}
	}
	switch {
	case cfg.HandshakeRate == 0:
		r.rate = DefaultHandshakeRate
	case cfg.HandshakeRate > 0:
		r.rate = cfg.HandshakeRate
	}
	r.burst = max(1, r.rate/10)
	r.tokens = r.burst
	card := cfg.Identity.Card()
	r.mac1Key = labelledKey(labelMAC1, card.DH[:])
	r.cookies.encKey = labelledKey(labelCookie, card.DH[:])
	return r, nil
}

// underLoad takes a token from the bucket, or reports that there is none.
func (r *Responder) underLoad(now time.Time) bool {
	if r.rate <= 0 {
		return true
	}
	// Callers on several goroutines read the clock in any order: a time
	// before the last one refills nothing and does not move the mark back.
	if r.tokensAt.IsZero() {
		r.tokensAt = now
	} else if elapsed := now.Sub(r.tokensAt); elapsed > 0 {
		r.tokens = min(r.burst, r.tokens+elapsed.Seconds()*r.rate)
		r.tokensAt = now
	}
	if r.tokens < 1 {
		return true
	}
	r.tokens--
	return false
}

// An Initiation is a verified initiation: the peer proved its identity and
// is accepted. Respond completes the handshake.
type Initiation struct {
	// Peer is the initiator's verified identity card.
	Peer Card
	// PeerParams are the engine parameters the initiator announced.
	PeerParams Params
	// PeerID is the initiator's connection ID.
	PeerID uint64

	r      *Responder
	hs     *ikResponder
	suites []Suite // offered by the initiator
}

// ConsumeInitiation reads an initiation that arrived from src, the bytes
// that name the sender's address (a netip.AddrPort in binary form, or
// whatever identifies the path): that is what a cookie proves. Exactly one
// of its results is set:
//
//   - an *Initiation when the initiator authenticated, was accepted and its
//     initiation is new: call Respond;
//   - a cookie reply to send back to src when the responder is under load
//     and the initiation did not prove its address;
//   - an error when the message must be dropped, unanswered.
func (r *Responder) ConsumeInitiation(msg, src []byte, now time.Time) (*Initiation, []byte, error) {
	peerID, err := checkHeader(msg, TypeInitiation, InitiationSize)
	if err != nil {
		return nil, nil, ErrMalformed
	}
	if !macEqual(msg[initMAC1Off:initMAC2Off], mac(r.mac1Key[:], msg[:initMAC1Off])) {
		return nil, nil, ErrMAC
	}

	r.mu.Lock()
	if err := r.cookies.refresh(now); err != nil {
		r.mu.Unlock()
		return nil, nil, fmt.Errorf("handshake: cookie secret: %w", err)
	}
	if !r.cookies.validMAC2(msg, src) && r.underLoad(now) {
		reply, err := r.cookies.reply(msg, src)
		r.mu.Unlock()
		return nil, reply, err
	}
	r.mu.Unlock()

	hs := &ikResponder{s: r.cfg.Identity.dh}
	var buf [initPayloadLen]byte
	payload, err := hs.readFirst(buf[:0], prologue(msg[:headerLen+idLen]), msg[headerLen+idLen:initMAC1Off])
	if err != nil {
		return nil, nil, ErrAuth
	}
	card := Card{}
	copy(card.DH[:], hs.rs.Bytes())
	copy(card.Sign[:], payload[:32])
	copy(card.Sig[:], payload[32:cardTailLen])
	stamp := binary.BigEndian.Uint64(payload[cardTailLen:])
	// A replay is found out before the card's signature is checked (an
	// Ed25519 verification, half the cost of the key exchange already
	// done): the static key is the one the handshake proved.
	r.mu.Lock()
	st := r.lastStamp[card.DH]
	replay := st != nil && !st.fresh(stamp)
	r.mu.Unlock()
	if replay {
		return nil, nil, ErrReplayedInitiation
	}
	if card.Verify() != nil {
		return nil, nil, ErrIdentity
	}
	if r.allow != nil && !r.allow[card.Fingerprint()] {
		return nil, nil, ErrRefused
	}
	if r.cfg.Accept != nil {
		if err := r.cfg.Accept(card); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrRefused, err)
		}
	}
	peerParams, err := parseParams(payload[cardTailLen+stampLen:])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrParams, err)
	}
	engine, suites := splitSuites(peerParams)
	if _, ok := chooseSuite(suites, r.cfg.Suites); !ok {
		return nil, nil, fmt.Errorf("%w: no common cipher suite (offered %v, we accept %v)", ErrParams, suites, r.cfg.Suites)
	}

	r.mu.Lock()
	st = r.lastStamp[card.DH]
	if st == nil {
		if len(r.lastStamp) >= r.cfg.MaxPeers {
			for k := range r.lastStamp { // map order is random: a random victim
				delete(r.lastStamp, k)
				break
			}
		}
		st = &stamps{}
		r.lastStamp[card.DH] = st
	}
	if !st.accept(stamp) {
		r.mu.Unlock()
		return nil, nil, ErrReplayedInitiation
	}
	r.mu.Unlock()

	return &Initiation{Peer: card, PeerParams: engine, PeerID: peerID, r: r, hs: hs, suites: suites}, nil, nil
}

// Respond completes the handshake: it returns the response to send to the
// initiator and the established session. localID is our connection ID for
// this connection. The session is not Confirmed until a packet from the
// initiator opens; see doc.go.
func (in *Initiation) Respond(localID uint64, now time.Time) ([]byte, *Established, error) {
	if in.hs == nil {
		return nil, nil, errors.New("handshake: Respond called twice")
	}
	r := in.r
	suite, _ := chooseSuite(in.suites, r.cfg.Suites)
	params, err := withSuites(r.cfg.Params, []Suite{suite})
	if err != nil {
		return nil, nil, err // unreachable: NewResponder checked the same size
	}
	if in.hs.e, err = newEphemeral(); err != nil {
		return nil, nil, err
	}
	card := r.cfg.Identity.Card()
	payload := make([]byte, 0, respPayloadLen)
	payload = binary.BigEndian.AppendUint64(payload, localID)
	payload = append(payload, card.Sign[:]...)
	payload = append(payload, card.Sig[:]...)
	payload = appendParams(payload, params)

	msg := make([]byte, 0, ResponseSize)
	msg = putHeader(msg, TypeResponse, in.PeerID)
	if msg, err = in.hs.writeSecond(msg, payload); err != nil {
		return nil, nil, ErrAuth // only a low-order ephemeral key from the peer gets here
	}
	peerMAC1 := labelledKey(labelMAC1, in.Peer.DH[:])
	m1 := mac(peerMAC1[:], msg)
	msg = append(msg, m1[:]...)

	k1, k2 := in.hs.sym.split()
	est := &Established{
		Peer:       in.Peer,
		PeerParams: in.PeerParams,
		LocalID:    localID,
		PeerID:     in.PeerID,
		Suite:      suite,
		Hash:       in.hs.sym.h,
		Session:    newSession(suite, k2, k1, now),
	}
	in.hs = nil
	return msg, est, nil
}
