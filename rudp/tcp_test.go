package rudp

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestDirectTCP: a connection over direct TCP, for networks that block
// UDP: a 20 MB stream arrives intact and messages both ways,
// the path says tcp, and no FEC parity is sent on a carrier that does not
// lose packets.
func TestDirectTCP(t *testing.T) {
	l, err := Listen("tcp", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	accepted := acceptOne(t, ctx, l)
	client, err := Dial(ctx, "tcp", l.Addr().String(), l.Endpoint().Identity().Card(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		t.FailNow()
	}

	exchange(t, ctx, client, server, bytes.Repeat([]byte("over direct tcp "), 20<<20/16), "tcp")
}

// tcpProxy forwards TCP connections to target and can cut them all.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(out, in); out.Close() }()
			go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// cut closes every connection forwarded so far.
func (p *tcpProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	n := len(p.conns) / 2
	p.conns = nil
	return n
}

// TestDirectTCPReconnects: the TCP connection under a transfer breaks
// twice; the dialing side connects again with its next packet, the
// listener follows the new connection, and every byte arrives in order.
func TestDirectTCPReconnects(t *testing.T) {
	// Small windows: the data still to come at each cut is not yet sent.
	// Keepalives a minute apart: the dialing side must reconnect because
	// its connection broke (Endpoint.pathBroke), not because a keepalive
	// happened to be due; the context gives up long before.
	cfg := &Config{StreamWindow: 64 << 10, ConnWindow: 128 << 10, IdleTimeout: 2 * time.Minute, KeepAlive: time.Minute}
	l, err := Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	proxy := newTCPProxy(t, l.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	accepted := make(chan *Conn, 1)
	go func() {
		c, _ := l.Accept(ctx)
		accepted <- c
	}()
	client, err := Dial(ctx, "tcp", proxy.ln.Addr().String(), l.Endpoint().Identity().Card(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	if server == nil {
		t.Fatal("nothing accepted")
	}
	data := bytes.Repeat([]byte("reconnect "), 1<<20) // 10 MB
	sendStream(t, client, data)
	s, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.SetReadDeadline(time.Now().Add(30 * time.Second))
	// Cut the TCP connection after a third and after two thirds have
	// arrived: the rest is still to come, whatever the machine's speed.
	got := make([]byte, len(data))
	third := len(data) / 3
	for i := range 3 {
		if _, err := io.ReadFull(s, got[i*third:(i+1)*third]); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if i < 2 && proxy.cut() == 0 {
			t.Fatal("no connection to cut")
		}
	}
	rest, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(append(got[:3*third], rest...), data) {
		t.Fatalf("%d bytes arrived of %d, or different (%v)", 3*third+len(rest), len(data), err)
	}
	if err := client.SendMessage(ctx, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m, err := server.ReceiveMessage(ctx); err != nil || string(m) != "still here" {
		t.Fatalf("after the cuts: %q, %v", m, err)
	}
}
