package relay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// pipeListener is an in-memory net.Listener over net.Pipe, so that fuzzing
// does not run through thousands of loopback ports.
type pipeListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, error) {
	c1, c2 := net.Pipe()
	select {
	case l.ch <- c2:
		return c1, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// FuzzServer feeds a running server arbitrary bytes, before the handshake
// (mode byte even) or as packets after it (odd: the input is split into
// packets by 2-byte lengths and each is sealed properly, so the fuzzer
// explores the packet handlers, not the MAC). After each input the
// server must still serve two good clients, which exchange a packet.
func FuzzServer(f *testing.F) {
	s, err := NewServer(&Config{Key: fixedKey(f, 2)})
	if err != nil {
		f.Fatal(err)
	}
	l := newPipeListener()
	go s.Serve(l)
	f.Cleanup(func() { s.Close() })
	dial := func(ctx context.Context, cfg *ClientConfig) (*Client, error) {
		nc, err := l.dial()
		if err != nil {
			return nil, err
		}
		return NewClient(ctx, nc, s.PublicKey(), cfg)
	}
	// Fixed keys, so that seeds naming them mean the same in every worker.
	a := newTestClient(f, dial, &ClientConfig{Key: fixedKey(f, 3)})
	b := newTestClient(f, dial, &ClientConfig{Key: fixedKey(f, 4)})
	ida, _ := connect(f, a, b)
	ak, bk := a.PublicKey(), b.PublicKey()

	chunk := func(pkts ...[]byte) []byte {
		out := []byte{1}
		for _, p := range pkts {
			out = binary.BigEndian.AppendUint16(out, uint16(len(p)))
			out = append(out, p...)
		}
		return out
	}
	f.Add([]byte{0, 1, 2, 3})
	f.Add(append([]byte{0}, make([]byte, 200)...))
	f.Add(chunk(packet(TypeRouteRequest, ak[:]), packet(TypeData+4, []byte("x"))))
	f.Add(chunk(packet(TypeOOBSend, bk[:], []byte("hello")), packet(TypePingRequest, make([]byte, 8))))
	f.Add(chunk(packet(TypeRouteRequest, bk[:]), packet(TypeDisconnectNotification, []byte{16}), packet(12)))
	f.Add(chunk(packet(Type(ida), []byte("y")), packet(TypeOnionRequest, make([]byte, 300))))

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		a.t, b.t = t, t
		nc, err := l.dial()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if in[0]%2 == 0 {
			go io.Copy(io.Discard, nc)
			nc.Write(in[1:])
			nc.Close()
		} else {
			r, err := rawOver(nc, s.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for rest := in[1:]; len(rest) >= 2; {
				n := int(binary.BigEndian.Uint16(rest)) % (MaxPlaintext + 1)
				rest = rest[2:]
				n = min(n, len(rest))
				if n > 0 {
					out, _ = r.sess.SealFrame(out, rest[:n])
				}
				rest = rest[n:]
			}
			// A ping last: its pong (or the connection closing) says the
			// server has handled everything before it.
			id := newPingID()
			out, _ = r.sess.SealFrame(out, append([]byte{byte(TypePingRequest)}, id[:]...))
			go nc.Write(out)
			for {
				pt, err := r.read()
				if err != nil {
					break
				}
				if p, err := ParsePacket(pt); err == nil && p.Type == TypePongResponse && p.PingID == id {
					break
				}
			}
			nc.Close()
		}
		// The good pair is still served, and nothing the fuzzer sent
		// reached it as Data (it cannot route to b and be routed back).
		msg := []byte("still served")
		if err := a.Send(bk, msg); err != nil {
			t.Fatal(err)
		}
		if ev := b.expect(EventData, ak); !bytes.Equal(ev.Data, msg) {
			t.Fatalf("b got %q", ev.Data)
		}
		for _, ev := range b.events {
			if ev.Kind == EventData {
				t.Fatalf("b got data %q from %v", ev.Data, ev.Peer)
			}
		}
		b.events = b.events[:0]
		a.events = a.events[:0]
		if errors.Is(a.Err(), net.ErrClosed) || errors.Is(b.Err(), net.ErrClosed) {
			t.Fatal("a good client was closed")
		}
	})
}

// rawOver runs the client handshake over nc with a fresh key.
func rawOver(nc net.Conn, relay PublicKey) (*rawConn, error) {
	kp, err := NewKeyPair()
	if err != nil {
		return nil, err
	}
	h, hello, err := NewClientHandshake(kp, relay, rand.Reader)
	if err != nil {
		return nil, err
	}
	go nc.Write(hello)
	r := &rawConn{nc: nc, key: kp}
	r.br = bufio.NewReader(nc)
	var reply [ServerHelloSize]byte
	if _, err := io.ReadFull(r.br, reply[:]); err != nil {
		return nil, err
	}
	if r.sess, err = h.Finish(reply[:]); err != nil {
		return nil, err
	}
	return r, nil
}
