package handshake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/cpu"
)

// A Suite is the AEAD that protects a session's packets.
type Suite uint8

// The suites. Both are always available; which is faster depends on the CPU.
const (
	// AES128GCM is AES-128-GCM. With AES and carry-less multiply
	// instructions it seals 1400 bytes in about 0.4 µs on the project's
	// machines, twice as fast as ChaCha20-Poly1305; without them it is
	// slow and not constant-time.
	AES128GCM Suite = 1
	// ChaCha20Poly1305 is ChaCha20-Poly1305 (RFC 8439), fast in software
	// on every CPU.
	ChaCha20Poly1305 Suite = 2
)

func (s Suite) String() string {
	switch s {
	case AES128GCM:
		return "AES-128-GCM"
	case ChaCha20Poly1305:
		return "ChaCha20-Poly1305"
	}
	return fmt.Sprintf("Suite(%d)", uint8(s))
}

func (s Suite) known() bool { return s == AES128GCM || s == ChaCha20Poly1305 }

// Limits per suite, from RFC 9001 section 6.6 (QUIC's AEAD limits, which
// apply to any protocol that numbers packets the same way):
//   - confidentiality: AES-GCM keys seal at most 2^23 full-size packets;
//     ChaCha20-Poly1305's limit (2^62) is out of reach, so 2^32 is used only
//     so that every session still updates its keys on a count as well as on
//     RekeyAfterTime;
//   - integrity: after 2^52 (AES-GCM) or 2^36 (ChaCha20-Poly1305) packets
//     that fail authentication, forgery becomes possible; the session stops.
func (s Suite) limits() (rekeyAfterPackets, integrityLimit uint64) {
	if s == AES128GCM {
		return 1 << 23, 1 << 52
	}
	return 1 << 32, 1 << 36
}

func (s Suite) keyLen() int {
	if s == AES128GCM {
		return 16
	}
	return chacha20poly1305.KeySize
}

// hasAESGCMHardware says whether AES-GCM runs in hardware here: AES-NI with
// PCLMULQDQ on amd64, the ARMv8 crypto extension (AES and PMULL) on arm64,
// KMA on s390x. A Raspberry Pi 4, for one, has none of them.
var hasAESGCMHardware = (cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ) ||
	(cpu.ARM64.HasAES && cpu.ARM64.HasPMULL) ||
	(cpu.S390X.HasAES && cpu.S390X.HasAESGCM)

// DefaultSuites returns the suites in this machine's order of preference:
// AES-128-GCM first where the CPU runs it in hardware, ChaCha20-Poly1305
// first otherwise.
func DefaultSuites() []Suite {
	if hasAESGCMHardware {
		return []Suite{AES128GCM, ChaCha20Poly1305}
	}
	return []Suite{ChaCha20Poly1305, AES128GCM}
}

// chooseSuite is the responder's choice among the initiator's offer: the
// suite both put first if they agree; if they disagree, one of them lacks
// AES hardware and would be the bottleneck with AES-GCM, so
// ChaCha20-Poly1305; otherwise the initiator's first that we support.
func chooseSuite(offered, ours []Suite) (Suite, bool) {
	ok := func(s Suite) bool { return s.known() && slices.Contains(ours, s) }
	if len(offered) > 0 && len(ours) > 0 && offered[0] == ours[0] && ok(offered[0]) {
		return offered[0], true
	}
	if slices.Contains(offered, ChaCha20Poly1305) && ok(ChaCha20Poly1305) {
		return ChaCha20Poly1305, true
	}
	for _, s := range offered {
		if ok(s) {
			return s, true
		}
	}
	return 0, false
}

func checkSuites(suites []Suite) ([]Suite, error) {
	if len(suites) == 0 {
		return DefaultSuites(), nil
	}
	for i, s := range suites {
		if !s.known() {
			return nil, fmt.Errorf("handshake: unknown cipher suite %d", uint8(s))
		}
		if slices.Contains(suites[:i], s) {
			return nil, fmt.Errorf("handshake: cipher suite %v listed twice", s)
		}
	}
	return suites, nil
}

// Key update timing.
const (
	// RekeyAfterTime is the age at which a sending key is replaced by the
	// next one, as WireGuard's REKEY_AFTER_TIME: it limits how much traffic
	// one stolen key exposes.
	RekeyAfterTime = 2 * time.Minute

	// KeyGrace is how long a receiver still opens packets under the key it
	// has just replaced. A packet sealed just before an update can arrive
	// late by the largest delay difference between two paths of the
	// connection (a TCP relay holds packets for seconds under loss) plus
	// reordering; 10 s covers that and keeps an old key alive only briefly.
	KeyGrace = 10 * time.Second

	// maxPhasesAhead is how many key updates a receiver may find it has
	// missed. A sender updates at most once per 2^23 packets or two
	// minutes, so missing one whole phase already takes a long outage;
	// two is a margin, and more would let forged packets make the
	// receiver derive keys for nothing.
	maxPhasesAhead = 2
)

