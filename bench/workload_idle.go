package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The idle workload: a client endpoint opens Connections connections to
// one server endpoint, proves each with one exchange, and then nothing
// happens for the scenario's duration but what the transports do on their
// own (keepalives). After the warm-up, which lets the last exchanges'
// acknowledgments go and idle connections settle (rudp parks a loop a
// second after its last packet), the server process measures its memory;
// then its CPU over the rest of the duration, the measuring window. At
// the end it proves every connection once more, so that a row cannot pass
// by connections having died: a window longer than the idle timeout (15 s
// for both transports here) also proves that keepalives kept them up.
const (
	// idleEstablish bounds how long an idle run's connections may take to
	// come up: a thousand handshakes take seconds of CPU on two cores,
	// and a lost initiation costs rudp a retry a second later.
	idleEstablish = 2 * time.Minute
	// idleExchange bounds one exchange that proves a connection.
	idleExchange = 10 * time.Second
	// idleVerify bounds the proof of every connection after the window.
	idleVerify = 30 * time.Second
	// idleParallel is how many connections dial, or are proven, at once:
	// fewer than rudp's queue of initiations waiting for the handshake
	// worker (256), so none is dropped and retried, and enough to keep
	// both cores busy.
	idleParallel = 64
)

// idleReport is what one side of an idle run reports.
type idleReport struct {
	Connections int `json:"connections"` // asked for
	// Established counts connections proven by their first exchange;
	// Verified those that answered again after the window (the client:
	// those whose second probe it answered).
	Established int `json:"established"`
	Verified    int `json:"verified"`
	// The server's measurements. Go memory is the runtime's heap objects
	// and goroutine stacks; RSS is the process's resident set; both after
	// collecting garbage, before the connections and once they are idle.
	GoBefore      int64   `json:"go_before_bytes,omitempty"`
	GoIdle        int64   `json:"go_idle_bytes,omitempty"`
	RSSBefore     int64   `json:"rss_before_bytes,omitempty"`
	RSSIdle       int64   `json:"rss_idle_bytes,omitempty"`
	WindowSeconds float64 `json:"window_s,omitempty"`
	WindowCPU     float64 `json:"window_cpu_s,omitempty"`
	// Packets the connections sent and received from their first
	// exchange to the end of the window, PacketSeconds later.
	Packets       int64   `json:"packets,omitempty"`
	PacketSeconds float64 `json:"packet_s,omitempty"`

	Err    string  `json:"error,omitempty"`
	CPU    float64 `json:"cpu_seconds"`
	MaxRSS int64   `json:"max_rss_bytes"`
}

// idlePeer is `pydevts bench-peer` for the idle workload.
func idlePeer(ctx context.Context, cfg peerConfig, e *env, enc *json.Encoder) error {
	var rep idleReport
	switch cfg.Role {
	case "server":
		rep = runIdleServer(ctx, cfg, e, func(info serverInfo) { enc.Encode(peerMsg{Ready: &info}) })
	case "client":
		rep = runIdleClient(ctx, cfg, e)
	default:
		return fmt.Errorf("bench-peer: unknown role %q", cfg.Role)
	}
	rep.CPU, rep.MaxRSS = selfUsage()
	return enc.Encode(peerMsg{Idle: &rep})
}

// runIdleServer is the server of an idle run: it holds the connections
// and measures itself while they idle.
func runIdleServer(ctx context.Context, cfg peerConfig, env *env, ready func(serverInfo)) idleReport {
	rep := idleReport{Connections: cfg.Connections}
	tr, err := idleTransportFor(cfg.Transport)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	ln, err := tr.listen(env)
	if err != nil {
		rep.Err = fmt.Sprintf("listen: %v", err)
		return rep
	}
	defer ln.close()
	rep.GoBefore, rep.RSSBefore = memoryInUse()
	ready(ln.info())
	conns, err := acceptIdle(ctx, ln, cfg.Connections)
	defer closeIdle(conns)
	rep.Established = len(conns)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	p0, t0 := packetsOf(conns), time.Now()
	time.Sleep(cfg.Warmup)
	rep.GoIdle, rep.RSSIdle = memoryInUse()
	cpu0, _ := selfUsage()
	w0 := time.Now()
	time.Sleep(cfg.Duration - cfg.Warmup)
	cpu1, _ := selfUsage()
	rep.WindowSeconds, rep.WindowCPU = time.Since(w0).Seconds(), cpu1-cpu0
	rep.Packets, rep.PacketSeconds = packetsOf(conns)-p0, time.Since(t0).Seconds()
	var failed error
	rep.Verified, failed = proveIdle(ctx, conns)
	if rep.Verified < len(conns) {
		rep.Err = fmt.Sprintf("%d of %d connections did not answer after %v idle: %v",
			len(conns)-rep.Verified, len(conns), cfg.Duration.Round(time.Second), failed)
	}
	return rep
}

