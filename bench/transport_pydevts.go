package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
)

// pydevtsTransport: the bulk transfer on a stream, the probes as messages
// (request and reply) on the same connection, since messages are the
// channel made for request/response.
type pydevtsTransport struct{}

type pydevtsServer struct {
	ep *rudp.Endpoint
	// The bulk reader and the echo both need the run's one connection:
	// the first to ask accepts it, the other waits for it.
	once     sync.Once
	accepted chan struct{}
	c        *rudp.Conn
	err      error
}

func (pydevtsTransport) listen(env *env) (server, error) {
	ep, err := pydevtsEndpoint(env, nil)
	if err != nil {
		return nil, err
	}
	return &pydevtsServer{ep: ep, accepted: make(chan struct{})}, nil
}

// pydevtsEndpoint makes an endpoint on env's packet conn or a new socket.
func pydevtsEndpoint(env *env, cfg *rudp.Config) (*rudp.Endpoint, error) {
	pc, err := packetConn(env)
	if err != nil {
		return nil, err
	}
	ep, err := rudp.NewEndpoint(pc, cfg)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return ep, nil
}

func (s *pydevtsServer) info() serverInfo { return pydevtsInfo(s.ep) }

// pydevtsInfo tells a client how to reach ep: its address and identity.
func pydevtsInfo(ep *rudp.Endpoint) serverInfo {
	return serverInfo{Addr: ep.Addr().String(), Key: ep.Identity().Card().String()}
}

func (s *pydevtsServer) accept(ctx context.Context) (*rudp.Conn, error) {
	s.once.Do(func() {
		s.c, s.err = s.ep.Accept(ctx)
		close(s.accepted)
	})
	select {
	case <-s.accepted:
		return s.c, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *pydevtsServer) bulk(ctx context.Context) (io.Reader, error) {
	c, err := s.accept(ctx)
	if err != nil {
		return nil, err
	}
	return c.AcceptStream(ctx)
}

func (s *pydevtsServer) echo(ctx context.Context) {
	c, err := s.accept(ctx)
	if err != nil {
		return
	}
	for {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			return
		}
		go c.SendMessage(ctx, m) // replies complete independently
	}
}

func (s *pydevtsServer) close() error { return s.ep.Close() }

func (s *pydevtsServer) recovered() int64 {
	select {
	case <-s.accepted:
		if s.c != nil {
			return int64(s.c.Stats().Recovered)
		}
	default:
	}
	return 0
}

type pydevtsClient struct {
	ep *rudp.Endpoint
	c  *rudp.Conn
}

func (pydevtsTransport) dial(ctx context.Context, env *env, info serverInfo) (client, error) {
	card, err := handshake.ParseCard(info.Key)
	if err != nil {
		return nil, fmt.Errorf("bench: server key: %w", err)
	}
	ep, err := pydevtsEndpoint(env, clientConfig)
	if err != nil {
		return nil, err
	}
	c, err := ep.Dial(ctx, info.Addr, card)
	if err != nil {
		ep.Close()
		return nil, err
	}
	return &pydevtsClient{ep: ep, c: c}, nil
}

func (c *pydevtsClient) bulk(ctx context.Context) (io.WriteCloser, error) {
	s, err := c.c.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return closeWriter{s}, nil
}

func (c *pydevtsClient) ping(ctx context.Context) error { return pydevtsPing(ctx, c.c) }

// pydevtsPing sends a probe message on c and waits for the reply.
func pydevtsPing(ctx context.Context, c *rudp.Conn) error {
	if err := c.SendMessage(ctx, make([]byte, probeSize)); err != nil {
		return err
	}
	_, err := c.ReceiveMessage(ctx)
	return err
}

func (c *pydevtsClient) lost() int64 { return int64(c.c.Stats().PacketsLost) }

// diagnose sums up the connection for a failed probe.
func (c *pydevtsClient) diagnose() string {
	s := c.c.Stats()
	return fmt.Sprintf("sent %d recv %d lost %d dropped %d PTOs %d, rtt %v, cwnd %d in flight %d, %s, path %s, conn err %v",
		s.PacketsSent, s.PacketsReceived, s.PacketsLost, s.PacketsDropped, s.ProbeTimeouts, s.SmoothedRTT,
		s.CongestionWindow, s.BytesInFlight, s.CongestionState, s.Path, c.c.Err())
}

func (c *pydevtsClient) close() error {
	c.c.CloseWithError(0, "")
	return c.ep.Close()
}

// clientConfig lets a handshake take up to 30 s: on the lossiest
// scenarios (30 % each way) attempts fail half the time and retries back
// off, as a user on such a link would allow (TCP retries a SYN for about
// two minutes).
var clientConfig = &rudp.Config{HandshakeTimeout: 30 * time.Second}

// closeWriter makes Close half-close a stream, so the server sees EOF.
type closeWriter struct {
	s interface {
		io.Writer
		CloseWrite() error
	}
}

func (w closeWriter) Write(p []byte) (int, error) { return w.s.Write(p) }
func (w closeWriter) Close() error                { return w.s.CloseWrite() }
