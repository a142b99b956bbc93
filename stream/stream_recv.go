package stream

import (
	"github.com/pydevts/pydevts/internal/rangeset"
	"github.com/pydevts/pydevts/internal/seqbuf"
)

// recvState is a stream's receiving side. buf holds the bytes from readOff
// (the next byte the application reads, buf's Base) up to the highest
// offset received; got says which of them arrived.
type recvState struct {
	buf     seqbuf.Buffer
	readOff uint64
	got     rangeset.Set
	highest uint64 // end of the highest byte received: counts against flow control
	maxData uint64 // our MAX_STREAM_DATA

	finKnown  bool
	finalSize uint64

	err          error // a reset by the peer, or the connection's end
	discard      bool  // the application closed the receiving side
	stopWanted   bool  // a STOP_SENDING is to be sent
	stopCode     uint64
	updateWanted bool // a MAX_STREAM_DATA is to be sent
}

// maxRecvRanges bounds the ranges of bytes a stream's receiving side
// keeps apart, unread (a range, 16 bytes, per gap in what arrived): a
// peer leaving a gap after every byte would otherwise make us hold eight
// times the window in ranges. An honest sender leaves a gap only where a
// packet was lost between two that arrived, each carrying a packet's
// worth of data (over 1100 bytes) unless the application writes less at
// a time: at most window/2200 gaps, so window/2048 never cuts in, nor
// does the floor of 1024 for a small window or small writes (quic-go
// allows 1000 at any window).
func maxRecvRanges(window int) int { return max(1024, window/2048) }

// available returns how many bytes can be read now.
func (r *recvState) available() uint64 {
	if r.discard {
		return 0
	}
	return r.got.Prefix(r.readOff) - r.readOff
}

// count charges the connection's flow control for bytes up to end.
func (s *Stream) count(end uint64) error {
	r := &s.recv
	if end <= r.highest {
		return nil
	}
	m := s.m
	m.recvData += end - r.highest
	if r.discard || r.err != nil {
		m.consumed += end - r.highest // nobody will read them
	}
	r.highest = end
	if m.recvData > m.localMaxData {
		return violation("peer sent %d bytes, the connection window is %d", m.recvData, m.localMaxData)
	}
	m.maybeUpdateConn()
	return nil
}

// recvData takes a STREAM frame's data.
func (s *Stream) recvData(off uint64, data []byte, fin bool) error {
	r := &s.recv
	end := off + uint64(len(data))
	switch {
	case r.finKnown && end > r.finalSize:
		return violation("stream %d: data to %d past its final size %d", s.id, end, r.finalSize)
	case fin && r.finKnown && end != r.finalSize:
		return violation("stream %d: final size changed from %d to %d", s.id, r.finalSize, end)
	case fin && end < r.highest:
		return violation("stream %d: final size %d below data received to %d", s.id, end, r.highest)
	case end > r.maxData:
		return violation("stream %d: data to %d past its window %d", s.id, end, r.maxData)
	}
	if fin {
		r.finKnown, r.finalSize = true, end
	}
	if err := s.count(end); err != nil {
		return err
	}
	if r.discard || r.err != nil {
		return nil
	}
	if end > r.readOff {
		if off < r.readOff {
			data = data[r.readOff-off:]
			off = r.readOff
		}
		r.buf.WriteAt(data, off)
		r.got.Add(off, end)
		if n, most := r.got.NumRanges(), maxRecvRanges(s.m.cfg.StreamWindow); n > most {
			return violation("stream %d: data received in %d ranges with gaps between, more than %d", s.id, n, most)
		}
	}
	s.rcond.Broadcast()
	return nil
}

// recvReset is the peer's RESET_STREAM: it gave the stream up.
func (s *Stream) recvReset(code, finalSize uint64) error {
	r := &s.recv
	switch {
	case r.finKnown && finalSize != r.finalSize:
		return violation("stream %d: reset with final size %d, was %d", s.id, finalSize, r.finalSize)
	case finalSize < r.highest:
		return violation("stream %d: reset with final size %d below data received to %d", s.id, finalSize, r.highest)
	}
	r.finKnown, r.finalSize = true, finalSize
	if r.err == nil {
		r.err = &Error{Code: code, Remote: true}
		s.m.consumed += r.highest - r.readOff // unread bytes are dropped
		r.readOff = r.highest
		r.buf.Reset(r.readOff)
		r.got.Clear()
	}
	if err := s.count(finalSize); err != nil {
		return err
	}
	r.stopWanted = false
	s.rcond.Broadcast()
	return nil
}

// readLocked copies available bytes into p and gives credit back.
func (s *Stream) readLocked(p []byte) int {
	r := &s.recv
	n := int(min(uint64(len(p)), r.available()))
	r.buf.ReadAt(p[:n], r.readOff)
	r.readOff += uint64(n)
	r.buf.Discard(r.readOff)
	r.got.RemoveBelow(r.readOff)
	s.m.consumed += uint64(n)
	// Raise the window when half of it is used, as most TCP stacks do:
	// updates then cost one frame per half window, and the sender never
	// waits as long as the reader keeps up.
	window := uint64(s.m.cfg.StreamWindow)
	if !r.finKnown && r.maxData-r.readOff <= window/2 {
		r.maxData = r.readOff + window
		r.updateWanted = true
		s.m.markCtl(s)
	}
	s.m.maybeUpdateConn()
	s.m.maybeRemove(s)
	return n
}

// maybeUpdateConn raises the connection window when half of it is used.
func (m *Map) maybeUpdateConn() {
	window := uint64(m.cfg.ConnWindow)
	if m.localMaxData-m.consumed <= window/2 {
		m.localMaxData = m.consumed + window
		m.sendMaxData = true
		m.wake()
	}
}

// closeReadLocked stops receiving: buffered bytes are dropped and the peer
// is asked to stop sending unless it already finished.
func (s *Stream) closeReadLocked(code uint64) {
	r := &s.recv
	if r.discard {
		return
	}
	r.discard = true
	s.m.consumed += r.highest - r.readOff
	r.readOff = r.highest
	r.buf.Reset(r.readOff)
	r.got.Clear()
	r.updateWanted = false
	if r.err == nil && !(r.finKnown && r.highest == r.finalSize) {
		r.stopWanted, r.stopCode = true, code
		s.m.markCtl(s)
	}
	s.m.maybeUpdateConn()
	s.rcond.Broadcast()
}

// recvDone reports whether the receiving side is finished: all read to the
// end, or reset by the peer, or closed by us with everything up to the
// final size accounted for.
func (s *Stream) recvDone() bool {
	r := &s.recv
	switch {
	case s.m.err != nil:
		return true
	case r.err != nil:
		return true
	case !r.finKnown:
		return false
	case r.discard:
		return r.highest == r.finalSize
	}
	return r.readOff == r.finalSize
}
