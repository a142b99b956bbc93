package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
)

// peerConfig is one side's part of a run.
type peerConfig struct {
	Role      string        `json:"role"` // "server" or "client"
	Transport string        `json:"transport"`
	Bind      string        `json:"bind"`             // local address to bind ("10.77.0.2:0")
	Server    serverInfo    `json:"server,omitempty"` // for the client: where the server is
	Duration  time.Duration `json:"duration"`         // of the bulk transfer, warm-up included
	Warmup    time.Duration `json:"warmup"`
	// The workload (scenario.KnownWorkloads; "" is bulk) and its shape.
	Workload    string  `json:"workload,omitempty"`
	MessageSize int     `json:"message_size,omitempty"` // for the messages workload
	MessageRate float64 `json:"message_rate,omitempty"`
	Connections int     `json:"connections,omitempty"` // for the idle workload
}

// peerConfigFor is the part of a run both sides share.
func peerConfigFor(r run) peerConfig {
	return peerConfig{Transport: r.transport, Duration: r.s.Duration, Warmup: r.s.Warmup,
		Workload: r.s.Workload, MessageSize: r.s.MessageSize, MessageRate: r.s.MessageRate, Connections: r.s.Connections}
}

// How a run probes latency.
const (
	// idleProbes are sent one after another before the bulk transfer,
	// for at most idleBudget: at 30 % loss a probe can take seconds, and
	// the run is about the bulk transfer.
	idleProbes = 20
	idleBudget = 5 * time.Second
	// probeTimeout gives up on one probe. A probe given up ends probing
	// on that connection: its late reply would be taken for the next
	// probe's, so the percentiles cover the probes that came back.
	probeTimeout = 3 * time.Second
	// loadedProbeEvery spaces the probes during the bulk transfer: 10 Hz,
	// as the research prototype did, is enough for percentiles over a few
	// seconds without the probes adding load.
	loadedProbeEvery = 100 * time.Millisecond
	// runSlack is how long a run may overrun its duration (handshakes,
	// draining) before it is abandoned as hung.
	runSlack = 30 * time.Second
	// endTolerance is how early before the end of its window the server
	// accepts the client's departure as the end of the run rather than a
	// failure: more than the one-way delay of any built-in scenario.
	endTolerance = 500 * time.Millisecond
)

// serverReport is what the server side measured.
type serverReport struct {
	Window   int64   `json:"window_bytes"` // bytes received between warm-up and the end of the duration
	Total    int64   `json:"total_bytes"`
	Seconds  float64 `json:"seconds"` // length of the measuring window
	Err      string  `json:"error,omitempty"`
	CPU      float64 `json:"cpu_seconds"`
	MaxRSS   int64   `json:"max_rss_bytes"`
	Finished bool    `json:"finished"`

	Messages *messageServerReport `json:"messages,omitempty"` // the messages workload's
	// Recovered counts the packets the receiving side rebuilt from FEC
	// parity; -1 for transports without FEC.
	Recovered int64 `json:"recovered"`
}

// clientReport is what the client side measured.
type clientReport struct {
	Idle    []float64 `json:"idle_ms"`   // latency samples before the bulk transfer
	Loaded  []float64 `json:"loaded_ms"` // and during it, after warm-up
	Lost    int64     `json:"lost"`      // packets (segments) declared lost and resent; -1 unknown
	Written int64     `json:"written_bytes"`
	Err     string    `json:"error,omitempty"`
	CPU     float64   `json:"cpu_seconds"`
	MaxRSS  int64     `json:"max_rss_bytes"`
	// ProbeErr says why the probes stopped early: the first probe that
	// failed, with what the transport knew of its connection then.
	ProbeErr string `json:"probe_error,omitempty"`

	Messages *messageClientReport `json:"messages,omitempty"` // the messages workload's
}

// runServer serves one run: it reports readiness with its info, then
// receives the bulk transfer and answers probes until the client leaves,
// or in a messages run times the messages (serveMessages).
func runServer(ctx context.Context, cfg peerConfig, env *env, ready func(serverInfo)) (rep serverReport) {
	srv, err := startServer(cfg, env, ready)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer srv.close()
	defer func() { rep.Recovered = srv.recovered() }()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+runSlack)
	defer cancel()
	if cfg.Workload == scenario.WorkloadMessages {
		serveMessages(ctx, srv, &rep)
		return rep
	}
	go srv.echo(ctx)
	r, err := srv.bulk(ctx)
	if err != nil {
		rep.Err = fmt.Sprintf("bulk: %v", err)
		return rep
	}
	// Read until the client ends the transfer, however late its first
	// bytes came (seconds, at 30 % loss): hanging up when our own window
	// closes would cut the client's transfer short. A client that never
	// ends is bounded by the deadline.
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		d.SetReadDeadline(time.Now().Add(cfg.Duration + runSlack))
	}
	// Count what arrives inside the window [warm-up, duration] measured
	// from the first byte: the receiver's goodput, which no sender-side
	// buffer can inflate.
	buf := make([]byte, 256<<10)
	var start time.Time
	for {
		n, err := r.Read(buf)
		now := time.Now()
		if n > 0 {
			if start.IsZero() {
				start = now
			}
			if el := now.Sub(start); el >= cfg.Warmup && el <= cfg.Duration {
				rep.Window += int64(n)
			}
			rep.Total += int64(n)
		}
		if err != nil {
			// The client stops at its own duration mark and may close its
			// connection right after its last byte (quic-go), so its end
			// can reach us as an error a few milliseconds before our mark:
			// anything after most of the window is a normal end.
			rep.Finished = errors.Is(err, io.EOF) || now.Sub(start) >= cfg.Duration-endTolerance
			if !rep.Finished {
				rep.Err = fmt.Sprintf("bulk read after %v: %v", now.Sub(start).Round(time.Millisecond), err)
			}
			rep.Seconds = (min(now.Sub(start), cfg.Duration) - cfg.Warmup).Seconds()
			return rep
		}
	}
}

