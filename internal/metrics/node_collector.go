package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pydevts/pydevts/sdmp/node"
)

// pathKinds and pathStates are the values of the kind and state labels
// of pydevts_rudp_paths (rudp.PathStats): every pair is exported, zeros
// included, so that a series does not vanish when its last path goes.
var (
	pathKinds  = []string{"udp", "tcp", "relay"}
	pathStates = []string{"active", "up", "down", "demoted"}
)

// nodeCollector exports the counters of an SDMP node, of its pydevts
// endpoint, and of its pydevts connections.
type nodeCollector struct {
	stats func() node.Stats
	set   descSet

	// The node.
	sessions, peersConfigured, peersConnected metric
	journalLines, stored                      metric
	received, refused, published              metric
	// The pydevts listener's endpoint.
	connections, hsAccepted, hsRefused, cookies metric
	dropped                                     metric
	// The pydevts connections that carried a session, summed.
	packetsSent, packetsReceived, bytesSent, bytesReceived metric
	retransmitted, lost, recovered                         metric
	switches, failures, demotions                          metric
	paths                                                  metric

	// mu guards last, the connection totals of the last scrape: a
	// connection's last packets (its close) may be counted while it is
	// live and missed once it has ended, and a counter must never go
	// back, so each total is the largest seen.
	mu   sync.Mutex
	last node.ConnTotals
}

