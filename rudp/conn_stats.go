package rudp

import (
	"time"

	"github.com/pydevts/pydevts/rudp/relay"
)

// connCounters are a connection's counters, owned by its loop.
type connCounters struct {
	packetsSent, packetsReceived uint64
	bytesSent, bytesReceived     uint64
	dropped                      uint64
	ptos                         uint64
	requests, requestsSent       uint64
	persistentCongestion         uint64
	pmtuProbes, pmtuFallbacks    uint64
	pathSwitches, pathFailures   uint64
	pathDemotions                uint64
}

// Stats describe a connection at one moment.
type Stats struct {
	PacketsSent     uint64 // datagrams sent, handshake included
	PacketsReceived uint64 // datagrams received and authenticated
	BytesSent       uint64 // bytes on the wire, headers and tags included
	BytesReceived   uint64
	// PacketsLost is how many packets loss detection declared lost (their
	// frames were resent if they still mattered).
	PacketsLost uint64
	// Retransmitted is how many bytes of stream and message data were
	// sent again.
	Retransmitted uint64
	// PacketsDropped counts packets that reached the connection but were
	// refused: failed authentication, replays, unknown key phase, late
	// handshake messages.
	PacketsDropped uint64
	// ProbeTimeouts counts probe timeouts (tail losses, outages).
	ProbeTimeouts uint64
	// RequestsReceived and RequestsSent count REQUEST frames, the explicit
	// missing-packet requests.
	RequestsReceived, RequestsSent uint64

	// MaxDatagram is the size of the packets the connection sends now:
	// 1200 bytes at first, raised by path MTU discovery. PMTUProbes
	// counts the probes sent, PMTUFallbacks the returns to 1200 bytes
	// after repeated timeouts with larger packets.
	MaxDatagram               int
	PMTUProbes, PMTUFallbacks uint64

	// Recovered counts the packets rebuilt from FEC parity here, each a
	// loss that cost no retransmission and no round trip. ParitySent
	// counts the parity packets this side sent, and LossEstimate is the
	// smoothed loss rate (0 to 1, rebuilt packets included) that sets how
	// much parity it sends: none below about 0.1 %, and none while a bulk
	// transfer fills the path (see Config.DisableFEC).
	Recovered, ParitySent uint64
	LossEstimate          float64

	// PersistentCongestion counts the times every packet sent over three
	// probe timeouts was lost, and the controller started over.
	PersistentCongestion uint64

	SmoothedRTT, MinRTT, RTTVar, LatestRTT time.Duration
	CongestionWindow                       int // bytes
	BytesInFlight                          int
	// PacingRate is the rate the controller releases packets at, in
	// bytes per second, and CongestionState its state: "startup",
	// "drain", "probe_bw" or "probe_rtt" for BBR; "slow_start",
	// "congestion_avoidance" or "recovery" for CUBIC.
	PacingRate      float64
	CongestionState string
	Path            string // "udp 192.0.2.1:4000"; "relay 192.0.2.1:33445 [fd…]:port": relay, peer's synthetic address
	Suite           string // the AEAD protecting the packets

	// Paths are every way to the peer the connection knows, the active
	// one (Path) among them. PathFailures counts the times the active
	// path stopped answering, PathSwitches the moves from one path to
	// another, PathDemotions the times a path was taken out of use for
	// tampering or heavy loss (see PathStats.Demotions).
	Paths                                     []PathStats
	PathSwitches, PathFailures, PathDemotions uint64
}

// Stats returns the connection's statistics; after it ended, the last ones.
func (c *Conn) Stats() Stats {
	var s Stats
	if !c.onLoop(func() { s = c.snapshot() }) {
		s = c.final
	}
	return s
}

