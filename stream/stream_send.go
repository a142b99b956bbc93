package stream

import (
	"slices"

	"github.com/pydevts/pydevts/internal/rangeset"
	"github.com/pydevts/pydevts/internal/seqbuf"
	"github.com/pydevts/pydevts/internal/wire"
)

// sendState is a stream's sending side. buf holds the bytes from its Base
// (everything below is acknowledged) to written (the end of what the
// application wrote); next is the first byte never sent. Bytes in
// [base, next) are in flight, acknowledged (acked) or waiting to be resent
// (lost).
type sendState struct {
	buf     seqbuf.Buffer
	written uint64
	next    uint64
	acked   rangeset.Set
	lost    rangeset.Set
	maxData uint64 // the peer's MAX_STREAM_DATA

	announce bool // a new local stream: tell the peer it exists, even before data

	finWanted bool // the application closed the sending side
	finSent   bool // a FIN is in flight or acknowledged
	finAcked  bool

	err         error  // set: writes fail; no more data goes out
	resetCode   uint64 // the code of our RESET_STREAM
	resetWanted bool   // a RESET_STREAM is to be sent
	resetSent   bool
	resetAcked  bool
}

// hasData reports whether the stream has a STREAM frame to send now.
func (s *Stream) hasData() bool {
	st := &s.send
	if st.err != nil {
		return false
	}
	if !st.lost.Empty() {
		return true
	}
	if st.next < st.written && st.next < st.maxData && s.m.sentData < s.m.peerMaxData {
		return true
	}
	return (st.finWanted && !st.finSent && st.next == st.written) || (st.announce && st.next == 0)
}

// appendData appends one STREAM frame of at most budget bytes: resent
// bytes first, then new bytes within both flow-control windows, with the
// FIN when it reaches the end. ok reports whether the stream has more to
// send.
func (s *Stream) appendData(dst []byte, budget int, sent []wire.Sent) ([]byte, []wire.Sent, bool) {
	st := &s.send
	if st.err != nil {
		return dst, sent, false
	}
	var off, n uint64
	credit := min(st.maxData-min(st.maxData, st.next), s.m.peerMaxData-s.m.sentData)
	switch {
	case !st.lost.Empty():
		r := st.lost.Ranges()[0]
		off, n = r.Start, r.Len()
	case st.next < st.written && credit > 0:
		off = st.next
		n = min(st.written-st.next, credit)
	case st.next < st.written && !(st.announce && st.next == 0):
		return dst, sent, false // blocked by flow control; MAX_*DATA requeues it
	case st.finWanted && !st.finSent && st.next == st.written:
		off = st.written
	case st.announce && st.next == 0:
		off = 0 // an empty frame that opens the stream at the peer
	default:
		return dst, sent, false
	}
	st.announce = false
	hdr := wire.StreamHeaderLen(s.id, off, budget, true)
	if budget <= hdr {
		return dst, sent, true
	}
	n = min(n, uint64(budget-hdr))
	fin := st.finWanted && off+n == st.written
	dst = wire.AppendStreamHeader(dst, s.id, off, int(n), fin, true)
	l := len(dst)
	dst = slices.Grow(dst, int(n))[:l+int(n)]
	st.buf.ReadAt(dst[l:], off)
	sent = append(sent, wire.Sent{Type: wire.FrameStream, ID: s.id, Offset: off, Length: n, Fin: fin})
	if off < st.next {
		st.lost.Remove(off, off+n)
		s.m.retransmitted += n
	} else if n > 0 {
		st.next += n
		s.m.sentData += n
	}
	if fin {
		st.finSent = true
	}
	return dst, sent, s.hasData()
}

// dataAcked records that [off, off+n) (and the FIN) reached the peer.
func (s *Stream) dataAcked(off, n uint64, fin bool) {
	st := &s.send
	if st.err != nil {
		return
	}
	st.acked.Add(off, off+n)
	st.lost.Remove(off, off+n)
	if fin {
		st.finAcked = true
	}
	if base := st.acked.Prefix(st.buf.Base()); base > st.buf.Base() {
		st.buf.Discard(base)
		st.acked.RemoveBelow(base)
		s.wcond.Broadcast()
	}
}

// dataLost queues for resending what of [off, off+n) was not acknowledged
// since, and the FIN if it was lost.
func (s *Stream) dataLost(off, n uint64, fin bool) {
	st := &s.send
	if st.err != nil {
		return
	}
	end := min(off+n, st.next)
	off = max(off, st.buf.Base())
	if off < end {
		st.lost.Add(off, end)
		for _, r := range st.acked.Ranges() {
			st.lost.Remove(r.Start, r.End)
		}
	}
	if fin && !st.finAcked {
		st.finSent = false
	}
	if n == 0 && !fin && st.next == 0 && st.acked.Empty() {
		st.announce = true // the opening frame was lost and nothing followed it
	}
	s.m.markReady(s)
}

// stopSending is the peer's STOP_SENDING: it will not read, so we stop
// and reset the stream with its code.
func (s *Stream) stopSending(code uint64) {
	st := &s.send
	if st.err != nil || (st.finAcked && st.buf.Base() == st.written) {
		return // already finished: nothing to stop
	}
	st.err = &Error{Code: code, Remote: true}
	st.resetCode, st.resetWanted = code, true
	st.lost.Clear()
	st.buf.Reset(st.written)
	s.wcond.Broadcast()
	s.m.markCtl(s)
}

// sendDone reports whether the sending side is finished: everything
// including the FIN acknowledged, or the reset acknowledged, or the
// connection gone; or nothing will ever be sent because the application
// closed without writing and the FIN went through.
func (s *Stream) sendDone() bool {
	st := &s.send
	switch {
	case s.m.err != nil:
		return true
	case st.resetWanted || st.resetSent:
		return st.resetAcked
	}
	return st.finAcked && st.buf.Base() == st.written
}

// appendControl appends the stream's pending control frames.
func (s *Stream) appendControl(dst []byte, sent []wire.Sent) ([]byte, []wire.Sent) {
	if s.send.resetWanted {
		dst = wire.AppendResetStream(dst, s.id, s.send.resetCode, s.send.next)
		sent = append(sent, wire.Sent{Type: wire.FrameResetStream, ID: s.id})
		s.send.resetWanted, s.send.resetSent = false, true
	}
	if s.recv.stopWanted {
		dst = wire.AppendStopSending(dst, s.id, s.recv.stopCode)
		sent = append(sent, wire.Sent{Type: wire.FrameStopSending, ID: s.id})
		s.recv.stopWanted = false
	}
	if s.recv.updateWanted {
		dst = wire.AppendMaxStreamData(dst, s.id, s.recv.maxData)
		sent = append(sent, wire.Sent{Type: wire.FrameMaxStreamData, ID: s.id})
		s.recv.updateWanted = false
	}
	return dst, sent
}
