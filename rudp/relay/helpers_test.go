package relay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// patience bounds every wait in these tests. It is a safety net against a
// hang, never a performance threshold: each wait ends as soon as what it
// waits for happens.
const patience = 20 * time.Second

// startServer runs a server on 127.0.0.1, closed when the test ends.
func startServer(t testing.TB, cfg *Config) (*Server, string) {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v, want net.ErrClosed", err)
		}
	})
	return s, l.Addr().String()
}

// A dialFunc connects a client to the relay under test.
type dialFunc func(ctx context.Context, cfg *ClientConfig) (*Client, error)

func tcpDialer(addr string, relay PublicKey) dialFunc {
	return func(ctx context.Context, cfg *ClientConfig) (*Client, error) {
		return Dial(ctx, addr, relay, cfg)
	}
}

// A testClient is a Client with the events it has received but a test has
// not looked at yet.
type testClient struct {
	*Client
	t      testing.TB
	events []Event // Data copied
}

func newTestClient(t testing.TB, dial dialFunc, cfg *ClientConfig) *testClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, err := dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testClient{Client: c, t: t}
}

// fill receives one batch of events, waiting at most until deadline.
func (c *testClient) fill(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var evs [16]Event
	n, err := c.Recv(ctx, evs[:])
	for _, ev := range evs[:n] {
		ev.Data = bytes.Clone(ev.Data)
		c.events = append(c.events, ev)
	}
	return err
}

// expect returns the first event of kind from peer, leaving the others
// queued; it fails the test if none comes.
func (c *testClient) expect(kind EventKind, peer PublicKey) Event {
	c.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		for i, ev := range c.events {
			if ev.Kind == kind && ev.Peer == peer {
				c.events = append(c.events[:i], c.events[i+1:]...)
				return ev
			}
		}
		if err := c.fill(deadline); err != nil {
			c.t.Fatalf("client %.8s waiting for %s from %.8s: %v (have %v)", c.PublicKey(), kind, peer, err, c.events)
		}
	}
}

// connect routes a and b to each other and waits until both are online;
// it returns a's id for b and b's for a.
func connect(t testing.TB, a, b *testClient) (ConnID, ConnID) {
	t.Helper()
	if err := a.Route(b.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := b.Route(a.PublicKey()); err != nil {
		t.Fatal(err)
	}
	ida := a.expect(EventRouted, b.PublicKey()).ID
	idb := b.expect(EventRouted, a.PublicKey()).ID
	if got := a.expect(EventConnected, b.PublicKey()).ID; got != ida {
		t.Fatalf("connected on id %d, routed on %d", got, ida)
	}
	if got := b.expect(EventConnected, a.PublicKey()).ID; got != idb {
		t.Fatalf("connected on id %d, routed on %d", got, idb)
	}
	return ida, idb
}

// waitFor polls cond until it holds; the test fails if it never does.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A rawConn is a hand-driven relay connection: it does the handshake and
// then sends and reads whatever packets a test wants, right or wrong.
type rawConn struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	sess *Session
	key  KeyPair
	buf  [MaxCiphertext]byte
}

func dialRaw(t testing.TB, addr string, relay PublicKey) *rawConn {
	t.Helper()
	kp, err := NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	r, err := dialRawKey(addr, relay, kp)
	if err != nil {
		t.Fatal(err)
	}
	r.t = t
	t.Cleanup(func() { r.nc.Close() })
	return r
}

// dialRawKey connects and runs the handshake, without sending a packet
// yet (the connection is UNCONFIRMED at the server).
func dialRawKey(addr string, relay PublicKey, kp KeyPair) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, patience)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(patience))
	h, hello, err := NewClientHandshake(kp, relay, rand.Reader)
	if err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	var reply [ServerHelloSize]byte
	if _, err = nc.Write(hello); err == nil {
		_, err = io.ReadFull(br, reply[:])
	}
	var sess *Session
	if err == nil {
		sess, err = h.Finish(reply[:])
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("raw handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return &rawConn{nc: nc, br: br, sess: sess, key: kp}, nil
}

// send seals and writes packets, each a plaintext.
func (r *rawConn) send(pkts ...[]byte) error {
	var out []byte
	for _, p := range pkts {
		var err error
		if out, err = r.sess.SealFrame(out, p); err != nil {
			return err
		}
	}
	_, err := r.nc.Write(out)
	return err
}

func (r *rawConn) mustSend(pkts ...[]byte) {
	r.t.Helper()
	if err := r.send(pkts...); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next packet's plaintext.
func (r *rawConn) read() ([]byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(patience))
	ct, err := ReadFrame(r.br, r.buf[:])
	if err != nil {
		return nil, err
	}
	return r.sess.OpenFrame(nil, ct)
}

// expect reads until a packet of type t comes, and returns it.
func (r *rawConn) expect(t Type) Packet {
	r.t.Helper()
	for {
		b, err := r.read()
		if err != nil {
			r.t.Fatalf("waiting for a %s: %v", t, err)
		}
		p, err := ParsePacket(b)
		if err != nil {
			r.t.Fatalf("server sent a bad packet %x: %v", b, err)
		}
		if p.Type == t {
			return p
		}
	}
}

// expectClosed reads until the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	for {
		if _, err := r.read(); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return
			}
			r.t.Fatalf("waiting for the server to close: %v", err)
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// ping sends a ping and waits for its pong: proof the connection is
// served.
func (r *rawConn) ping() {
	r.t.Helper()
	id := newPingID()
	r.mustSend(append([]byte{byte(TypePingRequest)}, id[:]...))
	for {
		p := r.expect(TypePongResponse)
		if p.PingID == id {
			return
		}
	}
}
