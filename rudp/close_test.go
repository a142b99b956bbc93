package rudp

// Closing a connection: abortive, graceful, and the peer closing first.

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/stream"
)

// acceptSent sends data on a new stream of client (sendStream) and
// returns that stream as server accepts it.
func acceptSent(t *testing.T, client, server *Conn, data []byte) *stream.Stream {
	t.Helper()
	sendStream(t, client, data)
	ss, err := server.AcceptStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func TestCloseWithError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, link10ms, nil, nil)
		client, server := p.connect(t)
		ctx := context.Background()
		s, _ := client.OpenStream(ctx)
		s.Write([]byte("x"))
		ss, err := server.AcceptStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ss.Read(make([]byte, 1))
		readErr := make(chan error, 1)
		go func() { _, err := ss.Read(make([]byte, 1)); readErr <- err }()
		msgErr := make(chan error, 1)
		go func() { _, err := server.ReceiveMessage(ctx); msgErr <- err }()
		synctest.Wait()

		client.CloseWithError(42, "shutting down")
		for name, err := range map[string]error{"Read": <-readErr, "ReceiveMessage": <-msgErr} {
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != 42 || ce.Reason != "shutting down" || !ce.Remote {
				t.Errorf("peer's %s: %v, want the remote CloseError 42", name, err)
			}
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("peer's %s error does not unwrap to net.ErrClosed", name)
			}
		}
		<-server.Done()
		var ce *CloseError
		if !errors.As(server.Err(), &ce) || !ce.Remote {
			t.Fatalf("server.Err() = %v", server.Err())
		}
		// Our own operations fail with the local error.
		if _, err := s.Write([]byte("y")); !errors.As(err, &ce) || ce.Remote || ce.Code != 42 {
			t.Fatalf("local Write after CloseWithError: %v", err)
		}
		if err := client.SendMessage(ctx, []byte("z")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("SendMessage after close: %v", err)
		}
	})
}

// TestGracefulClose: everything written before Close reaches the peer,
// which sees EOF after it, and Close returns nil once the peer has it all.
func TestGracefulClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, linkemu.Spec{Delay: 50 * time.Millisecond, Loss: 0.05}, nil, nil)
		client, server := p.connect(t)
		ctx := context.Background()
		data := make([]byte, 3<<20)
		rand.NewChaCha8([32]byte{1}).Read(data)
		s, _ := client.OpenStream(ctx)
		go func() {
			s.Write(data)
			s.CloseWrite()
		}()
		sent := make(chan error, 1)
		go func() { sent <- client.SendMessage(ctx, []byte("last word")) }()
		got := make(chan []byte, 1)
		go func() {
			ss, err := server.AcceptStream(ctx)
			if err != nil {
				t.Error(err)
				got <- nil
				return
			}
			b, err := io.ReadAll(ss)
			if err != nil {
				t.Errorf("reading after a graceful close: %v", err)
			}
			got <- b
		}()
		synctest.Wait() // the writes are buffered; nothing is acknowledged yet
		if err := client.Close(); err != nil {
			t.Fatalf("graceful Close: %v", err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("message sent before Close: %v", err)
		}
		if b := <-got; len(b) != len(data) || string(b) != string(data) {
			t.Fatalf("peer read %d of %d bytes", len(b), len(data))
		}
		if m, err := server.ReceiveMessage(ctx); err != nil || string(m) != "last word" {
			t.Fatalf("message: %q %v", m, err)
		}
		<-server.Done()
		var ce *CloseError
		if !errors.As(server.Err(), &ce) || ce.Code != CodeNoError || !ce.Remote {
			t.Fatalf("peer saw %v, want a remote close with code 0", server.Err())
		}
	})
}

// TestPeerClosesFirst: a peer that closes gracefully while our data is
// still in flight must not make our Close report success. Over a 1 Mbit/s
// link the client writes 2 MB; the server closes after 200 ms, and the
// client's Close must say that not everything was acknowledged. When the
// peer closes after taking everything, Close returns nil.
func TestPeerClosesFirst(t *testing.T) {
	for _, early := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			p := newPair(t, linkemu.Spec{Delay: 10 * time.Millisecond, Rate: 1e6}, nil, nil)
			client, server := p.connect(t)
			data := make([]byte, 2<<20)
			if !early {
				data = data[:20<<10]
			}
			ss := acceptSent(t, client, server, data)
			if early {
				time.Sleep(200 * time.Millisecond)
			} else if b, err := io.ReadAll(ss); err != nil || len(b) != len(data) {
				t.Fatalf("server read %d of %d bytes: %v", len(b), len(data), err)
			}
			closed := make(chan error, 1)
			go func() { closed <- server.Close() }()
			err := client.Close()
			if early {
				var ce *CloseError
				if !errors.Is(err, ErrUnacknowledged) || !errors.As(err, &ce) || !ce.Remote || ce.Code != CodeNoError {
					t.Errorf("client Close after the peer closed with 2 MB unacknowledged: got %v, want ErrUnacknowledged wrapping the peer's close", err)
				}
			} else if err != nil {
				t.Errorf("client Close after the peer took everything: %v", err)
			}
			if err := <-closed; err != nil {
				t.Errorf("server Close: %v", err)
			}
		})
	}
}
