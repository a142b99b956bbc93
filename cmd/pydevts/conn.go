package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/rudp"
	"github.com/pydevts/pydevts/rudp/relay"
)

// connFlags are the flags listen and dial share.
type connFlags struct {
	key      string
	messages bool
	stats    bool
	tcp      bool
	noUDP    bool
	relays   multiFlag

	addr string       // the positional ADDR; "": relays only
	rs   []rudp.Relay // --relay, parsed
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.key, "key", "", "identity key `file` (default: a fresh identity)")
	fs.BoolVar(&c.messages, "messages", false, "one message per line instead of a stream")
	fs.BoolVar(&c.stats, "stats", false, "print the connection's final statistics, each path's among them, as JSON on stderr")
	fs.BoolVar(&c.tcp, "tcp", false, "add a direct TCP path on ADDR's address and port, beside UDP (for networks that block UDP)")
	fs.BoolVar(&c.noUDP, "no-udp", false, "leave the direct UDP path out (with --tcp: direct TCP only)")
	fs.Var(&c.relays, "relay", "add a path through the Tox TCP relay `ADDR/KEY` (host:port and its 64-hex public key, as pydevts relay prints it); repeatable, up to 3; both sides must use the relay")
}

// args checks the positional arguments and the path flags, and parses
// --relay: ADDR (what, for the message) is needed for direct paths, and
// may be left out when relays are the only paths.
func (c *connFlags) args(pos []string, what string) error {
	for _, v := range c.relays {
		r, err := rudp.ParseRelay(v)
		if err != nil {
			return fmt.Errorf("%w: --relay: %v", errUsage, strings.TrimPrefix(err.Error(), "rudp: "))
		}
		c.rs = append(c.rs, r)
	}
	if len(c.rs) > 3 {
		return fmt.Errorf("%w: %d relays; at most 3", errUsage, len(c.rs))
	}
	direct := c.tcp || !c.noUDP
	switch {
	case len(c.rs) > 0 && len(pos) == 0:
		if c.tcp {
			return fmt.Errorf("%w: --tcp needs ADDR", errUsage)
		}
		return nil // relays alone
	case !direct && len(c.rs) == 0:
		return fmt.Errorf("%w: no path: --no-udp needs --tcp or --relay", errUsage)
	case !direct:
		return fmt.Errorf("%w: ADDR given, but --no-udp without --tcp leaves no direct path to use it", errUsage)
	}
	if err := wantArgs(pos, 1, what); err != nil {
		return err
	}
	c.addr = pos[0]
	return nil
}

// config is the rudp configuration of the paths the flags ask for.
func (c *connFlags) config(id *handshake.Identity) *rudp.Config {
	return &rudp.Config{Identity: id, TCP: c.tcp, NoUDP: c.noUDP || c.addr == "", Relays: c.rs}
}

// identity loads --key, or makes a fresh identity (fresh says which).
func (c *connFlags) identity() (id *handshake.Identity, fresh bool, err error) {
	if c.key == "" {
		id, err = handshake.NewIdentity()
		return id, true, err
	}
	id, err = handshake.LoadKeyFile(c.key)
	return id, false, err
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// interrupted returns a context that ends on SIGINT or SIGTERM.
func interrupted() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, sigterm)
}