// TagSize is what sealing adds to a packet.
const TagSize = 16

// A Session protects the packets of one connection after the handshake:
// Send seals what this side sends and Recv opens what it receives. The two
// halves are independent: each may be used by its own goroutine, but each
// by one goroutine at a time.
type Session struct {
	Send *Sealer
	Recv *Opener
}

func newSession(suite Suite, sendSecret, recvSecret [32]byte, now time.Time) *Session {
	rekey, integrity := suite.limits()
	s := &Session{
		Send: &Sealer{suite: suite, rekeyAfter: rekey, rekeyAge: RekeyAfterTime, born: now},
		Recv: &Opener{suite: suite, integrityLimit: integrity, grace: KeyGrace},
	}
	s.Send.key = deriveKeys(suite, sendSecret)
	s.Recv.cur = deriveKeys(suite, recvSecret)
	return s
}

// epochKeys are the keys of one key phase of one direction.
type epochKeys struct {
	aead   cipher.AEAD
	iv     [12]byte
	secret [32]byte // from which the next phase's keys derive
}

// deriveKeys expands a phase secret into its AEAD key and IV, and the next
// phase's secret, with HKDF-Expand-SHA256 and labels that name each output.
// The next secret is a one-way function of this one, so a key that leaks
// later does not expose the packets sealed before the update.
func deriveKeys(suite Suite, secret [32]byte) *epochKeys {
	k := &epochKeys{}
	key := expand(secret, "pydevts key", suite.keyLen())
	copy(k.iv[:], expand(secret, "pydevts iv", 12))
	copy(k.secret[:], expand(secret, "pydevts key update", 32))
	var err error
	if suite == AES128GCM {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			k.aead, err = cipher.NewGCM(block)
		}
	} else {
		k.aead, err = chacha20poly1305.New(key)
	}
	if err != nil {
		panic(err) // unreachable: key sizes are fixed above
	}
	clear(key)
	return k
}

func expand(secret [32]byte, label string, n int) []byte {
	b, err := hkdf.Expand(sha256.New, secret[:], label, n)
	if err != nil {
		panic(err) // unreachable: n is far below HKDF's limit
	}
	return b
}

// nonce writes the per-packet nonce into buf: the phase IV XOR the packet
// number, as QUIC and TLS 1.3 build theirs. Packet numbers never repeat in a
// direction, so nonces never repeat under one key, and no nonce is sent.
func (k *epochKeys) nonce(buf *[12]byte, pn uint64) []byte {
	*buf = k.iv
	binary.BigEndian.PutUint64(buf[4:], binary.BigEndian.Uint64(k.iv[4:])^pn)
	return buf[:]
}

// A Sealer seals the packets one side sends.
type Sealer struct {
	suite      Suite
	key        *epochKeys
	phase      uint64 // number of key updates so far
	sealed     uint64 // packets sealed under key
	born       time.Time
	rekeyAfter uint64
	rekeyAge   time.Duration
	lastPN     uint64
	usedPN     bool
	nonceBuf   [12]byte // here rather than on the stack: an AEAD call would make it escape
}

// Phase returns the key phase to put in the header of the next packet,
// updating the key first when it has sealed enough packets or is old
// enough. Call it before writing each header: Seal uses the key of the
// phase returned by the last call.
func (s *Sealer) Phase(now time.Time) uint8 {
	if s.sealed >= s.rekeyAfter || now.Sub(s.born) >= s.rekeyAge {
		s.key = deriveKeys(s.suite, s.key.secret)
		s.phase++
		s.sealed = 0
		s.born = now
	}
	return uint8(s.phase)
}

// Seal appends to dst the encryption of plaintext as packet number pn,
// authenticating ad (the packet's clear header, with the phase from Phase)
// too, and returns the result. Like cipher.AEAD's, it may seal in place
// (dst = plaintext[:0]), and dst must not overlap ad.
//
// Packet numbers must increase from one call to the next: a repeated number
// would repeat a nonce, which breaks the AEAD, so Seal panics on one, as it
// is a bug in the caller and never a matter of input.
func (s *Sealer) Seal(dst, plaintext []byte, pn uint64, ad []byte) []byte {
	if s.usedPN && pn <= s.lastPN {
		panic(fmt.Sprintf("handshake: packet number %d sealed after %d; nonces would repeat", pn, s.lastPN))
	}
	s.lastPN, s.usedPN = pn, true
	s.sealed++
	return s.key.aead.Seal(dst, s.key.nonce(&s.nonceBuf, pn), plaintext, ad)
}

