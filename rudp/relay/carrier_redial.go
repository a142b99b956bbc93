package relay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// ErrRelayDown is returned by Carrier.Send while the carrier's connection
// to the relay is down and it is dialing again: the datagrams were
// dropped.
var ErrRelayDown = errors.New("relay: the connection to the relay is down; dialing again")

// errCarrierClosed is returned by Carrier.Send after Close.
var errCarrierClosed = fmt.Errorf("relay: carrier closed: %w", net.ErrClosed)

// Waits between dials of a relay that went away: 250 ms at first, since
// a relay restarting, or a NAT dropping an idle connection, comes back at
// once, and a connection over it should not notice much (the engine's
// keepalive is 5 s); doubling to 30 s, so that a relay that is gone costs
// a TCP connect twice a minute, and 15 s of waits (the engine's default
// idle timeout) hold six dials. Each wait is jittered (see backoff.wait)
// so that the clients of a relay that restarts do not all come back in
// the same instant: a relay keeps at most 256 handshakes (toxcore's
// MAX_INCOMING_CONNECTIONS) and drops the oldest.
//
// A route the relay refused, or that went offline, is requested again
// after the same waits: a relay refuses when all its NumLinks links for us
// are taken, which changes as slowly as connections come and go.
var (
	defaultRedial  = backoff{min: 250 * time.Millisecond, max: 30 * time.Second}
	defaultReroute = backoff{min: 250 * time.Millisecond, max: 30 * time.Second}
)

// carrierStable: a connection to the relay that lasted this long was a
// good one, and the next dial after it ends waits the least again. As long
// as the longest wait, so that a relay that takes a connection and drops
// it again soon (another client announcing the same key pushes ours out)
// is not dialed every 250 ms.
const carrierStable = 30 * time.Second

// redialTimeout bounds one dial, TCP connect and handshake: toxcore's
// TCP_CONNECTION_TIMEOUT, as DefaultHandshakeTimeout. Without it a connect
// to a host that drops SYNs would wait for the kernel to give up, minutes.
const redialTimeout = DefaultHandshakeTimeout

// A backoff is a wait that doubles from min up to max each time it is
// taken, until reset.
type backoff struct {
	min, max time.Duration
	cur      time.Duration // the last wait before jitter; zero: none since reset
}

