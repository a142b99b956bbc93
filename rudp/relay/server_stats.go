package relay

import "sync/atomic"

// Why a server drops a packet without closing the connection it came on.
type dropReason uint8

const (
	dropQueueFull dropReason = iota // the destination's queue is full
	dropNotOnline                   // Data on a link whose peer has not routed back
	dropNoLink                      // Data or DisconnectNotification on a connection id not in use
	dropNoPeer                      // OOB to a key that is not connected
	dropOnion                       // onion or forward request: this relay has no onion or DHT instance
	dropIgnored                     // a packet with nothing to do: a client's connect notification, a pong that matches no ping
	numDropReasons
)

// Why a server closes a connection.
type killReason uint8

const (
	killHandshake        killReason = iota // a handshake that does not decrypt, or a connection that ends during it
	killHandshakeTimeout                   // no confirmed handshake within HandshakeTimeout
	killEvicted                            // the oldest handshake, when MaxUnconfirmed newer ones came
	killFrame                              // a frame too long or too short, or one that does not decrypt
	killProtocol                           // a packet that breaks a size rule, or one only a server may send
	killPingTimeout                        // no pong within PingTimeout
	killOverflow                           // MaxPriority priority packets unread
	killReplaced                           // a new connection confirmed with the same key
	killClosed                             // the client closed, or the connection failed
	killShutdown                           // Server.Close
	numKillReasons
)

// Stats are a server's counters, from NewServer on.
type Stats struct {
	Accepted    uint64 `json:"accepted"`    // TCP connections accepted (Refused ones included)
	Refused     uint64 `json:"refused"`     // closed at once because MaxConns were open
	Confirmed   uint64 `json:"confirmed"`   // handshakes confirmed by a valid first packet
	Active      int    `json:"active"`      // confirmed connections now
	Unconfirmed int    `json:"unconfirmed"` // connections in the handshake now

	FramesIn  uint64 `json:"frames_in"`  // encrypted frames read, every connection
	FramesOut uint64 `json:"frames_out"` // encrypted frames written
	BytesIn   uint64 `json:"bytes_in"`   // bytes read, length fields included
	BytesOut  uint64 `json:"bytes_out"`  // bytes written, length fields included

	Forwarded uint64 `json:"forwarded"` // Data packets relayed to the peer
	OOB       uint64 `json:"oob"`       // OOB packets relayed to the peer
	Pongs     uint64 `json:"pongs"`     // client pings answered

	Drops Drops `json:"drops"` // packets dropped, by reason
	Kills Kills `json:"kills"` // connections closed, by reason
}

// Drops counts the packets a server dropped without closing the
// connection, by reason.
type Drops struct {
	QueueFull uint64 `json:"queue_full"` // the destination's send queue was full (a slow reader)
	NotOnline uint64 `json:"not_online"` // Data on a link whose peer has not routed back yet
	NoLink    uint64 `json:"no_link"`    // Data or DisconnectNotification on a connection id not in use
	NoPeer    uint64 `json:"no_peer"`    // OOB to a key that is not connected
	Onion     uint64 `json:"onion"`      // onion and forward requests: no onion or DHT instance here
	Ignored   uint64 `json:"ignored"`    // a client's connect notification, an unmatched pong
}

// Kills counts the connections a server closed, by reason.
type Kills struct {
	Handshake        uint64 `json:"handshake"`         // the client hello did not decrypt, or the connection ended in the handshake
	HandshakeTimeout uint64 `json:"handshake_timeout"` // not confirmed within HandshakeTimeout
	Evicted          uint64 `json:"evicted"`           // oldest handshake, pushed out by MaxUnconfirmed newer ones
	Frame            uint64 `json:"frame"`             // bad frame length, or a frame that did not decrypt
	Protocol         uint64 `json:"protocol"`          // a packet that breaks the protocol's rules
	PingTimeout      uint64 `json:"ping_timeout"`      // no pong within PingTimeout
	Overflow         uint64 `json:"overflow"`          // MaxPriority priority packets left unread
	Replaced         uint64 `json:"replaced"`          // a newer connection confirmed the same key
	Closed           uint64 `json:"closed"`            // closed by the client, or the connection failed
	Shutdown         uint64 `json:"shutdown"`          // Server.Close
}

// serverCounters are the atomic counters behind Stats.
type serverCounters struct {
	counters
	accepted, refused, confirmed atomic.Uint64
	forwarded, oob, pongs        atomic.Uint64
	drops                        [numDropReasons]atomic.Uint64
	kills                        [numKillReasons]atomic.Uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	c := &s.cnt
	s.mu.RLock()
	active, unconfirmed := len(s.clients), s.pending.Len()
	s.mu.RUnlock()
	d, k := &c.drops, &c.kills
	return Stats{
		Accepted: c.accepted.Load(), Refused: c.refused.Load(), Confirmed: c.confirmed.Load(),
		Active: active, Unconfirmed: unconfirmed,
		FramesIn: c.framesIn.Load(), FramesOut: c.framesOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		Forwarded: c.forwarded.Load(), OOB: c.oob.Load(), Pongs: c.pongs.Load(),
		Drops: Drops{
			QueueFull: d[dropQueueFull].Load(), NotOnline: d[dropNotOnline].Load(),
			NoLink: d[dropNoLink].Load(), NoPeer: d[dropNoPeer].Load(),
			Onion: d[dropOnion].Load(), Ignored: d[dropIgnored].Load(),
		},
		Kills: Kills{
			Handshake: k[killHandshake].Load(), HandshakeTimeout: k[killHandshakeTimeout].Load(),
			Evicted: k[killEvicted].Load(), Frame: k[killFrame].Load(), Protocol: k[killProtocol].Load(),
			PingTimeout: k[killPingTimeout].Load(), Overflow: k[killOverflow].Load(),
			Replaced: k[killReplaced].Load(), Closed: k[killClosed].Load(), Shutdown: k[killShutdown].Load(),
		},
	}
}

func (s *Server) drop(r dropReason) { s.cnt.drops[r].Add(1) }
