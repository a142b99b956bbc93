package node

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/pydevts/pydevts/sdmp"
)

// run is the session's sync: it asks the peer for its journal now and
// every SyncInterval, sends our journal lines it lacks, answers its
// requests, and requests, checks and keeps the resources its journal
// names that we lack. It returns when the session ends.
func (ss *session) run(ctx context.Context) error {
	n := ss.n
	done := make(chan struct{})
	defer close(done)
	stop := context.AfterFunc(ctx, func() { ss.s.Close() })
	defer stop()
	go func() {
		t := time.NewTicker(n.cfg.SyncInterval)
		defer t.Stop()
		for {
			if err := ss.synchronize(); err != nil {
				ss.s.Close()
				return
			}
			ss.announce()
			ss.retryPending()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	for {
		ss.s.SetReadDeadline(time.Now().Add(n.cfg.IdleTimeout))
		b, err := ss.s.ReadDocument()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				ss.respond(nil, sdmp.StatusRequestTimeout, "nothing arrived for "+n.cfg.IdleTimeout.String())
				ss.s.Close()
				return errors.New("idle: 408 sent")
			}
			return err
		}
		if err := ss.handle(b); err != nil {
			return err
		}
	}
}

// send signs a communication document with our node key and writes it.
func (ss *session) send(c *sdmp.Communication) error {
	c.Node, c.Created = ss.n.st.nodeFP, time.Now().UTC()
	stream, err := sdmp.EncodeDocument(c)
	if err != nil {
		return err
	}
	f, err := sdmp.SignSYML(ss.n.st.node, stream)
	if err != nil {
		return err
	}
	return ss.s.WriteDocument(f)
}

// respond sends a response with status about request (its stream, or nil).
func (ss *session) respond(request []byte, status int, desc string) error {
	return ss.send(&sdmp.Communication{Response: sdmp.NewResponse(request, status, desc)})
}

// synchronize asks the peer for its journal after the last line we know.
func (ss *session) synchronize() error {
	known, _, _ := ss.n.st.journal.PeerState(ss.p.nodeFP)
	return ss.send(&sdmp.Communication{Synchronize: &sdmp.Synchronize{Since: known, Limit: syncLimit}})
}

// announce sends the peer the lines of our journal after the last we
// sent it (the journal update broadcast).
func (ss *session) announce() {
	j := ss.n.st.journal
	_, _, sent := j.PeerState(ss.p.nodeFP)
	entries, err := j.After(sent, syncLimit)
	if err != nil {
		// Our journal does not hold what we recorded as sent: start over.
		sent = j.Node()
		entries, err = j.After(sent, syncLimit)
	}
	if err != nil || len(entries) == 0 {
		return
	}
	if ss.send(&sdmp.Communication{Journal: &sdmp.JournalList{Since: sent, Entries: entries}}) == nil {
		j.SetSent(ss.p.nodeFP, sdmp.JournalLineNumber(entries[len(entries)-1]))
	}
}