// runListen: pydevts listen [--key FILE] [--allow ID]... [--messages] [--stats] [--tcp] [--no-udp] [--relay ADDR/KEY]... [ADDR]
func runListen(args []string, std stdio) error {
	fl := newFlags("listen", "ADDR", std.errOut)
	var cf connFlags
	cf.register(fl)
	var allow multiFlag
	fl.Var(&allow, "allow", "accept only this peer (`ID`: fingerprint or public identity); repeatable")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := cf.args(pos, "the address to listen on (host:port)"); err != nil {
		return err
	}
	id, fresh, err := cf.identity()
	if err != nil {
		return err
	}
	var fps []string
	for _, a := range allow {
		card, err := loadCardArg(a)
		if err != nil {
			return fmt.Errorf("--allow %s: %w", a, err)
		}
		fps = append(fps, card)
	}
	ctx, stop := interrupted()
	defer stop()
	cfg := cf.config(id)
	cfg.Allow = fps
	if len(cf.rs) > 0 {
		cfg.Logger = warnLogger(std.errOut) // a relay that could not be reached at first
	}
	l, err := rudp.Listen("udp", cf.addr, cfg)
	if err != nil {
		return interruptedErr(ctx, err)
	}
	defer l.Close()
	if fresh {
		fmt.Fprintf(std.errOut, "identity: %s\n", id.Card())
	}
	// One line per path: the direct address first (UDP and TCP share
	// it), then each relay.
	direct := false
	for _, a := range l.Endpoint().Addrs() {
		if ra, ok := a.(*relay.Addr); ok {
			fmt.Fprintf(std.errOut, "listening on relay %s\n", ra.Relay)
		} else if !direct {
			direct = true
			fmt.Fprintf(std.errOut, "listening on %s\n", a)
		}
	}

	c, err := l.Accept(ctx)
	if err != nil {
		return interruptedErr(ctx, err)
	}
	closeOnInterrupt(ctx, c)
	if cf.messages {
		err = receiveLines(ctx, c, std.out)
	} else {
		err = receiveStream(ctx, c, std.out)
	}
	if cf.stats {
		printStats(std.errOut, c.Stats())
	}
	return interruptedErr(ctx, err)
}

// receiveStream copies the connection's first stream to out as it
// arrives (unbuffered, so an interactive peer is seen at once and what
// arrived before an abort is written), then waits for the peer to close
// the connection.
func receiveStream(ctx context.Context, c *rudp.Conn, out io.Writer) error {
	s, err := c.AcceptStream(ctx)
	if err != nil {
		return closedCleanly(err)
	}
	w := &outWriter{w: out}
	if _, err := io.Copy(w, s); err != nil {
		if w.err != nil {
			c.CloseWithError(1, "output failed")
			return w.err
		}
		return closedCleanly(err)
	}
	s.Close()
	<-c.Done()
	return closedCleanly(c.Err())
}

// outWriter remembers a failure to write the output, to tell it from a
// failure of the stream in io.Copy.
type outWriter struct {
	w   io.Writer
	err error
}

func (o *outWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		o.err = err
	}
	return n, err
}

// receiveLines prints each message as a line until the peer closes.
func receiveLines(ctx context.Context, c *rudp.Conn, out io.Writer) error {
	for {
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			return closedCleanly(err)
		}
		if _, err := fmt.Fprintf(out, "%s\n", m); err != nil {
			c.CloseWithError(1, "output failed")
			return err
		}
	}
}

// closedCleanly turns the peer's graceful close into success.
func closedCleanly(err error) error {
	var ce *rudp.CloseError
	if errors.As(err, &ce) && ce.Code == rudp.CodeNoError && ce.Remote {
		return nil
	}
	return err
}

// closeOnInterrupt closes c with code 1 when ctx ends (Ctrl-C), so the
// peer learns why instead of waiting for its idle timeout.
func closeOnInterrupt(ctx context.Context, c *rudp.Conn) {
	go func() {
		select {
		case <-ctx.Done():
			c.CloseWithError(1, "interrupted")
		case <-c.Done():
		}
	}()
}

func interruptedErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return err
}