// KeyPhase returns how many times the sending key has been updated.
func (s *Sealer) KeyPhase() uint64 { return s.phase }

// Suite returns the session's AEAD.
func (s *Sealer) Suite() Suite { return s.suite }

// An Opener opens the packets one side receives: it picks the key by the
// phase in the header, authenticates, and drops replays.
type Opener struct {
	suite          Suite
	cur            *epochKeys
	curPhase       uint64
	prev           *epochKeys // the key before cur, until prevUntil
	prevUntil      time.Time
	ahead          [maxPhasesAhead]*epochKeys // derived lazily; ahead[i] is phase curPhase+1+i
	window         replayWindow
	failures       uint64
	integrityLimit uint64
	grace          time.Duration
	confirmed      bool
	nonceBuf       [12]byte
}

// Recovered records that packet pn was rebuilt from FEC parity rather
// than opened, so that the packet itself, should it arrive late, is
// refused as a replay (ErrPacketReplayed) and not processed twice. It
// reports false, changing nothing, when pn was opened or recovered already
// or is too old for the replay window. Only the plaintext of
// authenticated packets goes into parity, so a rebuilt packet is as
// authentic as the packets it was rebuilt from.
func (o *Opener) Recovered(pn uint64) bool {
	if o.window.check(pn) != nil {
		return false
	}
	o.window.mark(pn)
	return true
}

// Open authenticates and decrypts ciphertext, sealed as packet number pn
// under key phase phase with clear header ad, appends the plaintext to dst
// and returns it. It may open in place (dst = ciphertext[:0]). It fails with
// ErrPacketReplayed for a packet it has opened before, ErrPacketTooOld for
// one too far behind the newest (see ReplayWindow), ErrKeyPhase for a phase
// whose key it no longer or not yet has, ErrPacketAuth when authentication
// fails, and ErrIntegrityLimit once so many packets failed that the session
// must end. A packet that fails changes nothing but the failure count.
func (o *Opener) Open(dst, ciphertext []byte, pn uint64, phase uint8, ad []byte, now time.Time) ([]byte, error) {
	if o.failures >= o.integrityLimit {
		return nil, ErrIntegrityLimit
	}
	if err := o.window.check(pn); err != nil {
		return nil, err
	}
	var k *epochKeys
	delta := int8(phase - uint8(o.curPhase))
	switch {
	case delta == 0:
		k = o.cur
	case delta == -1 && o.prev != nil && now.Before(o.prevUntil):
		k = o.prev
	case delta >= 1 && int(delta) <= maxPhasesAhead:
		k = o.keyAhead(int(delta))
	default:
		return nil, ErrKeyPhase
	}
	out, err := k.aead.Open(dst, k.nonce(&o.nonceBuf, pn), ciphertext, ad)
	if err != nil {
		o.failures++
		return nil, ErrPacketAuth
	}
	o.window.mark(pn)
	o.confirmed = true
	if delta > 0 {
		// The peer has updated its key; follow, keeping the key of the
		// phase just before for the stragglers sealed before the update
		// (the one we had, or the last one we skipped).
		o.prev, o.prevUntil = o.cur, now.Add(o.grace)
		if delta > 1 {
			o.prev = o.ahead[delta-2]
		}
		o.cur = k
		o.curPhase += uint64(delta)
		var next [maxPhasesAhead]*epochKeys
		copy(next[:], o.ahead[delta:])
		o.ahead = next
	}
	return out, nil
}

// keyAhead returns the keys n phases after the current one.
func (o *Opener) keyAhead(n int) *epochKeys {
	prev := o.cur
	for i := range n {
		if o.ahead[i] == nil {
			o.ahead[i] = deriveKeys(o.suite, prev.secret)
		}
		prev = o.ahead[i]
	}
	return prev
}

// Confirmed reports whether a packet has been opened: proof that the peer
// holds the session keys. A responder's session is confirmed only then,
// which is what tells a fresh handshake from a replayed initiation.
func (o *Opener) Confirmed() bool { return o.confirmed }

// Failures returns how many packets failed authentication.
func (o *Opener) Failures() uint64 { return o.failures }

// KeyPhase returns how many key updates of the peer this side has followed.
func (o *Opener) KeyPhase() uint64 { return o.curPhase }