// wait returns the next wait: between half and all of the current step.
// Half at least, so that the doubling still spaces the tries out;
// math/rand, since nothing about it is secret.
func (b *backoff) wait() time.Duration {
	b.cur = min(max(2*b.cur, b.min), b.max)
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

// DialCarrier connects to the relay at addr ("host:port") whose long-term
// public key is relayKey, as Dial does, and returns a carrier over the
// connection that dials again whenever it ends, until Close (see
// Carrier). ctx bounds the first dial only, whose error DialCarrier
// returns. Every dial announces the same key: cfg.Key, or when it is zero
// a fresh key pair made once.
func DialCarrier(ctx context.Context, addr string, relayKey PublicKey, cfg *ClientConfig) (*Carrier, error) {
	var cc ClientConfig
	if cfg != nil {
		cc = *cfg
	}
	if err := cc.Key.orFresh(); err != nil {
		return nil, err
	}
	return dialCarrier(ctx, func(ctx context.Context) (*Client, error) {
		return Dial(ctx, addr, relayKey, &cc)
	}, defaultRedial)
}

// StartCarrier is DialCarrier without the first dial: the carrier it
// returns is down, and dials the relay at once, and again with backoff
// until a dial succeeds (or Close). It is for a relay that could not be
// reached when it was wanted, among other paths that could: it joins them
// when it comes up. The error is about cfg only.
func StartCarrier(addr string, relayKey PublicKey, cfg *ClientConfig) (*Carrier, error) {
	var cc ClientConfig
	if cfg != nil {
		cc = *cfg
	}
	if err := cc.Key.orFresh(); err != nil {
		return nil, err
	}
	dial := func(ctx context.Context) (*Client, error) {
		return Dial(ctx, addr, relayKey, &cc)
	}
	return newCarrier(nil, &Addr{Relay: addr, Key: cc.Key.Public}, dial, defaultRedial), nil
}

// dialCarrier is DialCarrier with the dial and the waits between dials
// given.
func dialCarrier(ctx context.Context, dial carrierDialFunc, redial backoff) (*Carrier, error) {
	cl, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	return newCarrier(cl, &Addr{Relay: cl.RemoteAddr().String(), Key: cl.PublicKey()}, dial, redial), nil
}

// Up reports whether the carrier is connected to the relay.
func (c *Carrier) Up() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// OnState makes f hear of every change of the carrier's state after the
// call, up or down, in order; nil stops it. f runs on the goroutine that
// dials, which waits for it: it must return quickly (hand the news on to
// a channel without blocking, say). Close is not reported.
func (c *Carrier) OnState(f func(up bool)) {
	c.mu.Lock()
	c.onState = f
	c.mu.Unlock()
}

// run is the carrier's goroutine: it requests routes again when they are
// due, and when the connection cl ends it dials again (or, without a
// dial, marks the carrier down and ends). It alone changes c.cl and c.up
// (besides Close, after it has ended), so the state changes it reports
// come in order.
func (c *Carrier) run(cl *Client) {
	defer c.wg.Done()
	redial := c.redial
	upAt := time.Now()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	if cl == nil {
		// Started down: dial at once, then as after a connection ends.
		if cl = c.redialLoop(&redial, true); cl == nil {
			return
		}
		upAt = time.Now()
	}
	for {
		if next := c.retryRoutes(cl, time.Now()); !next.IsZero() {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		case <-timer.C:
		case <-cl.Done():
			c.setState(cl, false)
			if c.dial == nil {
				return
			}
			cl.Close() // its goroutines are ending; wait for them
			if time.Since(upAt) >= carrierStable {
				redial.reset()
			}
			if cl = c.redialLoop(&redial, false); cl == nil {
				return
			}
			upAt = time.Now()
		}
	}
}

// redialLoop waits and dials until a dial succeeds, and returns the new
// connection with the carrier up over it; nil when Close came first.
// now: the first dial does not wait.
func (c *Carrier) redialLoop(redial *backoff, now bool) *Client {
	wait := time.NewTimer(time.Hour)
	defer wait.Stop()
	for {
		if !now {
			wait.Reset(redial.wait())
			select {
			case <-c.ctx.Done():
				return nil
			case <-wait.C:
			}
		}
		now = false
		ctx, cancel := context.WithTimeout(c.ctx, redialTimeout)
		cl, err := c.dial(ctx)
		cancel()
		if c.ctx.Err() != nil {
			if cl != nil {
				cl.Close()
			}
			return nil
		}
		if err != nil {
			c.dialFailures.Add(1)
			continue
		}
		c.mu.Lock()
		again := !c.lastUp.IsZero() // else StartCarrier's first connection
		c.mu.Unlock()
		if again {
			c.reconnects.Add(1)
		}
		c.setState(cl, true)
		return cl
	}
}

// setState records that the carrier is up over cl, or down (cl being the
// connection that ended), wakes a Recv waiting for it, and tells the
// OnState function. Up again, it routes to every peer, and forgets the
// retries planned on the old connection.
func (c *Carrier) setState(cl *Client, up bool) {
	c.mu.Lock()
	c.cl, c.up = cl, up
	if up {
		c.lastUp = time.Now()
		for _, p := range c.byKey {
			p.retry.reset()
			p.retryAt = time.Time{}
			cl.Route(p.key)
		}
	} else {
		c.lastDown = time.Now()
	}
	close(c.changed)
	c.changed = make(chan struct{})
	f := c.onState
	c.mu.Unlock()
	if f != nil {
		f(up)
	}
}

// planRetry plans to request the route to peer again, after its backoff:
// the relay refused it, or it went offline. Events of a connection that
// has ended (cl is no longer the carrier's) are stale: the new connection
// routed afresh.
func (c *Carrier) planRetry(cl *Client, peer PublicKey) {
	c.mu.Lock()
	p := c.byKey[peer]
	plan := p != nil && c.cl == cl && p.retryAt.IsZero()
	if plan {
		p.retryAt = time.Now().Add(p.retry.wait())
	}
	c.mu.Unlock()
	if plan {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// routeOnline notes that the link to peer is online: its next retry, if it
// needs one, waits the least again.
func (c *Carrier) routeOnline(peer PublicKey) {
	c.mu.Lock()
	if p := c.byKey[peer]; p != nil {
		p.retry.reset()
		p.retryAt = time.Time{}
	}
	c.mu.Unlock()
}

// retryRoutes requests again, on cl, every route that is due and not
// online by now, and returns when the next one is due (zero: none). A
// new request starts from scratch: toxcore's relay keeps a link whose
// peer left as registered, but a relay that freed it, or a request
// answered after the peer was unrouted, would leave the route stuck; and
// unrouting a link the client does not hold sends nothing.
func (c *Carrier) retryRoutes(cl *Client, now time.Time) (next time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up || c.cl != cl {
		return time.Time{}
	}
	for _, p := range c.byKey {
		switch {
		case p.retryAt.IsZero():
		case now.Before(p.retryAt):
			if next.IsZero() || p.retryAt.Before(next) {
				next = p.retryAt
			}
		default:
			p.retryAt = time.Time{}
			if !cl.Connected(p.key) {
				cl.Unroute(p.key)
				cl.Route(p.key)
				c.routeRetries.Add(1)
			}
		}
	}
	return next
}
