package relay

import "time"

// Defaults of Config and ClientConfig. Each timing comes from toxcore,
// whose relays and clients ours must get along with (research/tox.md,
// section 1); a Config field of zero means the default.
const (
	// DefaultPingInterval is how often each side pings the other: toxcore's
	// TCP_PING_FREQUENCY. TCP itself notices a dead peer only after its
	// retransmissions give up, many minutes later.
	DefaultPingInterval = 30 * time.Second
	// DefaultPingTimeout is how long a ping waits for its pong before the
	// connection is closed: toxcore's TCP_PING_TIMEOUT (the old 30 s in
	// docs/TCP_Network.txt is outdated).
	DefaultPingTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds the handshake, until the first
	// encrypted packet confirms it: tox-rs's server timeout, and the
	// client's TCP_CONNECTION_TIMEOUT in toxcore.
	DefaultHandshakeTimeout = 10 * time.Second

	// DefaultMaxConns caps a server's connections. toxcore has no cap
	// (c-toxcore issue 1227: file descriptors run out); 4096 confirmed
	// clients cost about 100 MB at most (two goroutines, an 8 KiB read
	// buffer and the send queue each).
	DefaultMaxConns = 4096
	// DefaultMaxUnconfirmed caps connections still in the handshake:
	// toxcore's MAX_INCOMING_CONNECTIONS. The oldest goes when a new one
	// comes, as in toxcore's ring, so a slow-loris attacker cannot keep
	// honest clients, which finish in one round trip, out.
	DefaultMaxUnconfirmed = 256
	// DefaultQueueBytes bounds the Data and OOB packets queued for one
	// connection. toxcore drops them as soon as the socket has unsent
	// bytes; 64 KiB (about 45 packets of 1400 bytes) on top of the
	// socket's own buffer rides out a scheduling hiccup without letting
	// one slow client hold much memory.
	DefaultQueueBytes = 64 << 10
	// DefaultMaxPriority bounds the priority packets queued for one
	// connection: route responses and notifications (at most a few per
	// link, NumLinks links), pings and pongs. A peer with this many
	// unread is not reading at all.
	DefaultMaxPriority = 4 * NumLinks
	// DefaultRecvQueue bounds the events a Client holds for Recv.
	DefaultRecvQueue = 1024
)

// orDefault returns v, or def when v is zero or negative.
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
