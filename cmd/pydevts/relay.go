package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/metrics"
	"github.com/pydevts/pydevts/rudp/relay"
)

// runRelay: pydevts relay [--key FILE] [--max-conns N] [--stats INTERVAL]
// [--metrics ADDR] [--log-format text|json] [--log-level LEVEL] ADDR
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
	metricsAddr := fl.String("metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics (host:port)")
	lf := addLogFlags(fl)
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
	log, err := lf.logger(std.errOut)
	if err != nil {
		return err
	}
	// The relay's key, its addresses and its counters are printed
	// whatever the level: as plain lines in text format (scripts read
	// them), as log records in JSON.
	out := relayOut{w: std.errOut, json: lf.json(), log: lf.always(std.errOut)}
	key, err := relayKey(*keyFile)
	if err != nil {
		return err
	}
	srv, err := relay.NewServer(&relay.Config{Key: key, MaxConns: *maxConns, Logger: log})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", pos[0])
	if err != nil {
		return err
	}
	out.say("relay: "+srv.PublicKey().String(), "relay: key", "key", srv.PublicKey().String())
	if *metricsAddr != "" {
		ms, err := metrics.Serve(*metricsAddr, log, metrics.NewRelayCollector(srv.Stats))
		if err != nil {
			l.Close()
			return err
		}
		defer ms.Close()
		url := "http://" + ms.Addr().String() + "/metrics"
		out.say("metrics on "+url, "relay: metrics", "url", url)
	}
	// Last: a script (or a test) may read up to this line and go.
	out.say("listening on "+l.Addr().String(), "relay: listening", "addr", l.Addr().String())

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
			out.stats(srv.Stats())
		}
	}
	srv.Close()
	<-served
	if *every > 0 {
		out.stats(srv.Stats())
	}
	return nil
}

// relayOut prints the relay's own lines: its key, its addresses, its
// counters.
type relayOut struct {
	w    io.Writer
	json bool
	log  *slog.Logger // for JSON
}

// say prints text in text format, or a record msg with attrs in JSON.
func (o relayOut) say(text, msg string, attrs ...any) {
	if o.json {
		o.log.Info(msg, attrs...)
		return
	}
	fmt.Fprintln(o.w, text)
}

// stats prints the counters: one JSON line, or a record whose stats
// attribute holds them.
func (o relayOut) stats(s relay.Stats) {
	if o.json {
		o.log.Info("relay: stats", "stats", s)
		return
	}
	b, _ := json.Marshal(s)
	fmt.Fprintf(o.w, "%s\n", b)
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
