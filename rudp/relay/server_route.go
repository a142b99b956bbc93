package relay

// The routing table: which client's link leads to which other client's.
// Everything here runs with srv.mu held, for writing except in forward and
// oob, which only read it.

// route handles a RouteRequest from ss for peer.
func (s *Server) route(ss *session, peer PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.detached {
		return
	}
	i := ss.findLink(peer)
	switch {
	case peer == ss.key:
		ss.routeResponse(0, peer) // routing to oneself: refused, as toxcore does
		return
	case i >= 0:
		ss.routeResponse(connIDOf(i), peer) // asked again: the same id
		return
	}
	i = ss.freeLink()
	if i < 0 {
		ss.routeResponse(0, peer) // all NumLinks links in use
		return
	}
	ss.links[i] = link{state: linkRegistered, peer: peer}
	if !ss.routeResponse(connIDOf(i), peer) {
		return
	}
	o := s.clients[peer]
	if o == nil {
		return
	}
	j := o.findLink(ss.key)
	if j < 0 || o.links[j].state != linkRegistered {
		return
	}
	// Both have routed to each other: the link is online, and each learns
	// so under its own id.
	ss.links[i] = link{state: linkOnline, peer: peer, other: o, otherID: connIDOf(j)}
	o.links[j] = link{state: linkOnline, peer: ss.key, other: ss, otherID: connIDOf(i)}
	ss.notify(TypeConnectNotification, connIDOf(i))
	o.notify(TypeConnectNotification, connIDOf(j))
}

// unroute handles a DisconnectNotification from ss: the link is freed,
// and an online peer is told and falls back to registered (its link stays
// allocated, ready for the next route request), as in toxcore.
func (s *Server) unroute(ss *session, id ConnID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss.detached {
		return
	}
	l := &ss.links[id.index()]
	if l.state == linkFree {
		s.drop(dropNoLink) // c-toxcore closes; tox-rs ignores
		return
	}
	s.offlineLocked(l)
	*l = link{}
}

// offlineLocked takes the peer's side of an online link back to
// registered and tells it.
func (s *Server) offlineLocked(l *link) {
	if l.state != linkOnline {
		return
	}
	o := l.other
	ol := &o.links[l.otherID.index()]
	*ol = link{state: linkRegistered, peer: ol.peer}
	o.notify(TypeDisconnectNotification, l.otherID)
}

// detachLocked takes a confirmed session out of the routing tables: its
// key no longer receives OOB, and its online peers are told it left.
func (s *Server) detachLocked(ss *session) {
	if !ss.confirmed || ss.detached {
		return
	}
	ss.detached = true
	if s.clients[ss.key] == ss {
		delete(s.clients, ss.key)
	}
	for i := range ss.links {
		s.offlineLocked(&ss.links[i])
		ss.links[i] = link{}
	}
}

// forward relays a Data packet from ss on its link id.
func (s *Server) forward(ss *session, id ConnID, payload []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l := &ss.links[id.index()]
	switch l.state {
	case linkFree:
		s.drop(dropNoLink) // c-toxcore closes; tox-rs ignores
		return
	case linkRegistered:
		s.drop(dropNotOnline) // toxcore drops it too
		return
	}
	b := getBuf()
	*b = append(append(*b, byte(l.otherID)), payload...)
	if f := s.tamper.Load(); f != nil && !(*f)((*b)[1:]) {
		putBuf(b)
		return
	}
	if l.other.fc.send(b, false) == pushed {
		s.cnt.forwarded.Add(1)
	} else {
		s.drop(dropQueueFull)
	}
}

// oob relays an OOB packet from ss to the client that announced dest, if
// one is connected.
func (s *Server) oob(ss *session, dest PublicKey, data []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.clients[dest]
	if o == nil {
		s.drop(dropNoPeer)
		return
	}
	b := getBuf()
	*b = append(*b, byte(TypeOOBReceive))
	*b = append(*b, ss.key[:]...)
	*b = append(*b, data...)
	if o.fc.send(b, false) == pushed {
		s.cnt.oob.Add(1)
	} else {
		s.drop(dropQueueFull)
	}
}

// findLink returns the index of ss's link to peer, or -1.
func (ss *session) findLink(peer PublicKey) int {
	for i := range ss.links {
		if l := &ss.links[i]; l.state != linkFree && l.peer == peer {
			return i
		}
	}
	return -1
}

// freeLink returns the index of ss's first free link (toxcore and tox-rs
// both take the lowest), or -1.
func (ss *session) freeLink() int {
	for i := range ss.links {
		if ss.links[i].state == linkFree {
			return i
		}
	}
	return -1
}

func (ss *session) routeResponse(id ConnID, peer PublicKey) bool {
	return ss.sendControl([]byte{byte(TypeRouteResponse), byte(id)}, peer[:])
}

func (ss *session) notify(t Type, id ConnID) bool {
	return ss.sendControl([]byte{byte(t), byte(id)})
}
