package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pydevts/pydevts/rudp/relay"
)

// relayCollector exports the counters of a relay server.
type relayCollector struct {
	stats func() relay.Stats
	set   descSet

	accepted, refused, confirmed, active, unconfirmed metric
	framesIn, framesOut, bytesIn, bytesOut            metric
	forwarded, oob, pongs                             metric
	drops, kills                                      metric
}

// NewRelayCollector returns a collector of the counters stats returns
// (a relay.Server's Stats method), read at each scrape.
func NewRelayCollector(stats func() relay.Stats) prometheus.Collector {
	c := &relayCollector{stats: stats}
	s := &c.set
	c.accepted = s.counter("pydevts_relay_connections_accepted_total", "TCP connections the relay accepted, those refused over --max-conns included.")
	c.refused = s.counter("pydevts_relay_connections_refused_total", "TCP connections closed at once because --max-conns were open.")
	c.confirmed = s.counter("pydevts_relay_handshakes_confirmed_total", "Relay handshakes confirmed by a valid first packet.")
	c.active = s.gauge("pydevts_relay_connections_active", "Confirmed relay connections open now.")
	c.unconfirmed = s.gauge("pydevts_relay_connections_handshaking", "Relay connections in the handshake now.")
	c.framesIn = s.counter("pydevts_relay_frames_received_total", "Encrypted frames the relay read, all connections.")
	c.framesOut = s.counter("pydevts_relay_frames_sent_total", "Encrypted frames the relay wrote, all connections.")
	c.bytesIn = s.counter("pydevts_relay_received_bytes_total", "Bytes the relay read, length fields included.")
	c.bytesOut = s.counter("pydevts_relay_sent_bytes_total", "Bytes the relay wrote, length fields included.")
	c.forwarded = s.counter("pydevts_relay_forwarded_data_packets_total", "Data packets the relay forwarded to their peer.")
	c.oob = s.counter("pydevts_relay_forwarded_oob_packets_total", "OOB packets the relay forwarded to their peer.")
	c.pongs = s.counter("pydevts_relay_pings_answered_total", "Client pings the relay answered.")
	c.drops = s.counter("pydevts_relay_dropped_packets_total",
		"Packets the relay dropped without closing the connection, by reason: queue_full (a slow reader), not_online (the peer has not routed back), no_link, no_peer, onion (no onion or DHT here), ignored.",
		"reason")
	c.kills = s.counter("pydevts_relay_closed_connections_total",
		"Connections the relay closed, by reason: handshake, handshake_timeout, evicted, frame, protocol, ping_timeout, overflow, replaced, closed (by the client), shutdown.",
		"reason")
	return c
}

func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) { c.set.describe(ch) }

func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	c.accepted.emitU(ch, s.Accepted)
	c.refused.emitU(ch, s.Refused)
	c.confirmed.emitU(ch, s.Confirmed)
	c.active.emit(ch, float64(s.Active))
	c.unconfirmed.emit(ch, float64(s.Unconfirmed))
	c.framesIn.emitU(ch, s.FramesIn)
	c.framesOut.emitU(ch, s.FramesOut)
	c.bytesIn.emitU(ch, s.BytesIn)
	c.bytesOut.emitU(ch, s.BytesOut)
	c.forwarded.emitU(ch, s.Forwarded)
	c.oob.emitU(ch, s.OOB)
	c.pongs.emitU(ch, s.Pongs)
	d := s.Drops
	for _, r := range []struct {
		reason string
		n      uint64
	}{
		{"queue_full", d.QueueFull}, {"not_online", d.NotOnline}, {"no_link", d.NoLink},
		{"no_peer", d.NoPeer}, {"onion", d.Onion}, {"ignored", d.Ignored},
	} {
		c.drops.emitU(ch, r.n, r.reason)
	}
	k := s.Kills
	for _, r := range []struct {
		reason string
		n      uint64
	}{
		{"handshake", k.Handshake}, {"handshake_timeout", k.HandshakeTimeout}, {"evicted", k.Evicted},
		{"frame", k.Frame}, {"protocol", k.Protocol}, {"ping_timeout", k.PingTimeout},
		{"overflow", k.Overflow}, {"replaced", k.Replaced}, {"closed", k.Closed}, {"shutdown", k.Shutdown},
	} {
		c.kills.emitU(ch, r.n, r.reason)
	}
}