// handle acts on one document from the peer. An error ends the session.
func (ss *session) handle(b []byte) error {
	n := ss.n
	f, err := sdmp.ParseSYML(b)
	if err != nil {
		// A 400 must name the request it answers, and a file that does
		// not parse has no stream: name the bytes that came. (With no
		// request named, the response would not encode, and one bad file
		// would end the session.)
		return ss.respond(b, sdmp.StatusBadRequest, err.Error())
	}
	d, err := sdmp.DecodeDocument(f.Stream)
	if err != nil {
		return ss.respond(f.Stream, sdmp.StatusBadRequest, err.Error())
	}
	c, ok := d.(*sdmp.Communication)
	if !ok {
		// A resource: the answer to one of our requests (D16).
		ss.received(b, f)
		return nil
	}
	// Communication documents are signed by the sending node: the peer.
	if c.Node != ss.p.nodeFP {
		return ss.respond(f.Stream, sdmp.StatusBadRequest, "sdmp.node: not the node at the other end of this session")
	}
	if err := f.Verify(ss.p.nodeKey); err != nil {
		return ss.respond(f.Stream, sdmp.StatusBadRequest, "signature: "+err.Error())
	}
	switch {
	case c.Synchronize != nil:
		limit := c.Synchronize.Limit
		if limit <= 0 || limit > syncLimit {
			limit = syncLimit
		}
		entries, err := n.st.journal.After(c.Synchronize.Since, limit)
		if err != nil {
			return ss.respond(f.Stream, sdmp.StatusNotFound, "since: "+err.Error())
		}
		if err := ss.send(&sdmp.Communication{Journal: &sdmp.JournalList{Since: c.Synchronize.Since, Entries: entries}}); err != nil {
			return err
		}
		if len(entries) > 0 {
			n.st.journal.SetSent(ss.p.nodeFP, sdmp.JournalLineNumber(entries[len(entries)-1]))
		}
	case c.Journal != nil:
		ss.journal(c.Journal)
	case c.Request != nil:
		raw, err := n.st.store.Get(c.Request.Resource)
		if err != nil {
			return ss.respond(f.Stream, sdmp.StatusNotFound, "no such resource here")
		}
		return ss.s.WriteDocument(raw)
	case c.Response != nil:
		switch c.Response.Status {
		case sdmp.StatusRequestTimeout:
			return errors.New("the peer timed the session out (408)")
		case sdmp.StatusNotFound:
			// Our synchronize's since is unknown to it: start over; or a
			// resource it does not have: another peer may.
			ss.notFound(c.Response.Request)
		default:
			n.log.Warn("node: the peer refused a document", "peer", ss.p.cfg.Name, "status", c.Response.Status, "why", c.Response.Description)
		}
	}
	return nil
}

// journal takes in a run of the peer's journal: it checks the chain
// from the last line we know, records how far we know it, and requests
// the resources we lack.
func (ss *session) journal(jl *sdmp.JournalList) {
	n := ss.n
	j := n.st.journal
	if len(jl.Entries) == 0 {
		return
	}
	known, knownText, _ := j.PeerState(ss.p.nodeFP)
	switch {
	case jl.Since == known:
		if err := sdmp.VerifyJournalSegment(knownText, jl.Entries); err != nil {
			n.log.Warn("node: the peer's journal does not chain", "peer", ss.p.cfg.Name, "err", err)
			return
		}
	case jl.Since == ss.p.nodeFP:
		// From its start (after a 404, or its first broadcast to us).
		if err := sdmp.VerifyJournalSegment(ss.p.nodeFP, jl.Entries); err != nil {
			n.log.Warn("node: the peer's journal does not chain", "peer", ss.p.cfg.Name, "err", err)
			return
		}
	default:
		// A run that does not follow what we know: ask for what does.
		ss.synchronize()
		return
	}
	// What we know of the peer's journal advances only over entries we
	// hold (or refused): a node killed before the rest arrived asks for
	// them again from there, instead of skipping them for good.
	upto := -1
	for i, e := range jl.Entries {
		_, publisher, id, err := sdmp.ParseJournalLine(e)
		if err != nil {
			return
		}
		held := j.Has(publisher, id)
		if !held && n.st.store.Has(id) {
			// Stored, not journaled: a crash between the two.
			if raw, err := n.st.store.Get(id); err == nil {
				_, _, err := n.st.accept(raw, id)
				held = err == nil
			}
		}
		refused := n.isRefused(id)
		if !held && !refused {
			ss.request(publisher, id)
		}
		if upto == i-1 && (held || refused) {
			upto = i
		}
	}
	if upto >= 0 {
		j.SetKnown(ss.p.nodeFP, jl.Entries[upto])
	}
}

