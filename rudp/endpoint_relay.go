package rudp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/internal/carrier"
	"github.com/pydevts/pydevts/rudp/relay"
)

// Relay names a Tox TCP relay: its address ("host:port") and long-term
// public key.
type Relay struct {
	Addr string
	Key  relay.PublicKey
}

// String returns the relay as ParseRelay reads it.
func (r Relay) String() string { return r.Addr + "/" + r.Key.String() }

// ParseRelay reads "host:port/KEY", KEY being the relay's public key in 64
// hex digits, as `pydevts relay` prints it.
func ParseRelay(s string) (Relay, error) {
	i := strings.LastIndexByte(s, '/')
	if i <= 0 {
		return Relay{}, fmt.Errorf("rudp: relay %q: want ADDR/KEY (host:port/64 hex digits)", s)
	}
	key, err := relay.ParsePublicKey(s[i+1:])
	if err != nil {
		return Relay{}, fmt.Errorf("rudp: relay %q: %w", s, err)
	}
	return Relay{Addr: s[:i], Key: key}, nil
}

// maxRelays bounds Config.Relays.
const maxRelays = 3

// Listen returns a Listener that accepts connections on the paths cfg
// chooses: with network "udp", "udp4" or "udp6", a UDP socket on address
// ("host:port"), plus a TCP listener on the same address and port if
// cfg.TCP, minus the UDP socket if cfg.NoUDP; with network "tcp", "tcp4"
// or "tcp6", the TCP listener alone. Each of cfg.Relays adds a relay the
// listener is reachable through, by the DH key of its identity card. The
// Listener's endpoint can also dial.
//
// Over TCP and relays each packet is a length-prefixed frame, and the
// engine adds no FEC parity.
func Listen(network, address string, cfg *Config) (*Listener, error) {
	c, err := pathConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), relayDialTimeout)
	defer cancel()
	e, err := listenPaths(ctx, network, address, c)
	if err != nil {
		return nil, err
	}
	return &Listener{e: e}, nil
}

// relayDialTimeout bounds Listen's connections to its relays.
const relayDialTimeout = 10 * time.Second

// ListenRelay is Listen on the relay at relayAddr with key relayKey
// alone: no direct path. Peers reach the listener by the DH key of the
// identity card of cfg.Identity (a fresh identity when nil); see
// DialRelay. When the connection to the relay ends, the listener dials
// the relay again, with backoff, until it is closed, and routes again to
// every peer it knew: a connection over the relay survives a relay
// restart if the relay is back within the connection's idle timeout.
func ListenRelay(ctx context.Context, relayAddr string, relayKey relay.PublicKey, cfg *Config) (*Listener, error) {
	c, err := pathConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.NoUDP, c.TCP, c.Relays = true, false, []Relay{{relayAddr, relayKey}}
	e, err := listenPaths(ctx, "udp", "", c)
	if err != nil {
		return nil, err
	}
	return &Listener{e: e}, nil
}

// Dial connects to the peer with identity peer on every path cfg
// chooses, from sockets of its own that close with the connection: with
// network "udp", "udp4" or "udp6", UDP to address ("host:port"), plus TCP
// to the same address if cfg.TCP, minus UDP if cfg.NoUDP; with network
// "tcp", "tcp4" or "tcp6", TCP alone; and through each of cfg.Relays, to
// the peer's card's DH key (the peer must be a client of that relay too:
// Listen with the relay does that). address may be empty when relays
// are the only paths.
//
// The connection starts on whichever path answers first, prefers direct
// UDP, then direct TCP, then a relay, and moves between them as they stop
// and start answering, without losing or resetting anything (see the
// package documentation).
func Dial(ctx context.Context, network, address string, peer handshake.Card, cfg *Config) (*Conn, error) {
	c, err := pathConfig(cfg)
	if err != nil {
		return nil, err
	}
	udp, tcp, err := directPaths(network, &c)
	if err != nil {
		return nil, err
	}
	var cars []carrier.Carrier
	var targets []int // index into cars of each path's carrier
	var addrs []pathAddr
	add := func(car carrier.Carrier, a pathAddr) {
		cars = append(cars, car)
		targets = append(targets, len(cars)-1)
		addrs = append(addrs, a)
	}
	fail := func(err error) (*Conn, error) {
		for _, car := range cars {
			car.Close()
		}
		return nil, err
	}
	if (udp || tcp) && address != "" {
		ap, err := resolve(address)
		if err != nil {
			return nil, err
		}
		if udp {
			local := "0.0.0.0:0"
			if ap.Addr().Is6() {
				local = "[::]:0"
			}
			conn, err := listenUDP(udpNetwork(network), local)
			if err != nil {
				return fail(err)
			}
			add(carrier.NewUDP(conn), pathAddr{addr: ap})
		}
		if tcp {
			add(carrier.DialTCP(), pathAddr{addr: ap})
		}
	}
	rc, err := dialRelays(ctx, c.Relays, &c, len(cars))
	if err != nil {
		return fail(err)
	}
	for i, car := range rc {
		a, err := car.Peer(relay.PublicKey(peer.DH))
		if err != nil {
			for _, car := range rc[i:] {
				car.Close()
			}
			return fail(fmt.Errorf("rudp: %w", err))
		}
		add(car, pathAddr{addr: a})
	}
	if len(cars) == 0 {
		return nil, errors.New("rudp: dial: no path to the peer (no address, or NoUDP without TCP or relays)")
	}
	e, err := newEndpoint(cars, &c, false)
	if err != nil {
		return nil, err
	}
	for i := range addrs {
		addrs[i].link = e.links[targets[i]]
	}
	return dialOwned(ctx, e, addrs, peer)
}

