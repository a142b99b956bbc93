// Package handshake gives every node an identity and turns two identities
// into a pair of session keys that protect every packet between them.
//
// It is pure: functions over byte slices and a clock reading passed in; no
// sockets, no goroutines, no timers. The engine (package rudp) carries the
// messages, keeps the timers and decides when to retry.
//
// # Identity
//
// A node has two key pairs, as PYDEVTS asks: X25519 for key exchange and
// Ed25519 for signing. The Ed25519 key signs the X25519 public key, and the
// two public keys with that signature travel as one verifiable identity
// [Card]. A card's fingerprint is the lowercase hex SHA-256 of its two public
// keys, X25519 first: 64 characters that name a node, as SDMP names nodes.
// [Card.String] is the one-line public form ("pydevts1:" and 171 characters
// of base64url) for flags and configuration files; it checks itself when
// parsed. [LoadKeyFile] and [WriteKeyFile] keep an identity in a file of two
// standard PKCS#8 PEM blocks, mode 0600, which openssl reads too.
//
// # Key exchange: Noise IK
//
// The exchange is Noise_IK_25519_ChaChaPoly_BLAKE2s (Noise revision 34,
// section 7.5), the pattern WireGuard uses:
//
//	<- s
//	...
//	-> e, es, s, ss     initiation
//	<- e, ee, se        response
//
// Why IK: in pydevts the dialling side always knows whom it dials. `pydevts
// dial --peer` takes the peer's card, and a Tox relay routes to a peer by
// its X25519 key, so the responder's static key is known in advance. IK then
// gives what PYDEVTS set out to do, done with sound crypto:
//
//   - one round trip (XX would take one and a half);
//   - mutual authentication: es and ss prove the initiator holds its static
//     key, ee and se prove the responder holds its own;
//   - forward secrecy: the session keys depend on the ephemeral-ephemeral
//     DH, so stealing both static keys later reveals nothing recorded;
//   - both sides contribute randomness: each sends a fresh ephemeral key and
//     the keys depend on both, so neither side's generator alone decides
//     them (PYDEVTS's XOR of two random numbers had the same aim);
//   - identity hiding for the initiator: its static key travels encrypted.
//
// The Noise core (noise.go) is checked byte for byte against the cacophony
// test vector for this protocol name. Each payload carries the sender's
// card (the Ed25519 key and signature; the X25519 key is the Noise static
// key), so both sides verify the whole card inside the encrypted handshake.
// The responder then asks its allow-list of fingerprints and its Accept
// callback. The initiator checks that the responder's card is the one it
// dialled.
//
// # Messages
//
// All integers are big-endian; every message has a fixed size. The first
// byte is the [MessageType], the second the protocol [Version]; a message of
// another version is dropped.
//
// Initiation (308 bytes):
//
//	+------+---------+----------+-----------+-----------+---------------+----------------+------+------+
//	| type | version | reserved | sender ID | ephemeral | static (enc.) | payload (enc.) | mac1 | mac2 |
//	|  1   |    1    |  2 zero  |     8     |    32     |    32 + 16    |    168 + 16    |  16  |  16  |
//	+------+---------+----------+-----------+-----------+---------------+----------------+------+------+
//	payload: Ed25519 key 32 | card signature 64 | timestamp 8 (Unix ns) | parameters 64
//
// Response (244 bytes):
//
//	+------+---------+----------+-------------+-----------+----------------+------+
//	| type | version | reserved | receiver ID | ephemeral | payload (enc.) | mac1 |
//	|  1   |    1    |  2 zero  |      8      |    32     |    168 + 16    |  16  |
//	+------+---------+----------+-------------+-----------+----------------+------+
//	payload: sender ID 8 | Ed25519 key 32 | card signature 64 | parameters 64
//
// Cookie reply (68 bytes):
//
//	+------+---------+----------+-------------+-------+-----------------+
//	| type | version | reserved | receiver ID | nonce | cookie (enc.)   |
//	|  1   |    1    |  2 zero  |      8      |  24   |     16 + 16     |
//	+------+---------+----------+-------------+-------+-----------------+
//
// The sender ID of the initiation is the initiator's connection ID; the
// Noise prologue ("pydevts handshake v1" and the first 12 bytes of the
// initiation) authenticates it and the header. The responder's connection
// ID travels encrypted in the response; the receiver ID in the clear only
// finds the waiting initiator. The parameter block (params.go) is versioned
// and carries the cipher suite negotiation and whatever the engine wants to
// agree on (MTU, FEC) as type-length-value entries; it is encrypted and
// authenticated like the rest of the payload.
//
// # Replay and denial of service
//
// An initiation carries a timestamp (as WireGuard's TAI64N), and an
// Identity keeps its timestamps strictly increasing, so retries in one
// clock tick and a clock stepped back do not lock a node out of its own
// later handshakes. The responder refuses a timestamp it accepted from
// that peer before. Unlike WireGuard, which has one handshake per peer at
// a time and accepts only a newer timestamp, it accepts an older one
// that it has not seen, if it is within 10 s of the newest and above the
// oldest of the 32 it keeps per peer: a peer dialing several connections
// at once has initiations arriving in another order than it made them
// (stamps.go). The table holds at most ResponderConfig.MaxPeers peers;
// when it is full a random entry goes. The table lives in memory, so a
// responder that restarts starts it empty. A replay of an evicted peer's
// old initiation, or of one recorded before the restart, then passes, but
// the replayer cannot use the response (it lacks the ephemeral key), so
// all it gets is a session that is never confirmed: see "Engine duties".
//
// mac1 and cookies protect the responder's CPU (cookie.go): initiations
// that do not know its public key die for the price of one hash, and under
// load (more than ResponderConfig.HandshakeRate initiations a second) an
// initiation must carry a cookie that proves its source address, or it gets
// a cookie reply: no DH work, no state kept, and 68 bytes back for 308
// received. A response (244 bytes) is also smaller than the initiation, so
// the responder never sends an unproven address more than it received.
//
// # Packet protection
//
// Noise's Split gives one secret per direction. A [Session] derives from
// each an AEAD key and IV per key phase (HKDF-Expand-SHA256), and seals
// every packet with one AEAD call: AES-128-GCM where the CPU has AES
// instructions, ChaCha20-Poly1305 otherwise, as the two sides negotiate
// (see DefaultSuites). The nonce is the phase IV XOR the packet number, so
// no nonce is sent and none repeats; the packet's clear header is the
// associated data. A receiver keeps a replay window of [ReplayWindow]
// packet numbers, since packets of one connection may arrive over several
// paths far out of order.
//
// Keys are updated without a pause: a sender moves to the next phase after
// 2^23 packets (AES-GCM's limit in RFC 9001 section 6.6) or RekeyAfterTime,
// and the header carries the phase. The next phase's secret is a one-way
// function of the current one. The receiver follows when a packet of the
// next phase authenticates, and keeps opening packets of the previous phase
// for KeyGrace.
//
// # Engine duties
//
// The engine must: send a fresh Initiation on every retry (a response to
// any of the last four completes the handshake, so a slow response is not
// wasted by the retry that crossed it); treat a
// responder's session as tentative until Session.Recv.Confirmed (never let
// it replace a confirmed connection before then); pass the packet's clear
// header as associated data and the phase from Sealer.Phase in it; give
// every packet a new packet number; and close the connection when Open
// returns ErrIntegrityLimit. Errors from this package are reasons to drop a
// message silently and count it, never to answer.
//
// # What is not protected
//
// Connection IDs, packet numbers, key phases, packet sizes and timing are
// visible to observers. The initiation is the one message a compromised
// responder key lets an attacker read (IK's initiator payload is encrypted
// to the responder's static key), which exposes the initiator's identity
// and parameters, not session keys. There is no post-quantum key exchange:
// a future quantum computer could decrypt recorded sessions.
package handshake
