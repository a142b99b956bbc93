package rudp

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/rudp/internal/cc"
	"github.com/pydevts/pydevts/stream"
)

// Config configures an Endpoint and its connections. The zero value (or a
// nil *Config) is a good default; every field documents its zero value.
type Config struct {
	// Identity is this node's identity. Nil: a fresh one, made when the
	// Endpoint starts (so the node is anonymous across restarts).
	Identity *handshake.Identity

	// TCP, NoUDP and Relays choose the paths of Listen and Dial (the
	// Endpoint of NewEndpoint has its one socket). TCP adds direct TCP
	// on the same address and port as UDP; NoUDP leaves UDP out, for
	// networks that block it; Relays (up to 3) are Tox TCP relays to go
	// through as well.
	TCP    bool
	NoUDP  bool
	Relays []Relay

	// Allow lists the fingerprints of the only peers that may connect;
	// empty: anyone who knows our public identity. Accept, when set, is
	// asked about each peer as well and refuses it with an error.
	Allow  []string
	Accept func(peer handshake.Card) error

	// HandshakeTimeout bounds Dial: how long it keeps sending initiations
	// without an answer. Zero: 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that has received nothing for this
	// long: the way a vanished peer is detected. Both sides send
	// keepalives well within it. Zero: 15 s.
	IdleTimeout time.Duration
	// KeepAlive is how long a connection stays silent before it sends a
	// keepalive. Zero: IdleTimeout/3, so two can be lost before the
	// peer's idle timeout. The dialing side sends them; the accepting
	// side, whose acknowledgments already answer them, sends its own only
	// after half of the remaining time to the idle timeout more (10 s by
	// default), when the dialer's keepalives stop arriving.
	KeepAlive time.Duration

	// MaxDatagram is the largest packet (UDP payload) sent or received.
	// Zero: what a 1500-byte Ethernet MTU carries, 1472 bytes to an IPv4
	// peer and 1452 to an IPv6 one (their IP headers are 20 and 40 bytes,
	// UDP's 8).
	// Connections start at 1200 bytes (or MaxDatagram if smaller), which
	// every IPv6 path carries (RFC 8200 requires 1280) and every IPv4
	// path in practice, and probe up to the smaller of both sides'
	// MaxDatagram with don't-fragment packets (path MTU discovery), so a
	// path that carries less keeps a smaller size. 1200 turns probing off.
	MaxDatagram int

	// CongestionControl names the congestion controller: "bbr" (the
	// default, also ""), a model-based controller that paces at the
	// measured bottleneck rate and does not take random loss for
	// congestion, or "cubic" (RFC 9438), which does, as TCP's default
	// does. Both pace their packets.
	CongestionControl string

	// DisableFEC turns forward error correction off both ways: this node
	// sends no parity and tells the peer it decodes none. By default a
	// connection adds Reed-Solomon parity to its packets when it has
	// measured loss and is not sending as fast as the path allows (sparse
	// or interactive traffic, where a retransmission would cost a round
	// trip of latency); a bulk transfer that fills the path sends none,
	// since retransmitting what was lost is cheaper than parity on
	// everything. The ratio follows the loss measured, up to 10 parity
	// packets per 10 data packets.
	DisableFEC bool

	// The limits below bound what one connection's peer, honest or not,
	// can make us hold; the README's "Limits" table lists them with
	// what happens at each and the memory measured. A peer that goes past
	// a limit it was told of is closed with CodeProtocolViolation and a
	// reason naming the limit. None may be negative or exceed 1 GiB.

	// StreamWindow is how many bytes of one stream the peer may send
	// beyond what the application has read. Zero: 4 MiB
	// (stream.DefaultStreamWindow), 100 Mbit/s at 300 ms RTT.
	StreamWindow int
	// ConnWindow is the same for all the streams of a connection
	// together: the most unread stream data a peer can make us hold.
	// Zero: 16 MiB (stream.DefaultConnWindow).
	ConnWindow int
	// SendBuffer is how many bytes a stream holds for sending, unsent or
	// unacknowledged, before Write blocks: however large the window a
	// peer advertises, a peer that acknowledges nothing makes us hold no
	// more. Zero: 4 MiB (stream.DefaultSendBuffer).
	SendBuffer int
	// MaxIncomingStreams is how many streams the peer may have open at
	// once, including finished ones the application has not accepted
	// yet. Zero: 256 (stream.DefaultMaxIncoming).
	MaxIncomingStreams int
	// MessageWindow is how many bytes of messages the peer may have at
	// our side, complete or not, each message counting
	// message.Overhead (256) bytes besides its own; it bounds the number
	// of messages held too. Zero: 8 MiB (message.DefaultWindow); at least
	// message.MaxSize + message.Overhead.
	MessageWindow int

	// MaxConnections caps the endpoint's connections: handshaking and
	// established, dialed and accepted. At the cap, initiations are
	// dropped before any work or state (the initiator's Dial times out,
	// as against a full TCP backlog) and Dial fails with
	// ErrMaxConnections. Zero: 10,000. An idle connection costs about
	// 10 KiB (TestMaxConnections), so that many cost about 100 MB; an
	// active one holds up to its windows and send buffers besides. Larger
	// servers raise it knowingly; at most 1<<20.
	MaxConnections int

	// MessageTTL, if set, is the lifetime of a message whose SendMessage
	// context has no earlier deadline; when it passes unacknowledged, the
	// message is abandoned.
	MessageTTL time.Duration

	// AcceptQueue is how many established connections may wait for
	// Accept; more are refused (CodeAcceptQueueFull). Zero: 1024, a
	// listen backlog of the order Linux allows TCP (somaxconn is 4096):
	// a burst of connections arrives faster than an accept loop runs.
	AcceptQueue int

	// Logger receives connection events (not one line per packet); nil is
	// silent.
	Logger *slog.Logger
}

