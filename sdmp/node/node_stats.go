package node

import (
	"cmp"
	"slices"
	"time"

	"github.com/pydevts/pydevts/rudp"
)

// What a running node tells about itself: its counters (Stats, for
// metrics) and its sessions (SessionStatus, for `pydevts status`). Both
// are read when asked: the counters behind them are atomics bumped once
// per resource or publish, and the connection counters are the rudp
// connections' own, read through Conn.Stats; nothing here runs per
// packet.

// Stats are a running node's counters and gauges.
type Stats struct {
	PeersConfigured int // peers in the config
	PeersConnected  int // peers with a session up now
	// Sessions counts the sessions up now by transport: "pydevts" and
	// "tcp" (the SDMP TCP binding); both keys are always there.
	Sessions map[string]int
	// JournalLines is the number of entries in the journal (line 0, the
	// node's fingerprint, not counted); ResourcesStored the number of
	// resources in the store.
	JournalLines, ResourcesStored int
	// ResourcesReceived counts resources received from peers and stored,
	// ResourcesRefused those received and refused for good (signature,
	// publisher, update rules), Published those published through the
	// control socket; all since Run started.
	ResourcesReceived, ResourcesRefused, Published uint64
	// Endpoint are the counters of the pydevts listener's endpoint; nil
	// when the node does not listen on pydevts (or has not started to).
	Endpoint *rudp.EndpointStats
	// Conns sums the counters of the pydevts connections that carried a
	// session since Run started, ended ones included.
	Conns ConnTotals
	// Live are the sessions up now, as `pydevts status` shows them.
	Live []SessionStatus
}

// ConnTotals are counters of pydevts connections (rudp.Stats), summed.
type ConnTotals struct {
	PacketsSent, PacketsReceived uint64
	BytesSent, BytesReceived     uint64
	PacketsLost                  uint64
	RetransmittedBytes           uint64
	PacketsDropped               uint64 // reached a connection and refused: authentication, replay
	Recovered                    uint64 // rebuilt from FEC parity
	PathSwitches, PathFailures   uint64
	PathDemotions                uint64
}

// add adds the counters of s.
func (t *ConnTotals) add(s *rudp.Stats) {
	t.PacketsSent += s.PacketsSent
	t.PacketsReceived += s.PacketsReceived
	t.BytesSent += s.BytesSent
	t.BytesReceived += s.BytesReceived
	t.PacketsLost += s.PacketsLost
	t.RetransmittedBytes += s.Retransmitted
	t.PacketsDropped += s.PacketsDropped
	t.Recovered += s.Recovered
	t.PathSwitches += s.PathSwitches
	t.PathFailures += s.PathFailures
	t.PathDemotions += s.PathDemotions
}

// SessionStatus describes one live session, for `pydevts status`.
type SessionStatus struct {
	Peer        string    `json:"peer"`        // the peer's name in the config
	Fingerprint string    `json:"fingerprint"` // the peer node's key fingerprint
	Via         string    `json:"via"`         // "pydevts" or "tcp"
	Dialled     bool      `json:"dialled"`     // this node dialled; else the peer did
	Since       time.Time `json:"since"`       // when the session came up
	Remote      string    `json:"remote,omitempty"`
	// Over pydevts: the connection's smoothed RTT and counters, and each
	// of its paths.
	RTTMillis          float64      `json:"rtt_ms,omitempty"`
	BytesSent          uint64       `json:"bytes_sent,omitempty"`
	BytesReceived      uint64       `json:"bytes_received,omitempty"`
	PacketsLost        uint64       `json:"packets_lost,omitempty"`
	RetransmittedBytes uint64       `json:"retransmitted_bytes,omitempty"`
	Recovered          uint64       `json:"fec_recovered,omitempty"`
	Paths              []PathStatus `json:"paths,omitempty"`

	stats *rudp.Stats // the connection's, for Stats
}