// DialRelay is Dial through the relay at relayAddr with key relayKey
// alone: no direct path.
func DialRelay(ctx context.Context, relayAddr string, relayKey relay.PublicKey, peer handshake.Card, cfg *Config) (*Conn, error) {
	c, err := pathConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.NoUDP, c.TCP, c.Relays = true, false, []Relay{{relayAddr, relayKey}}
	return Dial(ctx, "udp", "", peer, &c)
}

// pathConfig copies cfg, with an identity: the relays need its key before
// the endpoint exists.
func pathConfig(cfg *Config) (Config, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if len(c.Relays) > maxRelays {
		return c, fmt.Errorf("rudp: %d relays, at most %d", len(c.Relays), maxRelays)
	}
	if c.Identity == nil {
		id, err := handshake.NewIdentity()
		if err != nil {
			return c, err
		}
		c.Identity = id
	}
	return c, nil
}

// directPaths says which direct paths network and c ask for.
func directPaths(network string, c *Config) (udp, tcp bool, err error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return false, true, nil
	case "udp", "udp4", "udp6", "":
		return !c.NoUDP, c.TCP, nil
	}
	return false, false, fmt.Errorf("rudp: unknown network %q", network)
}

// udpNetwork and tcpNetwork keep network's address family.
func udpNetwork(network string) string { return "udp" + strings.TrimLeft(network, "udptc") }
func tcpNetwork(network string) string { return "tcp" + strings.TrimLeft(network, "udptc") }

// listenPaths makes the listening endpoint of Listen and ListenRelay.
func listenPaths(ctx context.Context, network, address string, c Config) (*Endpoint, error) {
	udp, tcp, err := directPaths(network, &c)
	if err != nil {
		return nil, err
	}
	var cars []carrier.Carrier
	fail := func(err error) (*Endpoint, error) {
		for _, car := range cars {
			car.Close()
		}
		return nil, err
	}
	tcpAddr := address
	if udp {
		conn, err := listenUDP(udpNetwork(network), address)
		if err != nil {
			return nil, err
		}
		cars = append(cars, carrier.NewUDP(conn))
		tcpAddr = conn.LocalAddr().String() // the same port, also when address asked for any
	}
	if tcp {
		t, err := carrier.ListenTCP(tcpNetwork(network), tcpAddr)
		if err != nil {
			return fail(fmt.Errorf("rudp: %w", err))
		}
		cars = append(cars, t)
	}
	rc, err := dialRelays(ctx, c.Relays, &c, len(cars))
	if err != nil {
		return fail(err)
	}
	for _, car := range rc {
		cars = append(cars, car)
	}
	if len(cars) == 0 {
		return nil, errors.New("rudp: listen: no path (NoUDP without TCP or relays)")
	}
	return newEndpoint(cars, &c, true)
}

// dialRelays connects to each of relays at once, as a client whose key is
// c.Identity's X25519 key, so that peers reach us through them by our
// card's DH key. Each carrier dials its relay again whenever the
// connection to it ends. A relay that cannot be reached now is an error
// only when no path is left (others counts the direct ones): else its
// carrier starts down, dialing in the background, and joins the others
// when it comes up.
func dialRelays(ctx context.Context, relays []Relay, c *Config, others int) ([]*relay.Carrier, error) {
	if len(relays) == 0 {
		return nil, nil
	}
	kp, err := relay.KeyPairFromSecret(c.Identity.DHPrivateKey().Bytes())
	if err != nil {
		return nil, fmt.Errorf("rudp: %w", err)
	}
	cfg := &relay.ClientConfig{Key: kp, QueueBytes: relayQueueBytes}
	ctx, cancel := context.WithTimeout(ctx, relayDialTimeout)
	defer cancel()
	cars := make([]*relay.Carrier, len(relays))
	errs := make([]error, len(relays))
	dial := func(i int) {
		r := relays[i]
		cars[i], errs[i] = relay.DialCarrier(ctx, r.Addr, r.Key, cfg)
		if errs[i] != nil {
			errs[i] = fmt.Errorf("rudp: relay %s: %w", r.Addr, errs[i])
		}
	}
	// The first on this goroutine: a caller that runs in a network
	// namespace of its own (its thread's) reaches its one relay there.
	var wg sync.WaitGroup
	for i := range relays[1:] {
		wg.Go(func() { dial(i + 1) })
	}
	dial(0)
	wg.Wait()
	up := others
	for _, car := range cars {
		if car != nil {
			up++
		}
	}
	if up == 0 {
		return nil, errors.Join(errs...)
	}
	for i, r := range relays {
		if errs[i] == nil {
			continue
		}
		if c.Logger != nil {
			c.Logger.Warn("rudp: relay unreachable; dialing it in the background", "relay", r.Addr, "err", errs[i])
		}
		if cars[i], err = relay.StartCarrier(r.Addr, r.Key, cfg); err != nil {
			for _, car := range cars {
				if car != nil {
					car.Close()
				}
			}
			return nil, fmt.Errorf("rudp: %w", err)
		}
	}
	return cars, nil
}

// relayQueueBytes bounds the packets waiting for the relay connection:
// about a round trip of a fast path, as the TCP carrier's queue, since the
// engine's congestion control, not the queue, should set the pace.
const relayQueueBytes = 1 << 20