const maxWindow = 1 << 30

// Bounds of Config.MaxConnections. The default keeps the memory of idle
// connections near 100 MB (about 10 KiB each, TestMaxConnections), what a
// small server can spare; the ceiling is what connection IDs, the
// endpoint's map and one socket sensibly serve.
const (
	defaultMaxConnections = 10000
	maxConnections        = 1 << 20
)

// config is a Config with defaults applied and checked.
type config struct {
	Config
	streams   stream.Config
	messages  message.Config
	parkAfter time.Duration // parkAfter when the endpoint was made: tests change it
	parkRace  func(string)  // likewise parkRace
	// maxDatagramDefault: MaxDatagram was left zero, so an IPv6 peer gets
	// maxDatagramIPv6.
	maxDatagramDefault bool
}

// The largest UDP payloads of a 1500-byte link.
const (
	maxDatagramIPv4 = 1500 - 20 - 8
	maxDatagramIPv6 = 1500 - 40 - 8
)

// maxDatagramTo is the largest datagram to send to remote.
func (c *config) maxDatagramTo(remote netip.AddrPort) int {
	if c.maxDatagramDefault && !remote.Addr().Unmap().Is4() {
		return maxDatagramIPv6
	}
	return c.MaxDatagram
}

func (c *Config) resolve() (*config, error) {
	var cfg config
	if c != nil {
		cfg.Config = *c
	}
	if cfg.Identity == nil {
		id, err := handshake.NewIdentity()
		if err != nil {
			return nil, err
		}
		cfg.Identity = id
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Second
	}
	if cfg.KeepAlive <= 0 || cfg.KeepAlive > cfg.IdleTimeout {
		cfg.KeepAlive = cfg.IdleTimeout / 3
	}
	if _, err := cc.NewAlgorithm(cfg.CongestionControl, minDatagram, 0); err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	if cfg.MaxDatagram == 0 {
		cfg.MaxDatagram = maxDatagramIPv4
		cfg.maxDatagramDefault = true
	}
	if cfg.MaxDatagram < minDatagram || cfg.MaxDatagram > 65507 {
		return nil, fmt.Errorf("rudp: MaxDatagram %d out of range [%d, 65507]", cfg.MaxDatagram, minDatagram)
	}
	if cfg.AcceptQueue <= 0 {
		cfg.AcceptQueue = 1024
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"StreamWindow", cfg.StreamWindow}, {"ConnWindow", cfg.ConnWindow}, {"SendBuffer", cfg.SendBuffer},
		{"MaxIncomingStreams", cfg.MaxIncomingStreams}, {"MessageWindow", cfg.MessageWindow}} {
		if f.v < 0 || f.v > maxWindow {
			return nil, fmt.Errorf("rudp: %s %d out of range [0, %d]", f.name, f.v, maxWindow)
		}
	}
	if cfg.MaxConnections < 0 || cfg.MaxConnections > maxConnections {
		return nil, fmt.Errorf("rudp: MaxConnections %d out of range [0, %d]", cfg.MaxConnections, maxConnections)
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = defaultMaxConnections
	}
	cfg.streams = stream.Config{StreamWindow: cfg.StreamWindow, ConnWindow: cfg.ConnWindow,
		SendBuffer: cfg.SendBuffer, MaxIncoming: cfg.MaxIncomingStreams}
	cfg.messages = message.Config{Window: cfg.MessageWindow}
	cfg.parkAfter = parkAfter
	cfg.parkRace = parkRace
	return &cfg, nil
}

// minDatagram is the smallest packet size that still carries a CLOSE with
// its reason, an ACK and some data after the 34 bytes of header and tag.
const minDatagram = 512

func (c *config) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
