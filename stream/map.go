package stream

import (
	"context"
	"net"
	"sync"

	"github.com/pydevts/pydevts/internal/wire"
)

// Config holds the limits of one connection's streams. Zero fields take the
// defaults below.
type Config struct {
	// StreamWindow is how many bytes of one stream the peer may send
	// beyond what the application has read.
	StreamWindow int
	// ConnWindow is the same for all streams of the connection together.
	ConnWindow int
	// SendBuffer is how many bytes a stream holds for sending (unsent plus
	// unacknowledged) before Write blocks.
	SendBuffer int
	// MaxIncoming is how many streams the peer may have open at once.
	MaxIncoming int
	// LocalAddr and RemoteAddr are what the streams report.
	LocalAddr, RemoteAddr net.Addr
	// RemoteAddrFunc, if set, is asked for RemoteAddr each time instead,
	// for a connection whose peer may change address.
	RemoteAddrFunc func() net.Addr
}

// Defaults. The windows must cover a path's bandwidth-delay product for a
// stream to reach full speed: 4 MiB per stream fills 100 Mbit/s at 300 ms
// RTT, or 1 Gbit/s at 30 ms. The connection window allows a few such
// streams at full speed; memory per connection stays bounded by it.
const (
	DefaultStreamWindow = 4 << 20
	DefaultConnWindow   = 16 << 20
	DefaultSendBuffer   = 4 << 20
	DefaultMaxIncoming  = 256
)

func (c *Config) fill() {
	if c.StreamWindow <= 0 {
		c.StreamWindow = DefaultStreamWindow
	}
	if c.ConnWindow <= 0 {
		c.ConnWindow = DefaultConnWindow
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	if c.MaxIncoming <= 0 {
		c.MaxIncoming = DefaultMaxIncoming
	}
}

// Limits are the flow-control limits the peer grants at the start of the
// connection, learnt in the handshake.
type Limits struct {
	MaxData       uint64 // connection window
	MaxStreamData uint64 // per-stream window
	MaxStreams    uint64 // streams we may open
}

// LimitsOf returns the limits a peer with configuration c grants.
func LimitsOf(c Config) Limits {
	c.fill()
	return Limits{MaxData: uint64(c.ConnWindow), MaxStreamData: uint64(c.StreamWindow), MaxStreams: uint64(c.MaxIncoming)}
}

// Map is all the streams of one connection.
type Map struct {
	// mu guards everything below and every field of the Map's streams that
	// their comments mark as guarded. One lock per connection rather than
	// per stream: the engine and the users both touch stream state and the
	// connection's flow control at once, and one lock cannot deadlock.
	mu        sync.Mutex
	cfg       Config
	initiator bool
	wake      func()
	streams   map[uint64]*Stream
	err       error // set once the connection is closed

	// Streams we open.
	nextLocal      uint64 // ID of the next stream we open
	peerMaxStreams uint64 // how many streams the peer lets us open in all
	openCond       sync.Cond

	// Streams the peer opens.
	nextPeer       uint64 // ID of the next peer stream not yet opened
	maxPeerStreams uint64 // how many streams we let the peer open in all
	sendMaxStreams bool
	acceptQ        []*Stream
	acceptCond     sync.Cond

	// Connection flow control.
	peerStreamData uint64 // the peer's initial window for each new stream
	peerMaxData    uint64 // the peer's MAX_DATA: new bytes we may send in all
	sentData       uint64 // new bytes sent in all
	localMaxData   uint64 // our MAX_DATA
	recvData       uint64 // highest offsets received, summed over streams
	consumed       uint64 // bytes read by the application or discarded
	sendMaxData    bool

	ready         fifo[*Stream] // streams with data to send, round-robin
	retransmitted uint64        // bytes sent again after a loss
	ctl           fifo[*Stream] // streams with control frames to send
}

// NewMap returns the stream map of a connection. initiator says whether
// this side began the connection (it opens even stream IDs); peer holds the
// limits the peer granted; wake is called (possibly with the lock held, so
// it must not block) when there is something new to send.
func NewMap(cfg Config, initiator bool, peer Limits, wake func()) *Map {
	cfg.fill()
	m := &Map{
		cfg:            cfg,
		initiator:      initiator,
		wake:           wake,
		streams:        map[uint64]*Stream{},
		peerMaxStreams: peer.MaxStreams,
		maxPeerStreams: uint64(cfg.MaxIncoming),
		peerMaxData:    peer.MaxData,
		localMaxData:   uint64(cfg.ConnWindow),
	}
	if !initiator {
		m.nextLocal = 1
	} else {
		m.nextPeer = 1
	}
	m.openCond.L = &m.mu
	m.acceptCond.L = &m.mu
	m.peerStreamData = peer.MaxStreamData
	return m
}

// isLocal reports whether id belongs to streams we open.
func (m *Map) isLocal(id uint64) bool { return (id&1 == 0) == m.initiator }

// waitCtx waits on c until woken or ctx ends; it returns ctx's error then.
func waitCtx(ctx context.Context, c *sync.Cond) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		c.L.Lock()
		c.Broadcast()
		c.L.Unlock()
	})
	c.Wait()
	stop()
	return ctx.Err()
}

