package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pydevts/pydevts/sdmp"
)

// control answers a control request of the CLI.
func (n *Node) control(_ context.Context, r controlRequest) controlResponse {
	switch r.Op {
	case "publish":
		res, err := resourceFromYAML(r.Data, n.st.userFP, time.Now().UTC())
		if err != nil {
			return controlResponse{Error: err.Error()}
		}
		id, err := n.st.publish(n.st.user, res)
		if err != nil {
			return controlResponse{Error: err.Error()}
		}
		n.published.Add(1)
		n.log.Info("node: published", "id", id)
		n.announceAll()
		return controlResponse{ID: id}
	case "get":
		raw, err := n.st.store.Get(r.ID)
		if err != nil {
			return controlResponse{Error: err.Error()}
		}
		return controlResponse{Data: raw}
	case "journal":
		return controlResponse{Lines: n.st.journal.Lines()}
	case "peers":
		return controlResponse{Peers: n.peerStatus()}
	case "status":
		live, _ := n.sessionStatus()
		return controlResponse{Sessions: live}
	}
	return controlResponse{Error: fmt.Sprintf("unknown request %q", r.Op)}
}

// peerStatus describes each configured peer.
func (n *Node) peerStatus() []PeerStatus {
	var out []PeerStatus
	for _, p := range n.peers {
		known, _, sent := n.st.journal.PeerState(p.nodeFP)
		ps := PeerStatus{Name: p.cfg.Name, Fingerprint: p.nodeFP, LastKnown: known, LastSent: sent}
		n.mu.Lock()
		for s := range n.sessions {
			if s.p == p {
				ps.Connected, ps.Via = true, s.via
				if s.conn != nil {
					st := s.conn.Stats()
					ps.Path, ps.RTTMillis = st.Path, float64(st.SmoothedRTT.Microseconds())/1000
				}
			}
		}
		ps.LastError = p.lastErr
		n.mu.Unlock()
		out = append(out, ps)
	}
	return out
}

// resourceFromYAML makes the resource `pydevts publish FILE` publishes:
// FILE is a YAML mapping, whose keys other than sdmp are the resource's
// content and whose sdmp mapping, if any, may give what a resource may
// (updates, document, user, node, relationship, encrypted). The node
// fills in sdmp.version, sdmp.publisher and sdmp.created.
func resourceFromYAML(b []byte, publisher string, now time.Time) (*sdmp.Resource, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("publish: %v", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("publish: the file must hold one YAML mapping")
	}
	root := doc.Content[0]
	var sd *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "sdmp" {
			sd = root.Content[i+1]
		}
	}
	if sd == nil {
		sd = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "sdmp"}, sd)
	}
	if sd.Kind != yaml.MappingNode {
		return nil, errors.New("publish: sdmp must be a mapping")
	}
	for i := 0; i+1 < len(sd.Content); i += 2 {
		switch k := sd.Content[i].Value; k {
		case "version", "publisher", "created", "identity":
			return nil, fmt.Errorf("publish: sdmp.%s is the node's to write", k)
		}
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	sd.Content = append(sd.Content,
		str("version"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "0.9"},
		str("publisher"), str(publisher),
		str("created"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: now.Format("2006-01-02 15:04")})
	var buf bytes.Buffer
	buf.WriteString("---\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("publish: %v", err)
	}
	enc.Close()
	buf.WriteString("...")
	d, err := sdmp.DecodeDocument(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	r, ok := d.(*sdmp.Resource)
	if !ok || r.Identity != nil {
		return nil, errors.New("publish: not a resource this command publishes")
	}
	return r, nil
}