// NewNodeCollector returns a collector of the counters stats returns (a
// node.Node's Stats method), read at each scrape.
func NewNodeCollector(stats func() node.Stats) prometheus.Collector {
	c := &nodeCollector{stats: stats}
	s := &c.set
	c.sessions = s.gauge("pydevts_node_sessions", "SDMP sessions up now, by transport: pydevts, or tcp (the SDMP TCP binding).", "transport")
	c.peersConfigured = s.gauge("pydevts_node_peers_configured", "Peers in the node's config.")
	c.peersConnected = s.gauge("pydevts_node_peers_connected", "Peers with a session up now.")
	c.journalLines = s.gauge("pydevts_node_journal_lines", "Entries in the node's journal.")
	c.stored = s.gauge("pydevts_node_resources_stored", "Resources in the node's store.")
	c.received = s.counter("pydevts_node_resources_received_total", "Resources received from peers, checked, stored and journaled.")
	c.refused = s.counter("pydevts_node_resources_refused_total", "Resources received from peers and refused: bad signature, publisher not accepted, an update of another's resource.")
	c.published = s.counter("pydevts_node_resources_published_total", "Resources published through this node (pydevts publish).")

	c.connections = s.gauge("pydevts_rudp_connections", "Open connections of the node's pydevts endpoint, handshaking ones included.")
	c.hsAccepted = s.counter("pydevts_rudp_handshakes_accepted_total", "Handshake initiations the endpoint answered with a response.")
	c.hsRefused = s.counter("pydevts_rudp_handshakes_refused_total", "Handshake initiations the endpoint refused: bad mac1, authentication, replay, not a configured peer, limits.")
	c.cookies = s.counter("pydevts_rudp_handshake_cookies_sent_total", "Cookie replies the endpoint sent instead of a response, under load.")
	c.dropped = s.counter("pydevts_rudp_dropped_packets_total",
		"Packets dropped, by reason: unknown_conn (for no connection of ours), malformed, queue_full (a connection or the handshake worker fell behind), connection (reached a connection carrying a session and refused there: authentication, replay).",
		"reason")

	const of = " Summed over the pydevts connections that carried a session, ended ones included."
	c.packetsSent = s.counter("pydevts_rudp_sent_packets_total", "Datagrams sent."+of)
	c.packetsReceived = s.counter("pydevts_rudp_received_packets_total", "Datagrams received and authenticated."+of)
	c.bytesSent = s.counter("pydevts_rudp_sent_bytes_total", "Bytes sent on the wire, headers and tags included."+of)
	c.bytesReceived = s.counter("pydevts_rudp_received_bytes_total", "Bytes received on the wire, headers and tags included."+of)
	c.retransmitted = s.counter("pydevts_rudp_retransmitted_bytes_total", "Bytes of stream and message data sent again."+of)
	c.lost = s.counter("pydevts_rudp_lost_packets_total", "Packets loss detection declared lost."+of)
	c.recovered = s.counter("pydevts_rudp_fec_recovered_packets_total", "Packets rebuilt from FEC parity, losses that cost no retransmission."+of)
	c.switches = s.counter("pydevts_rudp_path_switches_total", "Moves of a connection from one path to another."+of)
	c.failures = s.counter("pydevts_rudp_path_failures_total", "Times a connection's active path stopped answering."+of)
	c.demotions = s.counter("pydevts_rudp_path_demotions_total", "Times a path was taken out of use for tampering or heavy loss."+of)
	c.paths = s.gauge("pydevts_rudp_paths",
		"Paths of the live pydevts sessions' connections, by kind (udp, tcp, relay) and state (active, up, down, demoted).",
		"kind", "state")
	return c
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) { c.set.describe(ch) }

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, tr := range []string{"pydevts", "tcp"} {
		c.sessions.emit(ch, float64(s.Sessions[tr]), tr)
	}
	c.peersConfigured.emit(ch, float64(s.PeersConfigured))
	c.peersConnected.emit(ch, float64(s.PeersConnected))
	c.journalLines.emit(ch, float64(s.JournalLines))
	c.stored.emit(ch, float64(s.ResourcesStored))
	c.received.emitU(ch, s.ResourcesReceived)
	c.refused.emitU(ch, s.ResourcesRefused)
	c.published.emitU(ch, s.Published)

	t := c.monotonic(s.Conns)
	if e := s.Endpoint; e != nil {
		c.connections.emit(ch, float64(e.Connections))
		c.hsAccepted.emitU(ch, e.HandshakesAccepted)
		c.hsRefused.emitU(ch, e.HandshakesDropped)
		c.cookies.emitU(ch, e.CookiesSent)
		c.dropped.emitU(ch, e.DroppedUnknownConn, "unknown_conn")
		c.dropped.emitU(ch, e.DroppedMalformed, "malformed")
		c.dropped.emitU(ch, e.DroppedQueueFull, "queue_full")
	}
	c.dropped.emitU(ch, t.PacketsDropped, "connection")
	c.packetsSent.emitU(ch, t.PacketsSent)
	c.packetsReceived.emitU(ch, t.PacketsReceived)
	c.bytesSent.emitU(ch, t.BytesSent)
	c.bytesReceived.emitU(ch, t.BytesReceived)
	c.retransmitted.emitU(ch, t.RetransmittedBytes)
	c.lost.emitU(ch, t.PacketsLost)
	c.recovered.emitU(ch, t.Recovered)
	c.switches.emitU(ch, t.PathSwitches)
	c.failures.emitU(ch, t.PathFailures)
	c.demotions.emitU(ch, t.PathDemotions)

	type key struct{ kind, state string }
	paths := map[key]int{}
	for _, l := range s.Live {
		for _, p := range l.Paths {
			paths[key{p.Kind, p.State}]++
		}
	}
	for _, k := range pathKinds {
		for _, st := range pathStates {
			c.paths.emit(ch, float64(paths[key{k, st}]), k, st)
		}
	}
}

// monotonic returns t with each counter no lower than at the last scrape.
func (c *nodeCollector) monotonic(t node.ConnTotals) node.ConnTotals {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &c.last
	for _, f := range []struct{ now, last *uint64 }{
		{&t.PacketsSent, &l.PacketsSent}, {&t.PacketsReceived, &l.PacketsReceived},
		{&t.BytesSent, &l.BytesSent}, {&t.BytesReceived, &l.BytesReceived},
		{&t.PacketsLost, &l.PacketsLost}, {&t.RetransmittedBytes, &l.RetransmittedBytes},
		{&t.PacketsDropped, &l.PacketsDropped}, {&t.Recovered, &l.Recovered},
		{&t.PathSwitches, &l.PathSwitches}, {&t.PathFailures, &l.PathFailures},
		{&t.PathDemotions, &l.PathDemotions},
	} {
		*f.now = max(*f.now, *f.last)
		*f.last = *f.now
	}
	return t
}