// PathStatus describes one path of a pydevts session.
type PathStatus struct {
	Kind string `json:"kind"` // "udp", "tcp" or "relay"
	Addr string `json:"addr"` // the peer's address; a relay's for a relay
	// State is "active", "up", "down" or "demoted" (rudp.PathStats).
	State           string  `json:"state"`
	Active          bool    `json:"active"`
	RTTMillis       float64 `json:"rtt_ms"`
	PacketsSent     uint64  `json:"packets_sent"`
	PacketsReceived uint64  `json:"packets_received"`
	PacketsLost     uint64  `json:"packets_lost"`
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sessionStatus describes the live sessions, and returns with them the
// counters of the connections of the sessions that ended: read together,
// so that a session ending meanwhile is counted once.
func (n *Node) sessionStatus() (live []SessionStatus, ended ConnTotals) {
	type entry struct {
		s    SessionStatus
		conn *rudp.Conn
	}
	var es []entry
	n.mu.Lock()
	for s := range n.sessions {
		es = append(es, entry{SessionStatus{Peer: s.p.cfg.Name, Fingerprint: s.p.nodeFP, Via: s.via,
			Dialled: s.dialled, Since: s.since, Remote: s.remote}, s.conn})
	}
	ended = n.ended
	n.mu.Unlock()
	// Conn.Stats waits for each connection's loop: outside the lock.
	for _, e := range es {
		if e.conn != nil {
			st := e.conn.Stats()
			e.s.stats = &st
			e.s.RTTMillis = millis(st.SmoothedRTT)
			e.s.BytesSent, e.s.BytesReceived = st.BytesSent, st.BytesReceived
			e.s.PacketsLost, e.s.RetransmittedBytes, e.s.Recovered = st.PacketsLost, st.Retransmitted, st.Recovered
			for _, p := range st.Paths {
				e.s.Paths = append(e.s.Paths, PathStatus{Kind: p.Kind, Addr: p.Addr, State: p.State, Active: p.Active,
					RTTMillis: millis(p.RTT), PacketsSent: p.PacketsSent, PacketsReceived: p.PacketsReceived, PacketsLost: p.Lost})
			}
		}
		live = append(live, e.s)
	}
	slices.SortFunc(live, func(a, b SessionStatus) int {
		return cmp.Or(cmp.Compare(a.Peer, b.Peer), a.Since.Compare(b.Since))
	})
	return live, ended
}

// Stats returns the node's counters. It is cheap enough to call at every
// metrics scrape: it lists the store's directory and asks each live
// pydevts connection for its stats.
func (n *Node) Stats() Stats {
	live, ended := n.sessionStatus()
	s := Stats{
		PeersConfigured:   len(n.peers),
		Sessions:          map[string]int{"pydevts": 0, "tcp": 0},
		JournalLines:      n.st.journal.Len() - 1,
		ResourcesReceived: n.received.Load(),
		ResourcesRefused:  n.refused.Load(),
		Published:         n.published.Load(),
		Conns:             ended,
		Live:              live,
	}
	if ids, err := n.st.store.List(); err == nil {
		s.ResourcesStored = len(ids)
	}
	if e := n.endpoint.Load(); e != nil {
		es := e.Stats()
		s.Endpoint = &es
	}
	peers := map[string]bool{}
	for _, l := range live {
		s.Sessions[l.Via]++
		peers[l.Fingerprint] = true
		if l.stats != nil {
			s.Conns.add(l.stats)
		}
	}
	s.PeersConnected = len(peers)
	return s
}

// endSession takes ss out of the live sessions; rc, its connection over
// pydevts, has closed, and its counters join those of the ended ones in
// the same step.
func (n *Node) endSession(ss *session, rc *rudp.Conn) {
	var st rudp.Stats
	if rc != nil {
		st = rc.Stats()
	}
	n.mu.Lock()
	delete(n.sessions, ss)
	if rc != nil {
		n.ended.add(&st)
	}
	n.mu.Unlock()
}
