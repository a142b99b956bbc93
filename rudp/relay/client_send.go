package relay

import (
	"errors"
	"fmt"
)

// Route asks the relay for a link to peer. The answer comes out of Recv:
// EventRouted with the link's id, or EventRefused; then EventConnected
// once peer has routed to us too, after which Send reaches it. Routing to
// a peer already routed (or being routed) does nothing.
func (c *Client) Route(peer PublicKey) error {
	if peer == c.key.Public {
		return errors.New("relay: cannot route to the client's own key")
	}
	c.mu.Lock()
	_, linked := c.byPeer[peer]
	if linked || c.requested[peer] {
		c.mu.Unlock()
		return nil
	}
	c.requested[peer] = true
	c.mu.Unlock()
	return c.sendControl(TypeRouteRequest, peer[:])
}

// Unroute gives up the link to peer: the relay frees it and, if it was
// online, tells peer (EventDisconnected there). Unrouting a peer that is
// not routed does nothing.
func (c *Client) Unroute(peer PublicKey) error {
	c.mu.Lock()
	if _, ok := c.requested[peer]; ok {
		// The answer is still to come; it is unrouted when it does.
		c.requested[peer] = false
	}
	i, ok := c.byPeer[peer]
	if ok {
		delete(c.byPeer, peer)
		c.links[i] = clientLink{}
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return c.sendControl(TypeDisconnectNotification, []byte{byte(connIDOf(i))})
}

// Connected reports whether the link to peer is online, so that Send
// reaches it.
func (c *Client) Connected(peer PublicKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.byPeer[peer]
	return ok && c.links[i].state == linkOnline
}

// Send queues payload (1 to MaxData bytes) for peer, whose link must be
// online (else ErrNotConnected). It never blocks: when the send queue is
// full the oldest queued packets are dropped (Stats().SendDrops). The
// payload is copied.
func (c *Client) Send(peer PublicKey, payload []byte) error {
	if len(payload) == 0 || len(payload) > MaxData {
		return fmt.Errorf("relay: data payload is %d bytes, want 1 to %d", len(payload), MaxData)
	}
	c.mu.Lock()
	i, ok := c.byPeer[peer]
	online := ok && c.links[i].state == linkOnline
	c.mu.Unlock()
	if !online {
		return ErrNotConnected
	}
	b := getBuf()
	*b = append(append(*b, byte(connIDOf(i))), payload...)
	return c.queue(b, false)
}

// SendOOB queues data (1 to MaxOOB bytes) for the client of the relay
// that announced peer, routed or not. The relay drops it if no such client
// is connected, and says nothing either way. Like Send, it never blocks.
func (c *Client) SendOOB(peer PublicKey, data []byte) error {
	if len(data) == 0 || len(data) > MaxOOB {
		return fmt.Errorf("relay: OOB data is %d bytes, want 1 to %d", len(data), MaxOOB)
	}
	b := getBuf()
	*b = append(append(append(*b, byte(TypeOOBSend)), peer[:]...), data...)
	return c.queue(b, false)
}

// errControlFull: the relay has not read what was sent for a long while.
var errControlFull = errors.New("relay: too many control packets waiting: the relay is not reading")

// sendControl queues a priority packet: the type byte and body.
func (c *Client) sendControl(t Type, body []byte) error {
	b := getBuf()
	*b = append(append(*b, byte(t)), body...)
	return c.queue(b, true)
}

// queue queues b and turns the outcome into an error.
func (c *Client) queue(b *[]byte, priority bool) error {
	switch c.fc.send(b, priority) {
	case overflow:
		return errControlFull
	case closedQ:
		return closedError(c.fc.cause)
	}
	return nil
}