// startServer starts a run's server and reports it ready.
func startServer(cfg peerConfig, env *env, ready func(serverInfo)) (server, error) {
	tr, err := transportFor(cfg.Transport)
	if err != nil {
		return nil, err
	}
	srv, err := tr.listen(env)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ready(srv.info())
	return srv, nil
}

// dialServer connects a run's client to its server.
func dialServer(ctx context.Context, cfg peerConfig, env *env) (client, error) {
	tr, err := transportFor(cfg.Transport)
	if err != nil {
		return nil, err
	}
	cl, err := tr.dial(ctx, env, cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return cl, nil
}

// runClient does one run's client side: idle probes, then the bulk
// transfer for the duration with probes at 10 Hz alongside, or in a
// messages run the messages (sendMessages). bulkStarted (if set) is
// called when the bulk transfer or the first message begins, for the
// timeline.
func runClient(ctx context.Context, cfg peerConfig, env *env, bulkStarted func()) clientReport {
	rep := clientReport{Lost: -1}
	if err := checkMessages(cfg); err != nil {
		rep.Err = err.Error()
		return rep
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+runSlack)
	defer cancel()
	cl, err := dialServer(ctx, cfg, env)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	defer cl.close()
	if cfg.Workload == scenario.WorkloadMessages {
		sendMessages(ctx, cfg, cl, &rep, bulkStarted)
		return rep
	}
	probing := true
	for idle := time.Now(); len(rep.Idle) < idleProbes && time.Since(idle) < idleBudget; {
		t := time.Now()
		if err := probe(ctx, cl); err != nil {
			rep.ProbeErr = fmt.Sprintf("idle probe %d after %v: %v", len(rep.Idle)+1, time.Since(t).Round(time.Millisecond), err)
			probing = false
			break
		}
		rep.Idle = append(rep.Idle, ms(time.Since(t)))
	}
	w, err := cl.bulk(ctx)
	if err != nil {
		rep.Err = fmt.Sprintf("bulk: %v", err)
		return rep
	}
	if bulkStarted != nil {
		bulkStarted()
	}
	start := time.Now()
	stop := start.Add(cfg.Duration)
	if d, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(stop) // a Write blocked by flow control ends with the run
	}
	type loaded struct {
		samples []float64
		err     string
	}
	probes := make(chan loaded, 1)
	go func() {
		var l loaded
		tick := time.NewTicker(loadedProbeEvery)
		defer tick.Stop()
		for now := range tick.C {
			if !probing || now.After(stop) {
				break
			}
			t := time.Now()
			if err := probe(ctx, cl); err != nil {
				l.err = fmt.Sprintf("loaded probe after %v: %v", time.Since(t).Round(time.Millisecond), err)
				break
			}
			if t.Sub(start) >= cfg.Warmup {
				l.samples = append(l.samples, ms(time.Since(t)))
			}
		}
		probes <- l
	}()
	chunk := make([]byte, 64<<10)
	rand.Read(chunk) // incompressible, though nothing here compresses
	for time.Now().Before(stop) {
		n, err := w.Write(chunk)
		rep.Written += int64(n)
		if err != nil {
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				rep.Err = fmt.Sprintf("bulk write: %v", err)
			}
			break
		}
	}
	rep.Lost = cl.lost()
	w.Close()
	select {
	case l := <-probes:
		rep.Loaded = l.samples
		if rep.ProbeErr == "" {
			rep.ProbeErr = l.err
		}
	case <-time.After(5 * time.Second):
		// A probe stuck behind a dead path: the samples so far are lost
		// with it, which the report shows as missing percentiles.
	}
	return rep
}

// probe does one request/response exchange within probeTimeout. Its
// error carries the client's account of the connection, where the
// transport gives one.
func probe(ctx context.Context, cl client) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := cl.ping(ctx)
	if d, ok := cl.(interface{ diagnose() string }); ok && err != nil {
		err = fmt.Errorf("%w (%s)", err, d.diagnose())
	}
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
