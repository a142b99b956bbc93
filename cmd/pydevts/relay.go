package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/relay"
)

// runRelay: pydevts relay [--key FILE] [--max-conns N] [--stats INTERVAL] ADDR
// It serves until SIGINT or SIGTERM.
func runRelay(args []string, std stdio) error {
	ctx, stop := interrupted()
	defer stop()
	return serveRelay(ctx, args, std)
}

// serveRelay is runRelay until ctx ends instead of a signal.
func serveRelay(ctx context.Context, args []string, std stdio) error {
	fl := newFlags("relay", "ADDR", std.errOut)
	keyFile := fl.String("key", "", "identity key `file` (pydevts keygen) whose X25519 key is the relay's key (default: a fresh key each start)")
	maxConns := fl.Int("max-conns", relay.DefaultMaxConns, "most connections open at once, handshakes included")
	every := fl.Duration("stats", 0, "print the counters as JSON on stderr every `interval` (e.g. 10s), and once at exit")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the TCP address to listen on (host:port)"); err != nil {
		return err
	}
	if *maxConns < 1 {
		return fmt.Errorf("%w: --max-conns must be at least 1, got %d", errUsage, *maxConns)
	}
	if *every < 0 {
		return fmt.Errorf("%w: --stats interval must not be negative, got %v", errUsage, *every)
	}
	key, err := relayKey(*keyFile)
	if err != nil {
		return err
	}
	srv, err := relay.NewServer(&relay.Config{Key: key, MaxConns: *maxConns})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(std.errOut, "relay: %s\n", srv.PublicKey())
	fmt.Fprintf(std.errOut, "listening on %s\n", l.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	var tick <-chan time.Time
	if *every > 0 {
		t := time.NewTicker(*every)
		defer t.Stop()
		tick = t.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case err = <-served: // the listener failed
			srv.Close()
			return err
		case <-tick:
			printRelayStats(std.errOut, srv.Stats())
		}
	}
	srv.Close()
	<-served
	if *every > 0 {
		printRelayStats(std.errOut, srv.Stats())
	}
	return nil
}

// relayKey is the X25519 key pair of the identity in file, or a fresh one.
func relayKey(file string) (relay.KeyPair, error) {
	if file == "" {
		return relay.NewKeyPair()
	}
	id, err := handshake.LoadKeyFile(file)
	if err != nil {
		return relay.KeyPair{}, err
	}
	return relay.KeyPairFromSecret(id.DHPrivateKey().Bytes())
}

func printRelayStats(w io.Writer, s relay.Stats) {
	b, _ := json.Marshal(s)
	fmt.Fprintf(w, "%s\n", b)
}
