package rudp

import (
	"context"
	"fmt"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/relay"
)

// ListenRelay connects to the Tox TCP relay at relayAddr ("host:port")
// whose long-term public key is relayKey, and returns a Listener that
// accepts connections through it, for networks that block UDP and where
// no direct TCP reaches the peer either. The relay client announces the
// X25519 key of cfg.Identity (a fresh identity when nil), so peers reach
// the listener by the DH key of its identity card (see DialRelay). Over a
// relay the engine adds no FEC parity.
//
// A connection over it uses this relay alone, for its whole life. When
// the connection to the relay ends, the listener (and DialRelay alike)
// dials the relay again, with backoff, until it is closed, and routes
// again to every peer it knew: a connection over the relay survives a
// relay restart if the relay is back within the connection's idle
// timeout.
func ListenRelay(ctx context.Context, relayAddr string, relayKey relay.PublicKey, cfg *Config) (*Listener, error) {
	e, err := relayEndpoint(ctx, relayAddr, relayKey, cfg, true)
	if err != nil {
		return nil, err
	}
	return &Listener{e: e}, nil
}

// DialRelay connects to the peer with identity peer through the Tox TCP
// relay at relayAddr whose public key is relayKey, on a relay carrier of
// its own (dialing the relay again as ListenRelay's does) that closes
// with the connection. The peer must be a client
// of the same relay under the DH key of its card (ListenRelay does that);
// its address on the connection is relay.PeerAddr(peer.DH).
func DialRelay(ctx context.Context, relayAddr string, relayKey relay.PublicKey, peer handshake.Card, cfg *Config) (*Conn, error) {
	e, err := relayEndpoint(ctx, relayAddr, relayKey, cfg, false)
	if err != nil {
		return nil, err
	}
	addr, err := e.carrier.(*relay.Carrier).Peer(relay.PublicKey(peer.DH))
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("rudp: %w", err)
	}
	return dialOwned(ctx, e, addr, peer)
}

// relayEndpoint is an endpoint on a new relay carrier, which dials the
// relay again whenever the connection to it ends, whose client key is the
// identity's X25519 key.
func relayEndpoint(ctx context.Context, relayAddr string, relayKey relay.PublicKey, cfg *Config, accepting bool) (*Endpoint, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Identity == nil {
		id, err := handshake.NewIdentity()
		if err != nil {
			return nil, err
		}
		c.Identity = id
	}
	kp, err := relay.KeyPairFromSecret(c.Identity.DHPrivateKey().Bytes())
	if err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	car, err := relay.DialCarrier(ctx, relayAddr, relayKey, &relay.ClientConfig{Key: kp, QueueBytes: relayQueueBytes})
	if err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	e, err := newEndpoint(car, &c, accepting)
	if err != nil {
		car.Close()
		return nil, err
	}
	return e, nil
}

// relayQueueBytes bounds the packets waiting for the relay connection:
// about a round trip of a fast path, as the TCP carrier's queue, since the
// engine's congestion control, not the queue, should set the pace.
const relayQueueBytes = 1 << 20
