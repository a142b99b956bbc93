package handshake

import (
	"crypto/rand"
	"crypto/subtle"
	"time"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
)

// Denial-of-service protection, after WireGuard (whitepaper section 5.4):
//
//   - mac1 is a MAC of the message keyed by the receiver's public key. Only
//     someone who knows that key can make it, so the responder checks it
//     before any Diffie-Hellman and drops scans and junk for the price of
//     one BLAKE2s.
//   - Under load, an initiation must also carry mac2, a MAC keyed by a
//     cookie: a MAC of the sender's address under a secret that the
//     responder replaces every CookieRefresh. An initiation without a valid
//     mac2 gets a cookie reply instead of a response: no DH work, no state,
//     and a reply smaller than the initiation, so a spoofed-source flood
//     costs the responder next to nothing and amplifies nothing. The cookie
//     travels encrypted (XChaCha20-Poly1305 under a key derived from the
//     responder's public key, bound to the initiation's mac1), so only the
//     initiator that sent the initiation, at the address the cookie names,
//     can use it.

const (
	labelMAC1   = "mac1----"
	labelCookie = "cookie--"

	// CookieRefresh is how often the responder replaces its cookie secret,
	// and how long an initiator uses a cookie (WireGuard's
	// COOKIE_REFRESH_TIME). The responder accepts cookies under the current
	// and the previous secret, so a cookie stays valid for 2 to 4 minutes
	// at the responder and an initiator never holds one the responder has
	// forgotten.
	CookieRefresh = 2 * time.Minute
)

// labelledKey is HASH(label || public key), the key of mac1 or of the cookie
// encryption for the node that owns pub.
func labelledKey(label string, pub []byte) [32]byte {
	return blake2s.Sum256(append([]byte(label), pub...))
}

// mac is keyed BLAKE2s-128.
func mac(key []byte, data ...[]byte) (out [macLen]byte) {
	h, err := blake2s.New128(key)
	if err != nil {
		panic(err) // unreachable: keys here are 16 or 32 bytes
	}
	for _, d := range data {
		h.Write(d)
	}
	h.Sum(out[:0])
	return out
}

func macEqual(a []byte, b [macLen]byte) bool { return subtle.ConstantTimeCompare(a, b[:]) == 1 }

// cookieJar is the responder's cookie state.
type cookieJar struct {
	secret, prevSecret [32]byte
	hasPrev            bool
	born               time.Time
	encKey             [32]byte // cookie encryption key: labelledKey(labelCookie, our public key)
}

// refresh replaces the secret once it is older than CookieRefresh.
func (j *cookieJar) refresh(now time.Time) error {
	if !j.born.IsZero() && now.Sub(j.born) < CookieRefresh {
		return nil
	}
	var s [32]byte
	if _, err := rand.Read(s[:]); err != nil {
		return err
	}
	j.prevSecret, j.hasPrev = j.secret, !j.born.IsZero()
	if !j.born.IsZero() && now.Sub(j.born) >= 2*CookieRefresh {
		// Both secrets are stale: the previous one must not live on.
		j.hasPrev = false
	}
	j.secret, j.born = s, now
	return nil
}

func cookieFor(secret *[32]byte, src []byte) [cookieLen]byte {
	return mac(secret[:], src)
}

// validMAC2 reports whether the initiation msg carries a mac2 made with the
// cookie of src under the current or the previous secret. An initiator
// without a cookie sends zeros (as a flood does): that costs no hashing.
func (j *cookieJar) validMAC2(msg, src []byte) bool {
	if j.born.IsZero() || [macLen]byte(msg[initMAC2Off:]) == [macLen]byte{} {
		return false
	}
	c := cookieFor(&j.secret, src)
	if macEqual(msg[initMAC2Off:], mac(c[:], msg[:initMAC2Off])) {
		return true
	}
	if !j.hasPrev {
		return false
	}
	c = cookieFor(&j.prevSecret, src)
	return macEqual(msg[initMAC2Off:], mac(c[:], msg[:initMAC2Off]))
}

// reply builds the cookie reply to the initiation msg from src.
func (j *cookieJar) reply(msg, src []byte) ([]byte, error) {
	senderID, _ := checkHeader(msg, TypeInitiation, InitiationSize)
	out := make([]byte, 0, CookieReplySize)
	out = putHeader(out, TypeCookieReply, senderID)
	nonce := out[len(out) : len(out)+cookieNonceN]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = out[:len(out)+cookieNonceN]
	aead, err := chacha20poly1305.NewX(j.encKey[:])
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	c := cookieFor(&j.secret, src)
	return aead.Seal(out, nonce, c[:], msg[initMAC1Off:initMAC2Off]), nil
}

// heldCookie is the initiator's side: the last cookie received and when.
type heldCookie struct {
	cookie   [cookieLen]byte
	received time.Time // zero: none
}

func (h *heldCookie) valid(now time.Time) bool {
	return !h.received.IsZero() && now.Sub(h.received) < CookieRefresh
}

// open decrypts a cookie reply to the initiation whose mac1 was lastMAC1.
func (h *heldCookie) open(msg []byte, encKey *[32]byte, lastMAC1 []byte, now time.Time) error {
	aead, err := chacha20poly1305.NewX(encKey[:])
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	nonce := msg[headerLen+idLen : headerLen+idLen+cookieNonceN]
	var c [cookieLen]byte
	if _, err := aead.Open(c[:0], nonce, msg[headerLen+idLen+cookieNonceN:], lastMAC1); err != nil {
		return ErrAuth
	}
	h.cookie, h.received = c, now
	return nil
}
