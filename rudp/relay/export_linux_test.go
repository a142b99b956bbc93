package relay

import "testing"

// What the engine tests of package relay_test (engine_linux_test.go) need
// from this package's test harness. They import rudp, which imports this
// package, so they cannot live in it.

// StartToxBootstrapd runs tox-bootstrapd until the test ends (see
// startToxBootstrapd) and returns its address, its key, and inside, which
// runs a function in the relay's network namespace: every socket that
// reaches the relay must be made there.
func StartToxBootstrapd(t *testing.T) (addr string, key PublicKey, inside func(func() error) error) {
	t.Helper()
	tb := startToxBootstrapd(t)
	return tb.addr, tb.key, tb.inside
}

// StartServer runs our server on 127.0.0.1 until the test ends, and
// returns its address and key.
func StartServer(t *testing.T) (addr string, key PublicKey) {
	t.Helper()
	s, addr := startServer(t, nil)
	return addr, s.PublicKey()
}