// runDial: pydevts dial [--key FILE] --peer ID [--messages] [--stats] [--tcp] [--no-udp] [--relay ADDR/KEY]... [ADDR]
func runDial(args []string, std stdio) error {
	fl := newFlags("dial", "ADDR", std.errOut)
	var cf connFlags
	cf.register(fl)
	peerArg := fl.String("peer", "", "the peer's public identity (`ID`, pydevts1:...); required")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := cf.args(pos, "the address to dial (host:port)"); err != nil {
		return err
	}
	if *peerArg == "" {
		return fmt.Errorf("%w: --peer is required (the public identity the listener printed)", errUsage)
	}
	peer, err := handshake.ParseCard(*peerArg)
	if err != nil {
		return fmt.Errorf("--peer: %w", err)
	}
	id, _, err := cf.identity()
	if err != nil {
		return err
	}
	ctx, stop := interrupted()
	defer stop()
	cfg := cf.config(id)
	if len(cf.rs) > 0 {
		cfg.Logger = warnLogger(std.errOut)
	}
	c, err := rudp.Dial(ctx, "udp", cf.addr, peer, cfg)
	if err != nil {
		return interruptedErr(ctx, err)
	}
	closeOnInterrupt(ctx, c)
	if cf.messages {
		err = sendLines(ctx, c, std.in)
	} else {
		err = sendStream(ctx, c, std.in)
	}
	if err == nil {
		// Returns once the peer has acknowledged every byte and message.
		err = c.Close()
	} else {
		c.CloseWithError(1, "sender failed")
	}
	if cf.stats {
		printStats(std.errOut, c.Stats())
	}
	return interruptedErr(ctx, err)
}

func sendStream(ctx context.Context, c *rudp.Conn, in io.Reader) error {
	s, err := c.OpenStream(ctx)
	if err != nil {
		return err
	}
	if _, err := io.Copy(s, in); err != nil {
		return err
	}
	return s.CloseWrite()
}

// sendLines sends each line of in as a message, up to 64 at a time
// (messages are unordered anyway; waiting for each one's acknowledgment
// before the next would cost a round trip per line).
func sendLines(ctx context.Context, c *rudp.Conn, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), message.MaxSize)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 64)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.SendMessage(ctx, line); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("a line is longer than the largest message (%d bytes)", message.MaxSize)
		}
		return err
	}
	return first
}

// printStats writes s as one JSON object; durations in milliseconds.
func printStats(w io.Writer, s rudp.Stats) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b, _ := json.Marshal(map[string]any{
		"packets_sent": s.PacketsSent, "packets_received": s.PacketsReceived,
		"bytes_sent": s.BytesSent, "bytes_received": s.BytesReceived,
		"packets_lost": s.PacketsLost, "retransmitted_bytes": s.Retransmitted,
		"packets_dropped": s.PacketsDropped, "probe_timeouts": s.ProbeTimeouts,
		"requests_received": s.RequestsReceived, "requests_sent": s.RequestsSent,
		"smoothed_rtt_ms": ms(s.SmoothedRTT), "min_rtt_ms": ms(s.MinRTT),
		"rtt_var_ms": ms(s.RTTVar), "latest_rtt_ms": ms(s.LatestRTT),
		"congestion_window": s.CongestionWindow, "bytes_in_flight": s.BytesInFlight,
		"path": s.Path, "suite": s.Suite, "paths": pathsJSON(s.Paths),
		"path_switches": s.PathSwitches, "path_failures": s.PathFailures, "path_demotions": s.PathDemotions,
	})
	fmt.Fprintf(w, "%s\n", b)
}

// pathsJSON describes each path for --stats.
func pathsJSON(ps []rudp.PathStats) []map[string]any {
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, map[string]any{
			"kind": p.Kind, "addr": p.Addr, "name": p.Name, "state": p.State, "active": p.Active,
			"rtt_ms": float64(p.RTT.Microseconds()) / 1000, "lost": p.Lost,
			"packets_sent": p.PacketsSent, "packets_received": p.PacketsReceived,
			"bytes_sent": p.BytesSent, "bytes_received": p.BytesReceived,
			"auth_failures": p.AuthFailures, "demotions": p.Demotions,
		})
	}
	return out
}

// warnLogger logs warnings and errors as text lines on w: the engine's
// word on a relay it could not reach, or a path it demoted.
func warnLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// loadCardArg turns an --allow value (a fingerprint, or a public identity)
// into a fingerprint.
func loadCardArg(v string) (string, error) {
	if strings.HasPrefix(v, "pydevts1:") {
		c, err := handshake.ParseCard(v)
		if err != nil {
			return "", err
		}
		return c.Fingerprint(), nil
	}
	return v, nil // NewResponder checks it is 64 hex characters
}