// snapshot reads the loop's state into a Stats; it runs on the loop.
func (c *Conn) snapshot() Stats {
	s := Stats{
		PacketsSent:          c.stats.packetsSent,
		PacketsReceived:      c.stats.packetsReceived,
		BytesSent:            c.stats.bytesSent,
		BytesReceived:        c.stats.bytesReceived,
		PacketsLost:          c.sender.Lost(),
		PacketsDropped:       c.stats.dropped,
		ProbeTimeouts:        c.stats.ptos,
		PersistentCongestion: c.stats.persistentCongestion,
		MaxDatagram:          c.maxSend,
		PMTUProbes:           c.stats.pmtuProbes,
		PMTUFallbacks:        c.stats.pmtuFallbacks,
		RequestsReceived:     c.stats.requests,
		RequestsSent:         c.stats.requestsSent,
		SmoothedRTT:          c.sender.RTT.Smoothed,
		MinRTT:               c.sender.RTT.Min,
		RTTVar:               c.sender.RTT.Var,
		LatestRTT:            c.sender.RTT.Latest,
		BytesInFlight:        c.sender.BytesInFlight(),
		Path:                 c.pathName(c.active),
	}
	c.pathStats(&s)
	if c.streams != nil { // established
		ctl := c.controller()
		s.CongestionWindow = ctl.Window()
		s.PacingRate = ctl.PacingRate()
		s.CongestionState = ctl.State()
		s.Suite = c.suite.String()
		s.Retransmitted = c.streams.Retransmitted() + c.msgs.Retransmitted()
	}
	c.fecStats(&s)
	return s
}

// pathName names p for logs and Stats: its kind, the relay's address for
// a relay, and the peer's address.
func (c *Conn) pathName(p *path) string {
	if a, ok := p.link.c.LocalAddr().(*relay.Addr); ok {
		return "relay " + a.Relay + " " + p.addr.String()
	}
	return p.link.kind.String() + " " + p.addr.String()
}

// PathStats describe one path of a connection.
type PathStats struct {
	Kind string // "udp", "tcp" or "relay"
	// Addr is where the path leads: the peer's address for a direct path,
	// the relay's for a relay.
	Addr   string
	Name   string // as Stats.Path
	Active bool   // it carries the traffic
	// State is "active", "up" (answered since it last failed, or never
	// failed), "down", "demoted" (it failed authentication or lost too
	// much; see Demotions), or "unverified" (the peer's packets came from
	// this address, which has not answered a probe yet: it carries
	// nothing else until it does).
	State                          string
	RTT                            time.Duration // smoothed, from the acknowledgments of its packets
	LastHeard                      time.Time     // the last packet that came by it
	PacketsSent, PacketsReceived   uint64
	BytesSent, BytesReceived, Lost uint64
	// AuthFailures counts the packets that came by it and failed
	// authentication; Demotions the times it was taken out of use.
	AuthFailures uint64
	Demotions    int
}

// pathStats fills in the paths of s.
func (c *Conn) pathStats(s *Stats) {
	s.PathSwitches, s.PathFailures, s.PathDemotions = c.stats.pathSwitches, c.stats.pathFailures, c.stats.pathDemotions
	for _, p := range c.paths {
		ps := PathStats{
			Kind: p.link.kind.String(), Addr: p.addr.String(), Name: c.pathName(p), Active: p == c.active, State: "down",
			RTT: p.rtt, LastHeard: p.heard, PacketsSent: p.packetsSent, PacketsReceived: p.packetsReceived,
			BytesSent: p.bytesSent, BytesReceived: p.bytesReceived, Lost: p.lost,
			AuthFailures: p.authFailures, Demotions: p.demotions,
		}
		switch {
		case p == c.active:
			ps.State = "active"
		case !p.valid:
			ps.State = "unverified"
		case p.demoted(c.now):
			ps.State = "demoted"
		case p.up() && !linkDown(p.link):
			ps.State = "up"
		}
		if a, ok := p.link.c.LocalAddr().(*relay.Addr); ok {
			ps.Addr = a.Relay
		}
		s.Paths = append(s.Paths, ps)
	}
}
