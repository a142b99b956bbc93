package message

import (
	"slices"

	"github.com/pydevts/pydevts/internal/rangeset"
	"github.com/pydevts/pydevts/internal/wire"
)

// outMsg is a message being sent.
type outMsg struct {
	id, start uint64
	data      []byte // nil once abandoned
	size      uint64
	admitted  bool
	next      uint64       // first fragment offset never sent
	acked     rangeset.Set // fragment bytes the peer has
	lost      rangeset.Set // fragment bytes to send again
	emptyOut  bool         // an empty message's frame is in flight
	emptyDone bool         // an empty message's frame was acknowledged
	queued    bool         // in ready
	abandoned bool         // given up: ABANDON instead of fragments
	abandonQ  bool         // in abandons
	result    chan error   // receives the outcome once
	finished  bool
}

func (m *outMsg) total() uint64 { return m.size }

func (m *outMsg) finish(err error) {
	if !m.finished {
		m.finished = true
		m.result <- err
	}
}

func (m *outMsg) complete() bool {
	if m.total() == 0 {
		return m.emptyDone
	}
	return m.acked.ContainsRange(0, m.total())
}

func (m *outMsg) hasData() bool {
	if m.abandoned || m.finished {
		return false
	}
	if m.total() == 0 {
		return !m.emptyOut && !m.emptyDone
	}
	return !m.lost.Empty() || m.next < m.total()
}

// admit gives waiting messages their place in the message space while the
// peer's limit has room, first come first served.
func (s *Set) admit() {
	for len(s.waiting) > 0 {
		m := s.waiting[0]
		if s.nextStart+span(m.total()) > s.peerMax {
			return
		}
		s.waiting = s.waiting[1:]
		m.id, m.start, m.admitted = s.nextID, s.nextStart, true
		s.nextID++
		s.nextStart += span(m.total())
		s.active[m.id] = m
		s.markReady(m)
	}
}

func (s *Set) markReady(m *outMsg) {
	if !m.queued && m.hasData() {
		m.queued = true
		s.ready = append(s.ready, m)
		s.wake()
	}
}

// abandon gives m up: a waiting message just leaves the queue; an admitted
// one is announced with ABANDON, so the peer frees its space and never
// delivers it.
func (s *Set) abandon(m *outMsg) {
	if m.finished {
		return
	}
	m.finished = true // Send returns its own error
	if !m.admitted {
		if i := slices.Index(s.waiting, m); i >= 0 {
			s.waiting = slices.Delete(s.waiting, i, i+1)
		}
		return
	}
	m.abandoned = true
	m.data = nil
	m.lost.Clear()
	s.queueAbandon(m)
}

func (s *Set) queueAbandon(m *outMsg) {
	if !m.abandonQ {
		m.abandonQ = true
		s.abandons = append(s.abandons, m)
		s.wake()
	}
}

// HasData reports whether AppendFrames has anything to send.
func (s *Set) HasData() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendMax || len(s.abandons) > 0 || len(s.ready) > 0
}

// minFragment is the least room worth a fragment.
const minFragment = 32

// AppendFrames appends frames to dst, at most budget bytes of them, and
// records each in sent: the window update first, then ABANDONs, then one
// fragment per message in turn.
func (s *Set) AppendFrames(dst []byte, budget int, sent []wire.Sent) ([]byte, []wire.Sent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := len(dst)
	room := func() int { return budget - (len(dst) - start) }
	if s.sendMax && room() >= 1+8 {
		dst = wire.AppendMax(dst, wire.FrameMaxMessageData, s.localMax)
		sent = append(sent, wire.Sent{Type: wire.FrameMaxMessageData})
		s.sendMax = false
	}
	for len(s.abandons) > 0 && room() >= 1+3*8 {
		m := s.abandons[0]
		s.abandons = s.abandons[1:]
		m.abandonQ = false
		dst = wire.AppendAbandon(dst, m.id, m.start, m.total())
		sent = append(sent, wire.Sent{Type: wire.FrameAbandon, ID: m.id})
	}
	for len(s.ready) > 0 && room() >= minFragment {
		m := s.ready[0]
		s.ready = s.ready[1:]
		m.queued = false
		if !m.hasData() {
			continue
		}
		var off, n uint64
		if !m.lost.Empty() {
			r := m.lost.Ranges()[0]
			off, n = r.Start, r.Len()
		} else {
			off, n = m.next, m.total()-m.next
		}
		hdr := wire.MessageHeaderLen(m.id, m.start, m.total(), off, room())
		n = min(n, uint64(room()-hdr))
		dst = wire.AppendMessage(dst, m.id, m.start, m.total(), off, m.data[off:off+n])
		sent = append(sent, wire.Sent{Type: wire.FrameMessage, ID: m.id, Offset: off, Length: n})
		switch {
		case m.total() == 0:
			m.emptyOut = true
		case off < m.next:
			m.lost.Remove(off, off+n)
			s.resent += n
		default:
			m.next += n
		}
		s.markReady(m)
	}
	return dst, sent
}

// OnAcked is told that a frame the Set sent was acknowledged.
func (s *Set) OnAcked(f wire.Sent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.active[f.ID]
	if m == nil {
		return
	}
	switch f.Type {
	case wire.FrameMessage:
		if m.abandoned {
			return
		}
		if m.total() == 0 {
			m.emptyDone = true
		}
		m.acked.Add(f.Offset, f.Offset+f.Length)
		m.lost.Remove(f.Offset, f.Offset+f.Length)
		if m.complete() {
			delete(s.active, m.id)
			m.finish(nil)
		}
	case wire.FrameAbandon:
		delete(s.active, m.id) // the peer has freed its space
	}
}

// OnLost is told that a frame the Set sent was lost.
func (s *Set) OnLost(f wire.Sent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Type == wire.FrameMaxMessageData {
		s.sendMax = true
		s.wake()
		return
	}
	m := s.active[f.ID]
	if m == nil {
		return
	}
	switch f.Type {
	case wire.FrameMessage:
		if m.abandoned {
			return
		}
		if m.total() == 0 {
			m.emptyOut = false
		}
		m.lost.Add(f.Offset, f.Offset+f.Length)
		for _, r := range m.acked.Ranges() {
			m.lost.Remove(r.Start, r.End)
		}
		s.markReady(m)
	case wire.FrameAbandon:
		s.queueAbandon(m)
	}
}
