package relay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// An EventKind says what an Event reports.
type EventKind uint8

// The events a Client reports.
const (
	// EventRouted: the relay gave the route to Peer the link ID. Data flows
	// once Peer routes to us too (EventConnected).
	EventRouted EventKind = iota + 1
	// EventRefused: the relay refused the route to Peer (all NumLinks
	// links in use).
	EventRefused
	// EventConnected: Peer has routed to us too; Send reaches it.
	EventConnected
	// EventDisconnected: Peer unrouted us or left the relay. The link
	// stays routed and comes back (EventConnected) when Peer routes again.
	EventDisconnected
	// EventData: Data from Peer.
	EventData
	// EventOOB: OOB data from the client that announced Peer.
	EventOOB
)

var eventNames = [...]string{"", "routed", "refused", "connected", "disconnected", "data", "OOB"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k > 0 {
		return eventNames[k]
	}
	return "unknown event"
}

// An Event is something that came from the relay.
type Event struct {
	Kind EventKind
	Peer PublicKey
	ID   ConnID // the link's id: EventRouted, EventConnected, EventDisconnected, EventData
	// Data is the payload of EventData and EventOOB. It is valid until the
	// next call to Recv.
	Data []byte
}

// Recv waits until at least one event is there, then fills evs with as
// many as there are (up to len(evs)) and returns how many. Once the
// connection has ended and every event has been received, it returns an
// error wrapping net.ErrClosed; it returns ctx's error if ctx ends first.
// One goroutine at a time may call Recv.
func (c *Client) Recv(ctx context.Context, evs []Event) (int, error) {
	for {
		n, ok := c.in.take(evs)
		if ok {
			return n, nil
		}
		select {
		case <-c.in.wake:
		case <-c.fc.done:
			if n, ok := c.in.take(evs); ok {
				return n, nil
			}
			return 0, c.Err()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// An inbox is the queue of events between the reader goroutine and Recv.
type inbox struct {
	mu    sync.Mutex // guards q and lent
	q     []queuedEvent
	lent  []*[]byte // buffers of the events Recv returned last
	max   int
	wake  chan struct{}
	drops atomic.Uint64
}

type queuedEvent struct {
	ev  Event
	buf *[]byte // holds ev.Data
}

func (in *inbox) init(max int) {
	in.max = max
	in.wake = make(chan struct{}, 1)
}

// put queues an event whose Data, if any, is copied. Data and OOB events
// are dropped when max events wait; link events only past twice that,
// since losing one leaves the user with a wrong idea of a link.
func (in *inbox) put(ev Event) {
	in.mu.Lock()
	limit := in.max
	if ev.Kind != EventData && ev.Kind != EventOOB {
		limit *= 2
	}
	if len(in.q) >= limit {
		in.mu.Unlock()
		in.drops.Add(1)
		return
	}
	var buf *[]byte
	if ev.Data != nil {
		buf = getBuf()
		*buf = append(*buf, ev.Data...)
		ev.Data = *buf
	}
	in.q = append(in.q, queuedEvent{ev, buf})
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// take returns the buffers lent by the previous take to the pool, then
// moves up to len(evs) events to evs; ok is false when none was there.
func (in *inbox) take(evs []Event) (n int, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, b := range in.lent {
		putBuf(b)
	}
	clear(in.lent)
	in.lent = in.lent[:0]
	n = min(len(evs), len(in.q))
	for i := range n {
		evs[i] = in.q[i].ev
		if b := in.q[i].buf; b != nil {
			in.lent = append(in.lent, b)
		}
	}
	rest := copy(in.q, in.q[n:])
	clear(in.q[rest:])
	in.q = in.q[:rest]
	if rest > 0 {
		select {
		case in.wake <- struct{}{}:
		default:
		}
	}
	return n, n > 0
}

// readLoop is the client's reader goroutine.
func (c *Client) readLoop() {
	for {
		b, err := c.fc.readPacket()
		if err == nil {
			err = c.handle(b)
		}
		if err != nil {
			c.png.stop()
			c.fc.close(err)
			return
		}
	}
}

// handle acts on one packet from the relay.
func (c *Client) handle(b []byte) error {
	p, err := ParsePacket(b)
	if err != nil {
		return err
	}
	switch p.Type {
	case TypeRouteResponse:
		c.routed(p.ConnID, p.Key)
	case TypeConnectNotification, TypeDisconnectNotification:
		c.linkChanged(p.Type, p.ConnID)
	case TypePingRequest:
		if p.PingID.IsZero() {
			return errors.New("relay: the relay sent a ping with id 0")
		}
		if err := c.sendControl(TypePongResponse, p.PingID[:]); err != nil {
			return err
		}
		c.pingsAnswered.Add(1)
	case TypePongResponse:
		if p.PingID.IsZero() {
			return errors.New("relay: the relay sent a pong with id 0")
		}
		if !c.png.pong(p.PingID) {
			c.ignored.Add(1)
		}
	case TypeOOBReceive:
		c.in.put(Event{Kind: EventOOB, Peer: p.Key, Data: p.Payload})
	case TypeData:
		c.mu.Lock()
		l := c.links[p.ConnID.index()]
		c.mu.Unlock()
		if l.state != linkOnline {
			c.ignored.Add(1)
			return nil
		}
		c.in.put(Event{Kind: EventData, Peer: l.peer, ID: p.ConnID, Data: p.Payload})
	case TypeOnionResponse, TypeForwarding:
		c.ignored.Add(1) // never asked for, harmless
	default:
		return errors.New("relay: the relay sent a " + p.Type.String() + ", which only clients send")
	}
	return nil
}

// routed handles a RouteResponse.
func (c *Client) routed(id ConnID, peer PublicKey) {
	c.mu.Lock()
	want, asked := c.requested[peer]
	delete(c.requested, peer)
	if !asked {
		c.mu.Unlock()
		c.ignored.Add(1)
		return
	}
	switch {
	case id == 0:
		c.mu.Unlock()
		if want {
			c.in.put(Event{Kind: EventRefused, Peer: peer})
		}
		return
	case !want:
		// Unrouted before the answer came: give the link back.
		c.mu.Unlock()
		c.sendControl(TypeDisconnectNotification, []byte{byte(id)})
		return
	case c.links[id.index()].state != linkFree:
		// toxcore ignores a response for a link in use; the route is lost.
		c.mu.Unlock()
		c.ignored.Add(1)
		c.in.put(Event{Kind: EventRefused, Peer: peer})
		return
	}
	c.links[id.index()] = clientLink{state: linkRegistered, peer: peer}
	c.byPeer[peer] = id.index()
	c.mu.Unlock()
	c.in.put(Event{Kind: EventRouted, Peer: peer, ID: id})
}

// linkChanged handles a Connect- or DisconnectNotification.
func (c *Client) linkChanged(t Type, id ConnID) {
	c.mu.Lock()
	l := &c.links[id.index()]
	from, to, kind := linkRegistered, linkOnline, EventConnected
	if t == TypeDisconnectNotification {
		from, to, kind = linkOnline, linkRegistered, EventDisconnected
	}
	if l.state != from {
		c.mu.Unlock()
		c.ignored.Add(1)
		return
	}
	l.state = to
	peer := l.peer
	c.mu.Unlock()
	c.in.put(Event{Kind: kind, Peer: peer, ID: id})
}