// isRefused reports whether the resource id was offered and refused (a
// bad signature, an unknown publisher...) since the node started.
func (n *Node) isRefused(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refusedIDs[id]
}

// request asks the peer for a resource, unless it was asked for lately.
func (ss *session) request(author, id string) {
	n := ss.n
	n.mu.Lock()
	pr := n.pending[id]
	if pr == nil {
		pr = &pendingRequest{author: author, asked: map[*peer]bool{}}
		n.pending[id] = pr
	}
	if time.Since(pr.at) < requestRetry {
		// Asked lately, of this peer or another: one copy is enough.
		n.mu.Unlock()
		return
	}
	pr.asked[ss.p], pr.at = true, time.Now()
	n.mu.Unlock()
	ss.send(&sdmp.Communication{Request: &sdmp.ResourceRequest{Author: author, Resource: id}})
}

// retryPending asks this session's peer for the resources asked for
// more than requestRetry ago and still missing: the peer asked may have
// gone, or lost the request. Whichever session ticks first takes them,
// so the retries spread over the peers.
func (ss *session) retryPending() {
	n := ss.n
	type want struct{ author, id string }
	var ws []want
	n.mu.Lock()
	for id, pr := range n.pending {
		if time.Since(pr.at) >= requestRetry {
			ws = append(ws, want{pr.author, id})
		}
	}
	n.mu.Unlock()
	for _, w := range ws {
		if !n.st.store.Has(w.id) {
			ss.request(w.author, w.id)
		}
	}
}

// notFound handles a 404 about request (a resource identifier of one of
// our documents, or empty): a resource request goes to another peer.
func (ss *session) notFound(request string) {
	n := ss.n
	n.mu.Lock()
	var others []*session
	var author, id string
	for rid, pr := range n.pending {
		// The 404 names our request by its stream's identifier, which we
		// did not keep; ask every other session for what this one was
		// asked and lacks.
		if pr.asked[ss.p] {
			for s := range n.sessions {
				if s.p != ss.p && !pr.asked[s.p] {
					others = append(others, s)
					author, id = pr.author, rid
					pr.at = time.Time{} // ask the next one now
				}
			}
		}
	}
	n.mu.Unlock()
	if request == "" && len(others) == 0 {
		// Our synchronize's since: start over from its first line.
		n.st.journal.SetKnown(ss.p.nodeFP, ss.p.nodeFP)
		return
	}
	for _, o := range others {
		o.request(author, id)
	}
}

// received takes a resource the peer sent: one we asked for is checked,
// stored, journaled, and announced to every session.
func (ss *session) received(raw []byte, f *sdmp.SYML) {
	n := ss.n
	id := sdmp.ResourceID(f.Stream)
	n.mu.Lock()
	_, asked := n.pending[id]
	n.mu.Unlock()
	if !asked {
		return // not asked for: ignored (D10)
	}
	line, _, err := n.st.accept(raw, id)
	if err != nil {
		// Refused for good (bad signature, unknown or unauthorised
		// publisher), from whoever sends it: forget it, and never
		// journal it.
		n.refused.Add(1)
		n.log.Warn("node: a resource refused", "peer", ss.p.cfg.Name, "id", id, "err", err)
		n.mu.Lock()
		if len(n.refusedIDs) < maxRefused {
			n.refusedIDs[id] = true
		}
		n.mu.Unlock()
	}
	n.mu.Lock()
	delete(n.pending, id)
	n.mu.Unlock()
	if line != "" {
		n.received.Add(1)
		n.log.Info("node: resource received", "peer", ss.p.cfg.Name, "id", id)
		n.announceAll()
	}
}

// announceAll sends every session the lines it lacks.
func (n *Node) announceAll() {
	n.mu.Lock()
	ss := make([]*session, 0, len(n.sessions))
	for s := range n.sessions {
		ss = append(ss, s)
	}
	n.mu.Unlock()
	for _, s := range ss {
		go s.announce()
	}
}