// Open opens a stream, waiting while the peer's stream limit is reached.
// Nothing is sent until the first Write (or CloseWrite).
func (m *Map) Open(ctx context.Context) (*Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.err != nil {
			return nil, m.err
		}
		if m.nextLocal/2 < m.peerMaxStreams {
			break
		}
		if err := waitCtx(ctx, &m.openCond); err != nil {
			return nil, err
		}
	}
	s := m.newStream(m.nextLocal)
	m.nextLocal += 2
	s.send.announce = true
	m.markReady(s)
	return s, nil
}

// Accept returns the next stream the peer opened.
func (m *Map) Accept(ctx context.Context) (*Stream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.acceptQ) == 0 {
		if m.err != nil {
			return nil, m.err
		}
		if err := waitCtx(ctx, &m.acceptCond); err != nil {
			return nil, err
		}
	}
	s := m.acceptQ[0]
	m.acceptQ[0] = nil
	m.acceptQ = m.acceptQ[1:]
	s.pending = false
	if s.owed {
		s.owed = false
		m.grantStream()
	}
	return s, nil
}

// stream returns the stream id refers to, opening the peer's streams up to
// id; nil means a stream that is finished and gone (frames for it are
// ignored).
func (m *Map) stream(id uint64) (*Stream, error) {
	if s, ok := m.streams[id]; ok {
		return s, nil
	}
	if m.isLocal(id) {
		if id >= m.nextLocal {
			return nil, violation("frame for stream %d, which we never opened", id)
		}
		return nil, nil
	}
	if id < m.nextPeer {
		return nil, nil
	}
	if id/2 >= m.maxPeerStreams {
		return nil, violation("peer opened stream %d beyond its limit of %d streams", id, m.maxPeerStreams)
	}
	var s *Stream
	for ; m.nextPeer <= id; m.nextPeer += 2 {
		s = m.newStream(m.nextPeer)
		s.pending = true
		m.acceptQ = append(m.acceptQ, s)
	}
	m.acceptCond.Broadcast()
	return s, nil
}

// HandleFrame takes a frame for the streams: STREAM, RESET_STREAM,
// STOP_SENDING, MAX_DATA, MAX_STREAM_DATA or MAX_STREAMS. A *ProtocolError
// means the peer broke the protocol and the connection must close.
func (m *Map) HandleFrame(f *wire.Frame) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch f.Type {
	case wire.FrameMaxData:
		if f.Max.Value > m.peerMaxData {
			m.peerMaxData = f.Max.Value
			m.requeueBlocked()
		}
		return nil
	case wire.FrameMaxStreams:
		if f.Max.Value > m.peerMaxStreams {
			m.peerMaxStreams = f.Max.Value
			m.openCond.Broadcast()
		}
		return nil
	}
	var id uint64
	switch f.Type {
	case wire.FrameStream:
		id = f.Stream.ID
	case wire.FrameResetStream, wire.FrameStopSending:
		id = f.Reset.ID
	case wire.FrameMaxStreamData:
		id = f.Max.ID
	default:
		return nil
	}
	s, err := m.stream(id)
	if s == nil || err != nil {
		return err
	}
	switch f.Type {
	case wire.FrameStream:
		err = s.recvData(f.Stream.Offset, f.Stream.Data, f.Stream.Fin)
	case wire.FrameResetStream:
		err = s.recvReset(f.Reset.Code, f.Reset.FinalSize)
	case wire.FrameStopSending:
		s.stopSending(f.Reset.Code)
	case wire.FrameMaxStreamData:
		if f.Max.Value > s.send.maxData {
			s.send.maxData = f.Max.Value
			m.markReady(s)
		}
	}
	m.maybeRemove(s)
	return err
}

// requeueBlocked puts back the streams that wait for connection credit.
func (m *Map) requeueBlocked() {
	for _, s := range m.streams {
		if s.send.next < s.send.written {
			m.markReady(s)
		}
	}
}

// markReady queues s for sending if it has something to send.
func (m *Map) markReady(s *Stream) {
	if !s.queued && s.hasData() {
		s.queued = true
		m.ready.push(s)
		m.wake()
	}
}

// markCtl queues s for its control frames.
func (m *Map) markCtl(s *Stream) {
	if !s.ctlQueued {
		s.ctlQueued = true
		m.ctl.push(s)
		m.wake()
	}
}

// HasData reports whether AppendFrames has anything to send.
func (m *Map) HasData() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sendMaxData || m.sendMaxStreams || m.ctl.len() > 0 || m.ready.len() > 0
}

// minFrame is the smallest room worth filling with stream data: below it
// the frame header would outweigh the bytes.
const minFrame = 32