// acceptIdle accepts n connections and has each answer the client's
// first probe, within idleEstablish. It returns the connections proven.
func acceptIdle(ctx context.Context, ln idleListener, n int) ([]idleConn, error) {
	ctx, cancel := context.WithTimeout(ctx, idleEstablish)
	defer cancel()
	var (
		mu     sync.Mutex // guards conns
		conns  []idleConn
		failed firstError
	)
	proven := make(chan struct{}, n)
	go func() {
		for {
			c, err := ln.accept(ctx)
			if err != nil {
				return
			}
			go func() {
				ectx, ecancel := context.WithTimeout(ctx, idleExchange)
				err := c.answer(ectx)
				ecancel()
				if err != nil {
					failed.set(err)
					c.close()
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				select {
				case proven <- struct{}{}:
				default: // more than n: the client opens n
				}
			}()
		}
	}()
	for i := range n {
		select {
		case <-proven:
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(conns), fmt.Errorf("%d of %d connections established within %v%s", i, n, idleEstablish, failed.suffix())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(conns), nil
}

// runIdleClient is the client of an idle run: it opens the connections,
// proves each, answers the server's proof after the window, and ends when
// the server has closed them.
func runIdleClient(ctx context.Context, cfg peerConfig, env *env) idleReport {
	rep := idleReport{Connections: cfg.Connections}
	tr, err := idleTransportFor(cfg.Transport)
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	d, err := tr.dialer(env)
	if err != nil {
		rep.Err = fmt.Sprintf("dialer: %v", err)
		return rep
	}
	defer d.close()
	ctx, cancel := context.WithTimeout(ctx, idleEstablish+cfg.Duration+idleVerify)
	defer cancel()
	var established, verified atomic.Int64
	var failed firstError
	sem := make(chan struct{}, idleParallel)
	var wg sync.WaitGroup
	for range cfg.Connections {
		sem <- struct{}{}
		wg.Go(func() {
			c, err := d.dial(ctx, cfg.Server)
			if err == nil {
				ectx, ecancel := context.WithTimeout(ctx, idleExchange)
				if err = c.ping(ectx); err != nil {
					c.close()
				}
				ecancel()
			}
			<-sem
			if err != nil {
				failed.set(fmt.Errorf("connecting: %w", err))
				return
			}
			defer c.close()
			established.Add(1)
			if err := c.answer(ctx); err != nil {
				failed.set(fmt.Errorf("answering after the idle window: %w", err))
				return
			}
			verified.Add(1)
			c.wait(ctx)
		})
	}
	wg.Wait()
	rep.Established, rep.Verified = int(established.Load()), int(verified.Load())
	if err := failed.get(); err != nil {
		rep.Err = err.Error()
	}
	return rep
}

// proveIdle pings every connection, idleParallel at a time, all within
// idleVerify, and returns how many answered and the first failure.
func proveIdle(ctx context.Context, conns []idleConn) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, idleVerify)
	defer cancel()
	var ok atomic.Int64
	var failed firstError
	sem := make(chan struct{}, idleParallel)
	var wg sync.WaitGroup
	for _, c := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.ping(ctx); err != nil {
				failed.set(err)
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	return int(ok.Load()), failed.get()
}

func packetsOf(conns []idleConn) int64 {
	var n int64
	for _, c := range conns {
		n += c.packets()
	}
	return n
}

func closeIdle(conns []idleConn) {
	for _, c := range conns {
		c.close()
	}
}

// firstError keeps the first of many concurrent errors.
type firstError struct {
	mu  sync.Mutex // guards err
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// suffix is "; first failure: ..." when there was one.
func (f *firstError) suffix() string {
	if err := f.get(); err != nil {
		return "; first failure: " + err.Error()
	}
	return ""
}

// memoryInUse returns the Go runtime's memory in use (live heap objects
// and goroutine stacks) and the process's resident set, after collecting
// garbage and returning free memory to the system, so that what remains
// is what the process holds.
func memoryInUse() (goBytes, rss int64) {
	// Each collection halves the stacks of goroutines that use less than
	// a quarter of theirs: a few bring idle goroutines to their size.
	for range 4 {
		runtime.GC()
	}
	debug.FreeOSMemory() // one more, and the free pages go back
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			goBytes += int64(x.Value.Uint64())
		}
	}
	return goBytes, residentBytes()
}

// residentBytes reads the resident set from /proc (Linux); 0 elsewhere.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
