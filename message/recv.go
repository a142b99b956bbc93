package message

import (
	"github.com/pydevts/pydevts/internal/rangeset"
	"github.com/pydevts/pydevts/internal/wire"
)

// maxRanges bounds the ranges a message of total bytes is received in,
// apart (a range, 16 bytes, per gap): a peer leaving a gap after every
// byte would otherwise make us hold eight times the message in ranges.
// An honest sender cuts a message into fragments of a packet's size
// (over 1100 bytes, bar the last), so it leaves fewer than total/2200
// gaps at any loss.
func maxRanges(total uint64) int { return int(max(16, total/2048)) }

// inMsg is a message being received.
type inMsg struct {
	start, total uint64
	buf          []byte
	got          rangeset.Set
}

// HandleFrame takes a MESSAGE, ABANDON or MAX_MESSAGE_DATA frame. A
// *ProtocolError means the peer broke the protocol.
func (s *Set) HandleFrame(f *wire.Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Type {
	case wire.FrameMaxMessageData:
		if f.Max.Value > s.peerMax {
			s.peerMax = f.Max.Value
			s.admit()
		}
		return nil
	case wire.FrameMessage, wire.FrameAbandon:
	default:
		return nil
	}
	fr := &f.Message
	if s.done.Contains(fr.ID) {
		return nil // delivered or dropped already: a late copy
	}
	if fr.Total > MaxSize {
		return violation("message %d of %d bytes, more than %d", fr.ID, fr.Total, MaxSize)
	}
	n := span(fr.Total)
	if fr.Start+n > s.localMax {
		return violation("message %d at %d+%d past the window %d", fr.ID, fr.Start, n, s.localMax)
	}
	if fr.Start < s.freedBase {
		return violation("message %d at %d in space already given back", fr.ID, fr.Start)
	}
	// Every message spans Overhead bytes at least, and a sender places
	// message k only after all before it, within a window that cannot
	// move past the first message we have not finished: so an honest
	// sender's IDs stay below that one's plus Window/Overhead. The bound
	// keeps done (and partial) small whatever IDs a peer picks.
	if first, most := s.done.Prefix(0), uint64(s.cfg.Window/Overhead); fr.ID >= first+most {
		return violation("message %d while message %d is unfinished: more than %d messages in the window", fr.ID, first, most)
	}
	in := s.partial[fr.ID]
	if in == nil {
		if s.overlaps(fr.Start, n) {
			return violation("message %d claims space [%d, %d) that another holds", fr.ID, fr.Start, fr.Start+n)
		}
		if f.Type == wire.FrameAbandon {
			s.done.Add(fr.ID, fr.ID+1)
			s.free(fr.Start, n)
			return nil
		}
		in = &inMsg{start: fr.Start, total: fr.Total, buf: make([]byte, fr.Total)}
		s.partial[fr.ID] = in
		s.claimed.Add(fr.Start, fr.Start+n)
	} else if in.start != fr.Start || in.total != fr.Total {
		return violation("message %d changed its place or size", fr.ID)
	}
	if f.Type == wire.FrameAbandon {
		delete(s.partial, fr.ID)
		s.done.Add(fr.ID, fr.ID+1)
		s.free(in.start, n)
		return nil
	}
	copy(in.buf[fr.Offset:], fr.Data)
	in.got.Add(fr.Offset, fr.Offset+uint64(len(fr.Data)))
	if n, most := in.got.NumRanges(), maxRanges(in.total); n > most {
		return violation("message %d received in %d ranges with gaps between, more than %d", fr.ID, n, most)
	}
	if in.total == 0 || in.got.ContainsRange(0, in.total) {
		delete(s.partial, fr.ID)
		s.done.Add(fr.ID, fr.ID+1)
		in.got = rangeset.Set{}
		s.inbox = append(s.inbox, in)
		s.inCond.Broadcast()
	}
	return nil
}

// overlaps reports whether any of [start, start+n) is held by another
// message.
func (s *Set) overlaps(start, n uint64) bool {
	for _, r := range s.claimed.Ranges() {
		if r.Start < start+n && start < r.End {
			return true
		}
	}
	return false
}
