package rudp

import "time"

// Timing constants of the engine. They are variables only so that tests
// can shrink them; nothing else changes them.
var (
	// maxAckDelay is how long a receiver may hold an acknowledgment,
	// QUIC's default (RFC 9000 section 18.2): long enough for a second
	// packet to share it, short against any RTT worth pacing for.
	maxAckDelay = 25 * time.Millisecond

	// Ack frequency. A receiver acknowledges every ackEveryStart
	// ack-eliciting packets while the first ackStartPackets arrive (slow
	// start grows by what is acknowledged, and RTT samples come fast),
	// then every ackEvery: on a bulk flow that is one ACK packet per ten
	// data packets, a tenth of the receive-side sends and sender-side
	// opens an ACK per two costs. Out-of-order arrivals are acknowledged
	// at once whatever the count, so loss detection is not delayed, and
	// an ACK is never held longer than a quarter of the RTT (at most
	// maxAckDelay), so a small window does not wait on the timer long.
	ackEveryStart          = 2
	ackEvery               = 10
	ackStartPackets uint64 = 100

	// handshakeRetry is the first wait before an initiation is sent
	// again; it doubles up to handshakeRetryMax. One second is QUIC's
	// initial PTO for a path with no RTT estimate (RFC 9002: 2 x 333 ms,
	// rounded up). The cap of 2 s gives six tries in the default 10 s
	// handshake timeout: at 30 % loss each way a try succeeds about half
	// the time, so six fail together 1.8 % of the time, where four (a
	// 5 s cap) fail 6.8 %. A slow path loses nothing by the faster
	// retries, since a response to any of the last four initiations is
	// accepted (handshake.Initiator), and a responder under a flood
	// answers with cookies, which cost it nothing.
	handshakeRetry    = time.Second
	handshakeRetryMax = 2 * time.Second

	// closeLinger is how long a closed connection keeps answering the
	// peer's packets with its CLOSE, in case the first CLOSE was lost, in
	// units of the PTO (RFC 9000 section 10.2 says three).
	closeLinger = 3

	// pendingTimeout is how long a responder keeps a connection that
	// answered an initiation but has not heard from the initiator since:
	// the handshake timeout of an honest initiator, after which it has
	// given up too.
	pendingTimeout = 10 * time.Second

	// parkAfter: a loop with nothing due for this long parks (its
	// goroutine ends until the timer or new work). Keepalives and idle
	// timeouts are seconds away, everything of an active connection
	// (acks, pacing, loss timers) well under this, so only an idle
	// connection parks, and not one between two requests a few RTTs
	// apart.
	parkAfter = time.Second
	// parkRace, set by a test, runs where a wakeLoop and a park can
	// cross (between their two steps), to hold that window open.
	parkRace func(where string)
)

// Limits of an endpoint.
const (
	// inboundQueue is how many packets wait for a connection's loop before
	// more are dropped, like a socket buffer: about 1.4 MB of 1200-byte
	// packets, more than a loop falls behind in one scheduling slice.
	inboundQueue = 1024
	// handshakeQueue is how many initiations wait for the handshake
	// worker; beyond it they are dropped, which the cookie mechanism
	// makes harmless (an honest initiator retries).
	handshakeQueue = 256
	// maxPending bounds connections that answered an initiation and wait
	// for the initiator's first packet, so a replay of many initiations
	// cannot pile them up.
	maxPending = 1024
	// batchSize is how many datagrams one read or write syscall moves.
	// quic-go and wireguard-go use 64 and 128; on loopback the receiver
	// rarely finds more than 10 waiting (limits.md).
	batchSize = 64
)
