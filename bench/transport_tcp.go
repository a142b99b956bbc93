package bench

import (
	"context"
	"io"
	"net"
	"sync"
	"syscall"
)

// tcpTransport is kernel TCP with its congestion controller pinned per
// socket (this host defaults to BBR, which ignores random loss; CUBIC is
// what most hosts run, so both are rows). The probes use a second
// connection, as an application with a request channel beside a bulk one
// would.
type tcpTransport struct{ cc string }

type tcpServer struct {
	ln    net.Listener
	mu    sync.Mutex // guards conns
	conns map[byte]chan net.Conn
}

func (t tcpTransport) listen(env *env) (server, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		return setCongestion(c, t.cc)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", env.bind)
	if err != nil {
		return nil, err
	}
	s := &tcpServer{ln: ln, conns: map[byte]chan net.Conn{markBulk: make(chan net.Conn, 1), markProbe: make(chan net.Conn, 1), markMessages: make(chan net.Conn, 1)}}
	go s.acceptLoop()
	return s, nil
}

// acceptLoop sorts incoming connections by their first byte.
func (s *tcpServer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			var mark [1]byte
			if _, err := io.ReadFull(c, mark[:]); err != nil {
				c.Close()
				return
			}
			ch := s.conns[mark[0]]
			if ch == nil {
				c.Close()
				return
			}
			select {
			case ch <- c:
			default:
				c.Close()
			}
		}()
	}
}

func (s *tcpServer) info() serverInfo { return serverInfo{Addr: s.ln.Addr().String()} }

func (s *tcpServer) wait(ctx context.Context, mark byte) (net.Conn, error) {
	select {
	case c := <-s.conns[mark]:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *tcpServer) bulk(ctx context.Context) (io.Reader, error) { return s.wait(ctx, markBulk) }

func (s *tcpServer) echo(ctx context.Context) {
	c, err := s.wait(ctx, markProbe)
	if err != nil {
		return
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	echoStream(c)
}

func (s *tcpServer) close() error { return s.ln.Close() }

func (s *tcpServer) recovered() int64 { return -1 }

type tcpClient struct {
	d               net.Dialer
	addr            string
	bulkConn, probe net.Conn
	msgConn         net.Conn // the messages workload's
}

func (t tcpTransport) dial(ctx context.Context, env *env, info serverInfo) (client, error) {
	c := &tcpClient{addr: info.Addr}
	c.d.Control = func(network, address string, rc syscall.RawConn) error {
		return setCongestion(rc, t.cc)
	}
	if env.bind != "" {
		host, _, _ := net.SplitHostPort(env.bind)
		c.d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(host)}
	}
	probe, err := c.conn(ctx, markProbe)
	if err != nil {
		return nil, err
	}
	probe.(*net.TCPConn).SetNoDelay(true) // a probe must not wait for Nagle
	c.probe = probe
	return c, nil
}

// conn opens a connection and marks what it is for.
func (c *tcpClient) conn(ctx context.Context, mark byte) (net.Conn, error) {
	nc, err := c.d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write([]byte{mark}); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

func (c *tcpClient) bulk(ctx context.Context) (io.WriteCloser, error) {
	nc, err := c.conn(ctx, markBulk)
	if err != nil {
		return nil, err
	}
	c.bulkConn = nc
	return nc, nil
}

func (c *tcpClient) ping(ctx context.Context) error { return pingStream(ctx, c.probe) }

func (c *tcpClient) lost() int64 {
	switch {
	case c.bulkConn != nil:
		return totalRetrans(c.bulkConn)
	case c.msgConn != nil:
		return totalRetrans(c.msgConn)
	}
	return -1
}

func (c *tcpClient) close() error {
	for _, nc := range []net.Conn{c.bulkConn, c.msgConn} {
		if nc != nil {
			nc.Close()
		}
	}
	return c.probe.Close()
}
