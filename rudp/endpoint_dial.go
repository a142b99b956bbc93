package rudp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/relay"
)

// Dial connects to the peer with identity peer at addr ("host:port")
// through this endpoint. ctx bounds the whole handshake, as does the
// configured HandshakeTimeout.
func (e *Endpoint) Dial(ctx context.Context, addr string, peer handshake.Card) (*Conn, error) {
	ap, err := resolve(addr)
	if err != nil {
		return nil, err
	}
	return e.dialAddr(ctx, ap, peer)
}

// DialAll connects to peer on every path of the endpoint: its UDP socket
// and its TCP carrier to addr ("host:port"; empty: no direct path), and
// each of its relays to the DH key of peer's card, as Dial does with
// fresh sockets (see the package's Dial). A node that listens and dials
// uses it to keep one UDP port and one client per relay: a second relay
// client under the same key would push the first one out of the relay.
func (e *Endpoint) DialAll(ctx context.Context, addr string, peer handshake.Card) (*Conn, error) {
	var paths []pathAddr
	var ap netip.AddrPort
	if addr != "" {
		var err error
		if ap, err = resolve(addr); err != nil {
			return nil, err
		}
	}
	for _, l := range e.links {
		switch l.kind {
		case pathRelay:
			a, err := l.c.(*relay.Carrier).Peer(relay.PublicKey(peer.DH))
			if err != nil {
				return nil, fmt.Errorf("rudp: %w", err)
			}
			paths = append(paths, pathAddr{l, a})
		default:
			if addr != "" {
				paths = append(paths, pathAddr{l, ap})
			}
		}
	}
	if len(paths) == 0 {
		return nil, errors.New("rudp: dial: no path to the peer (no address, and no relays)")
	}
	return e.dialPaths(ctx, paths, peer)
}

func resolve(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("rudp: %w", err)
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func (e *Endpoint) dialAddr(ctx context.Context, addr netip.AddrPort, peer handshake.Card) (*Conn, error) {
	return e.dialPaths(ctx, []pathAddr{{e.links[0], addr}}, peer)
}

// dialPaths dials peer on each of paths at once (at least one); the
// connection starts on the first to answer.
func (e *Endpoint) dialPaths(ctx context.Context, paths []pathAddr, peer handshake.Card) (*Conn, error) {
	addr := paths[0].addr
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return nil, fmt.Errorf("rudp: dial: %w", net.ErrClosed)
	}
	if len(e.conns) >= e.cfg.MaxConnections {
		e.mu.Unlock()
		return nil, fmt.Errorf("rudp: dial %v: %w (%d)", addr, ErrMaxConnections, e.cfg.MaxConnections)
	}
	id := e.newConnID()
	c, err := newConn(e, true, id, paths)
	if err == nil {
		c.ini, err = handshake.NewInitiator(handshake.InitiatorConfig{
			Identity: e.cfg.Identity, Peer: peer, LocalID: id, Params: e.cfg.transportParams().encode(),
		})
	}
	if err != nil {
		e.mu.Unlock()
		return nil, fmt.Errorf("rudp: dial %v: %w", addr, err)
	}
	e.conns[id] = c
	e.loops.Add(1)
	e.mu.Unlock()
	c.start()
	if err := c.waitEstablished(ctx); err != nil {
		return nil, fmt.Errorf("rudp: dial %v: %w", addr, err)
	}
	return c, nil
}

// waitEstablished waits until the handshake of c, a dial, completes, and
// returns why not if it did not. A connection that was established and
// has already ended (the peer accepted it and closed it at once) counts
// as established, as a TCP connection the server closes at once does:
// its end shows on first use. Left to select's random choice, which of
// the two came first would decide.
func (c *Conn) waitEstablished(ctx context.Context) error {
	select {
	case <-c.established:
		return nil
	case <-c.done:
		select {
		case <-c.established:
			return nil
		default:
		}
		return c.err
	case <-ctx.Done():
		c.abort(ctx.Err())
		<-c.done
		return ctx.Err()
	}
}

// dialOwned dials peer on paths through e, an endpoint of the
// connection's own: it closes with the connection, or now if the dial
// fails.
func dialOwned(ctx context.Context, e *Endpoint, paths []pathAddr, peer handshake.Card) (*Conn, error) {
	c, err := e.dialPaths(ctx, paths, peer)
	if err != nil {
		e.Close()
		return nil, err
	}
	c.ownsEndpoint.Store(true)
	select {
	case <-c.done: // ended before it owned the endpoint: finish could not close it
		go e.Close()
	default:
	}
	return c, nil
}
