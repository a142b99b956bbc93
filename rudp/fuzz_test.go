package rudp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/carrier"
)

// sinkCarrier is a carrier that drops what is sent and receives nothing
// until closed: for driving a connection by hand.
type sinkCarrier struct {
	closed chan struct{}
	sent   int
}

func newSink() *sinkCarrier { return &sinkCarrier{closed: make(chan struct{})} }

func (s *sinkCarrier) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	<-s.closed
	return 0, net.ErrClosed
}
func (s *sinkCarrier) Send(bufs [][]byte, addr netip.AddrPort) error { s.sent += len(bufs); return nil }
func (s *sinkCarrier) MaxDatagram() int                              { return 65507 }
func (s *sinkCarrier) Reliable() bool                                { return false }
func (s *sinkCarrier) LocalAddr() net.Addr                           { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (s *sinkCarrier) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	return nil
}

// handDriven is a responder connection driven by hand, without its loop,
// and the session of its peer, to make packets it accepts.
type handDriven struct {
	e    *Endpoint
	c    *Conn
	peer *handshake.Session
	pn   uint64
	now  time.Time
}

var peerAddr = netip.MustParseAddrPort("127.0.0.2:2")

func newHandDriven(t testing.TB) *handDriven {
	e, err := newEndpoint([]carrier.Carrier{newSink()}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	peerID, _ := handshake.NewIdentity()
	ini, err := handshake.NewInitiator(handshake.InitiatorConfig{Identity: peerID, Peer: e.Identity().Card(), LocalID: 7, Params: e.cfg.transportParams().encode()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m1, _ := ini.Initiation(now)
	init, _, err := e.responder.ConsumeInitiation(m1, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	m2, est, _ := init.Respond(9, now)
	peerEst, err := ini.ConsumeResponse(m2, now)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newConn(e, false, 9, []pathAddr{{e.links[0], peerAddr}})
	if err := c.establish(est, now); err != nil {
		t.Fatal(err)
	}
	c.confirmed = true // as if the first packet had come; nothing waits in Accept
	return &handDriven{e: e, c: c, peer: peerEst.Session, now: now}
}

// deliver seals payload as the peer's next packet and hands it to the
// connection, then lets it act on timers and send.
func (h *handDriven) deliver(payload []byte) { h.deliverSealed(h.seal(payload)) }

// seal seals payload as the peer's next packet.
func (h *handDriven) seal(payload []byte) []byte {
	hdr := wire.AppendHeader(nil, wire.Header{KeyPhase: h.peer.Send.Phase(h.now), ConnID: 9, PN: h.pn})
	h.pn++
	return h.peer.Send.Seal(hdr, payload, h.pn-1, hdr)
}

// deliverSealed hands a sealed packet to the connection, then lets it act
// on timers and send.
func (h *handDriven) deliverSealed(pkt []byte) {
	h.now = h.now.Add(time.Millisecond)
	buf := h.e.getBuf()
	n := copy(*buf, pkt)
	h.c.now = h.now
	h.c.handleInbound(inbound{buf: buf, n: n, from: peerAddr, link: h.e.links[0]})
	if h.c.state == stateOpen {
		h.c.onTimers(h.now)
		h.c.flush(h.now)
	}
}

func (h *handDriven) close() {
	h.c.end(net.ErrClosed)
	close(h.e.done)
	h.e.carrier.Close()
	h.e.workers.Wait()
}

// FuzzAuthenticatedFrames feeds arbitrary frame sequences to a connection
// from a peer that holds the session keys, so they get past the AEAD and
// reach the stream, message and loss-recovery code. Nothing may panic; a
// violation closes the connection, which is then no longer open.
func FuzzAuthenticatedFrames(f *testing.F) {
	seeds := [][]byte{
		wire.AppendPing(nil),
		wire.AppendStream(nil, 0, 0, []byte("hello"), true, true),
		wire.AppendStream(wire.AppendStream(nil, 0, 5, []byte("world"), false, true), 4, 0, nil, true, false),
		wire.AppendMessage(nil, 0, 0, 5, 0, []byte("hello")),
		wire.AppendMessage(wire.AppendAbandon(nil, 1, 5, 10), 2, 15, 3, 0, []byte("abc")),
		wire.AppendAck(nil, []wire.AckRange{{Smallest: 0, Largest: 0}}, time.Millisecond),
		wire.AppendRequest(nil, []wire.AckRange{{Smallest: 0, Largest: 3}}),
		wire.AppendMax(wire.AppendMaxStreamData(nil, 0, 1<<30), wire.FrameMaxData, 1<<40),
		wire.AppendResetStream(wire.AppendStopSending(nil, 0, 3), 0, 4, 100),
		wire.AppendClose(nil, 7, "bye"),
		{0xff, 0x00},
		wire.AppendStream(wire.AppendFECData(nil, 0, 0), 0, 0, []byte("hello"), true, true),
		parityFor(1, wire.AppendStream(wire.AppendFECData(nil, 0, 0), 0, 0, []byte("hello"), true, true)),
		wire.AppendFECReport(wire.AppendAck(nil, []wire.AckRange{{Smallest: 0, Largest: 0}}, 0), 3),
	}
	for _, s := range seeds {
		f.Add(s, []byte{})
	}
	f.Add(seeds[1], seeds[3])
	f.Fuzz(func(t *testing.T, first, second []byte) {
		h := newHandDriven(t)
		defer h.close()
		for _, p := range [][]byte{first, second} {
			if h.c.state != stateOpen {
				break
			}
			h.deliver(p)
		}
		if h.c.state == stateOpen && h.c.streams.PeerHeld() > int(h.e.cfg.transportParams().streams.MaxStreams) {
			t.Fatalf("%d of the peer's streams held past the limit", h.c.streams.PeerHeld())
		}
	})
}

// FuzzDispatch throws arbitrary datagrams at an endpoint's demultiplexer.
func FuzzDispatch(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{1, 1, 0, 0})
	f.Add([]byte{})
	h := newHandDriven(f)
	defer h.close()
	h.e.conns[9] = h.c
	f.Fuzz(func(t *testing.T, b []byte) {
		buf := h.e.getBuf()
		n := copy(*buf, b)
		if h.e.dispatch(inbound{buf: buf, n: n, from: peerAddr, link: h.e.links[0]}) {
			// The buffer went to the connection's queue or the handshake
			// queue; take it back out so the queues never fill.
			select {
			case in := <-h.e.hsQ:
				h.e.answer(in)
				h.e.putBuf(in.buf)
			default:
				h.c.handleQueued()
			}
		}
	})
}
