package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
	"github.com/quic-go/quic-go"
)

// An idleTransport holds many connections between one client endpoint and
// one server endpoint, for the idle workload. Only the UDP transports
// have one: kernel TCP keeps its connections in the kernel, where the
// process's CPU and memory do not show them.
type idleTransport interface {
	listen(env *env) (idleListener, error)
	dialer(env *env) (idleDialer, error)
}

type idleListener interface {
	info() serverInfo
	accept(ctx context.Context) (idleConn, error)
	close() error
}

type idleDialer interface {
	dial(ctx context.Context, info serverInfo) (idleConn, error)
	close() error
}

// An idleConn is one connection of an idle run. Either side can prove it
// alive: ping sends a probe and waits for it back, answer waits for the
// peer's probe and sends it back.
type idleConn interface {
	ping(ctx context.Context) error
	answer(ctx context.Context) error
	// packets is how many packets the connection has sent and received.
	packets() int64
	// wait returns when the connection has ended or ctx has.
	wait(ctx context.Context)
	close()
}

func idleTransportFor(name string) (idleTransport, error) {
	switch name {
	case "pydevts":
		return pydevtsIdle{}, nil
	case "quic-go":
		return quicIdle{}, nil
	}
	return nil, fmt.Errorf("bench: transport %q has no idle workload (pydevts and quic-go have)", name)
}

// pydevtsIdle: connections with rudp's default configuration, so with its
// default keepalive; the probes are messages.
type pydevtsIdle struct{}

type pydevtsIdleEndpoint struct{ ep *rudp.Endpoint }

type pydevtsIdleConn struct{ c *rudp.Conn }

func (pydevtsIdle) listen(env *env) (idleListener, error) {
	ep, err := pydevtsEndpoint(env, nil)
	return pydevtsIdleEndpoint{ep}, err
}

func (pydevtsIdle) dialer(env *env) (idleDialer, error) {
	ep, err := pydevtsEndpoint(env, clientConfig)
	return pydevtsIdleEndpoint{ep}, err
}

func (e pydevtsIdleEndpoint) info() serverInfo { return pydevtsInfo(e.ep) }

func (e pydevtsIdleEndpoint) accept(ctx context.Context) (idleConn, error) {
	c, err := e.ep.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return pydevtsIdleConn{c}, nil
}

func (e pydevtsIdleEndpoint) dial(ctx context.Context, info serverInfo) (idleConn, error) {
	card, err := handshake.ParseCard(info.Key)
	if err != nil {
		return nil, fmt.Errorf("bench: server key: %w", err)
	}
	c, err := e.ep.Dial(ctx, info.Addr, card)
	if err != nil {
		return nil, err
	}
	return pydevtsIdleConn{c}, nil
}

func (e pydevtsIdleEndpoint) close() error { return e.ep.Close() }

func (c pydevtsIdleConn) ping(ctx context.Context) error { return pydevtsPing(ctx, c.c) }

func (c pydevtsIdleConn) answer(ctx context.Context) error {
	m, err := c.c.ReceiveMessage(ctx)
	if err != nil {
		return err
	}
	return c.c.SendMessage(ctx, m)
}

func (c pydevtsIdleConn) packets() int64 {
	st := c.c.Stats()
	return int64(st.PacketsSent + st.PacketsReceived)
}

func (c pydevtsIdleConn) wait(ctx context.Context) {
	select {
	case <-c.c.Done():
	case <-ctx.Done():
	}
}

func (c pydevtsIdleConn) close() { c.c.CloseWithError(0, "") }

// quicIdle: quic-go with keepalives, which it does not send by default,
// at pydevts's default timing (rudp.Config: IdleTimeout 15 s, KeepAlive a
// third of it), so both keep their connections up the same way. Each
// probe is a stream of its own, finished both ways so that quic-go
// forgets it.
type quicIdle struct{}

var quicIdleConfig = &quic.Config{MaxIdleTimeout: 15 * time.Second, KeepAlivePeriod: 5 * time.Second}

type quicIdleListener struct {
	tr *quic.Transport
	ln *quic.Listener
}

type quicIdleDialer struct{ tr *quic.Transport }

type quicIdleConn struct{ c *quic.Conn }

func (quicIdle) listen(env *env) (idleListener, error) {
	tr, ln, err := quicListen(env, quicIdleConfig)
	return quicIdleListener{tr, ln}, err
}

func (quicIdle) dialer(env *env) (idleDialer, error) {
	tr, err := quicEndpoint(env)
	return quicIdleDialer{tr}, err
}

func (l quicIdleListener) info() serverInfo { return serverInfo{Addr: l.tr.Conn.LocalAddr().String()} }

func (l quicIdleListener) accept(ctx context.Context) (idleConn, error) {
	c, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, err
	}
	return quicIdleConn{c}, nil
}

func (l quicIdleListener) close() error {
	l.ln.Close()
	return l.tr.Close()
}

func (d quicIdleDialer) dial(ctx context.Context, info serverInfo) (idleConn, error) {
	addr, err := net.ResolveUDPAddr("udp", info.Addr)
	if err != nil {
		return nil, err
	}
	c, err := d.tr.Dial(ctx, addr, quicClientTLS, quicIdleConfig)
	if err != nil {
		return nil, err
	}
	return quicIdleConn{c}, nil
}

func (d quicIdleDialer) close() error { return d.tr.Close() }

func (c quicIdleConn) ping(ctx context.Context) error {
	st, err := c.c.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		st.SetDeadline(d)
	}
	if _, err := st.Write(make([]byte, probeSize)); err != nil {
		return err
	}
	st.Close()
	return readProbe(st)
}

func (c quicIdleConn) answer(ctx context.Context) error {
	st, err := c.c.AcceptStream(ctx)
	if err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		st.SetDeadline(d)
	}
	if err := readProbe(st); err != nil {
		return err
	}
	if _, err := st.Write(make([]byte, probeSize)); err != nil {
		return err
	}
	return st.Close()
}

// readProbe reads one probe and the end of the stream after it.
func readProbe(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, probeSize+1))
	if err == nil && len(b) != probeSize {
		err = fmt.Errorf("bench: a probe of %d bytes, want %d", len(b), probeSize)
	}
	return err
}

func (c quicIdleConn) packets() int64 {
	st := c.c.ConnectionStats()
	return int64(st.PacketsSent + st.PacketsReceived)
}

func (c quicIdleConn) wait(ctx context.Context) {
	select {
	case <-c.c.Context().Done():
	case <-ctx.Done():
	}
}

func (c quicIdleConn) close() { c.c.CloseWithError(0, "") }
