package relay

import (
	"errors"
	"net"
	"testing"
)

// A TestServer is our server on 127.0.0.1 that a test of package
// relay_test can kill, or make tamper with what it forwards.
type TestServer struct {
	Addr string
	Key  PublicKey

	s      *Server
	served chan error
}

// StartTestServer runs a TestServer until the test ends.
func StartTestServer(t *testing.T) *TestServer {
	t.Helper()
	s, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &TestServer{Addr: l.Addr().String(), Key: s.PublicKey(), s: s, served: make(chan error, 1)}
	go func() { ts.served <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := ts.Stop(); err != nil {
			t.Error(err)
		}
	})
	return ts
}

// Stop closes the server and every connection to it, as a relay that
// dies; stopping it again does nothing.
func (ts *TestServer) Stop() error {
	if ts.served == nil {
		return nil
	}
	ts.s.Close()
	err := <-ts.served
	ts.served = nil
	if !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Tamper makes f see, and change as it likes, every Data payload the
// server forwards from now on, and drop it by returning false; nil stops
// it.
func (ts *TestServer) Tamper(f func(payload []byte) (forward bool)) {
	if f == nil {
		ts.s.tamper.Store(nil)
		return
	}
	ts.s.tamper.Store(&f)
}

// Stats are the server's counters.
func (ts *TestServer) Stats() Stats { return ts.s.Stats() }