// AppendFrames appends frames to dst, at most budget bytes of them, and
// records each in sent: control frames first (flow-control credit and
// resets unblock the peer), then stream data, one frame per stream in
// turn so no stream starves the others.
func (m *Map) AppendFrames(dst []byte, budget int, sent []wire.Sent) ([]byte, []wire.Sent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := len(dst)
	room := func() int { return budget - (len(dst) - start) }
	if m.sendMaxData && room() >= 1+8 {
		dst = wire.AppendMax(dst, wire.FrameMaxData, m.localMaxData)
		sent = append(sent, wire.Sent{Type: wire.FrameMaxData})
		m.sendMaxData = false
	}
	if m.sendMaxStreams && room() >= 1+8 {
		dst = wire.AppendMax(dst, wire.FrameMaxStreams, m.maxPeerStreams)
		sent = append(sent, wire.Sent{Type: wire.FrameMaxStreams})
		m.sendMaxStreams = false
	}
	for m.ctl.len() > 0 && room() >= 1+3*8 {
		s := m.ctl.pop()
		s.ctlQueued = false
		dst, sent = s.appendControl(dst, sent)
	}
	for m.ready.len() > 0 && room() >= minFrame {
		s := m.ready.pop()
		s.queued = false
		var ok bool
		dst, sent, ok = s.appendData(dst, room(), sent)
		if ok {
			m.markReady(s)
		}
	}
	return dst, sent
}

// OnAcked is told that a frame the Map sent was acknowledged.
func (m *Map) OnAcked(f wire.Sent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[f.ID]
	switch f.Type {
	case wire.FrameStream:
		if s != nil {
			s.dataAcked(f.Offset, f.Length, f.Fin)
		}
	case wire.FrameResetStream:
		if s != nil {
			s.send.resetAcked = true
		}
	}
	if s != nil {
		m.maybeRemove(s)
	}
}

// OnLost is told that a frame the Map sent was lost; what still matters is
// sent again.
func (m *Map) OnLost(f wire.Sent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch f.Type {
	case wire.FrameMaxData:
		m.sendMaxData = true
		m.wake()
		return
	case wire.FrameMaxStreams:
		m.sendMaxStreams = true
		m.wake()
		return
	}
	s := m.streams[f.ID]
	if s == nil {
		return
	}
	switch f.Type {
	case wire.FrameStream:
		s.dataLost(f.Offset, f.Length, f.Fin)
	case wire.FrameMaxStreamData:
		if !s.recv.finKnown && s.recv.err == nil {
			s.recv.updateWanted = true
			m.markCtl(s)
		}
	case wire.FrameStopSending:
		if !s.recvDone() {
			s.recv.stopWanted = true
			m.markCtl(s)
		}
	case wire.FrameResetStream:
		s.send.resetWanted = true
		m.markCtl(s)
	}
}

// maybeRemove forgets s once both its sides are finished; a peer stream
// that goes lets the peer open another (MAX_STREAMS), but only once the
// application has accepted it: until then it waits in the accept queue,
// and a peer that opened, reset and replaced streams faster than the
// application accepts them would otherwise fill the queue without limit.
func (m *Map) maybeRemove(s *Stream) {
	if s.removed || !s.sendDone() || !s.recvDone() {
		return
	}
	s.removed = true
	delete(m.streams, s.id)
	switch {
	case m.isLocal(s.id):
	case s.pending:
		s.owed = true
	default:
		m.grantStream()
	}
}

// grantStream lets the peer open one more stream.
func (m *Map) grantStream() {
	m.maxPeerStreams++
	m.sendMaxStreams = true
	m.wake()
}

// Unacked reports whether any stream still has data or a FIN that the peer
// has not acknowledged: a graceful close waits until it is false.
func (m *Map) Unacked() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams {
		if !s.sendDone() && (s.send.written > s.send.buf.Base() || s.send.finWanted) {
			return true
		}
	}
	return false
}

// CloseAll ends every stream with err, because the connection ended:
// blocked and later calls return it.
func (m *Map) CloseAll(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return
	}
	m.err = err
	for _, s := range m.streams {
		if s.send.err == nil {
			s.send.err = err
		}
		if s.recv.err == nil {
			s.recv.err = err
		}
		s.rcond.Broadcast()
		s.wcond.Broadcast()
	}
	m.ready.reset()
	m.ctl.reset()
	m.openCond.Broadcast()
	m.acceptCond.Broadcast()
}

// Retransmitted returns how many bytes of stream data were sent again.
func (m *Map) Retransmitted() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.retransmitted
}

// Len returns how many streams are open.
func (m *Map) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.streams)
}

// PeerHeld returns how many streams the peer opened that we still hold:
// open, or finished but waiting in the accept queue. It never exceeds
// Config.MaxIncoming.
func (m *Map) PeerHeld() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.streams {
		if !m.isLocal(id) {
			n++
		}
	}
	for _, s := range m.acceptQ {
		if s.removed {
			n++
		}
	}
	return n
}
