package bench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
)

// SoakConfig describes a soak run: many connections opened, used and
// closed over and over across a lossy in-memory link, to find what only
// time shows (leaked goroutines, memory that grows, a transfer that goes
// wrong once in thousands).
type SoakConfig struct {
	Conns    int           // connections at a time; default 200
	Duration time.Duration // default 10 minutes
	Loss     float64       // each way, Bernoulli; default 0.05
	Delay    time.Duration // one way; default 5 ms
	Seed     uint64        // seeds the link and the transfer sizes
	// Sample, if set, hears each sample (every SampleEvery) as it is
	// taken.
	Sample      func(SoakSample)
	SampleEvery time.Duration // default 1 s
}

// A SoakSample is the state of the process at one moment of a soak.
type SoakSample struct {
	At         time.Duration
	Goroutines int
	HeapInuse  uint64 // after a GC
	Transfers  uint64 // finished and verified so far
	Failures   uint64
}

// SoakResult is what a soak run found.
type SoakResult struct {
	Config              SoakConfig
	Transfers, Failures uint64
	Bytes, Messages     uint64
	FirstFailure        string
	Samples             []SoakSample
	// GoroutinesBefore is the count before the run, GoroutinesAfter once
	// every connection and endpoint is closed.
	GoroutinesBefore, GoroutinesAfter int
	// HeapWarm is the median heap in use over the second quarter of the
	// run (after warm-up); HeapEnd over the last quarter.
	HeapWarm, HeapEnd uint64
	// Link is what the emulated link did each way (client to server,
	// server to client): packets lost on purpose, and dropped at a full
	// inbox (a receiver that fell behind). Server is the server
	// endpoint's counters: handshakes accepted and refused, cookie
	// replies, packets dropped.
	Link   [2]linkemu.Stats
	Server rudp.EndpointStats
	// Problems lists what failed the run: a failed transfer, a goroutine
	// leak, memory that grew. Empty: the run passed.
	Problems []string
}

// Soak growth limits: the heap at the end may exceed the heap after
// warm-up by half, plus 16 MiB for the noise of a busy GC; goroutines
// must come back to within soakGoroutineSlack of where they started.
const (
	soakHeapGrowth     = 1.5
	soakHeapSlack      = 16 << 20
	soakGoroutineSlack = 5
)

// Soak runs a soak: cfg.Conns workers each dial a connection through one
// client endpoint, send a stream of 16 to 128 KiB (its SHA-256 at the
// end, checked by the server, which answers), exchange a message each
// way, close the connection, and start again, until cfg.Duration has
// passed. The link loses cfg.Loss of the packets each way.
func Soak(ctx context.Context, cfg SoakConfig) (*SoakResult, error) {
	if cfg.Conns <= 0 {
		cfg.Conns = 200
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Minute
	}
	if cfg.Loss == 0 {
		cfg.Loss = 0.05
	}
	if cfg.Delay == 0 {
		cfg.Delay = 5 * time.Millisecond
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = time.Second
	}
	res := &SoakResult{Config: cfg, GoroutinesBefore: runtime.NumGoroutine()}
	spec := linkemu.Spec{Delay: cfg.Delay, Loss: cfg.Loss}
	a, b, err := linkemu.MemPair(linkemu.MemConfig{AB: spec, BA: spec, Seed: cfg.Seed, Inbox: 1 << 14})
	if err != nil {
		return nil, err
	}
	sid, err := handshake.NewIdentity()
	if err != nil {
		return nil, err
	}
	srv, err := rudp.NewEndpoint(b, &rudp.Config{Identity: sid, AcceptQueue: 4 * cfg.Conns})
	if err != nil {
		return nil, err
	}
	cli, err := rudp.NewEndpoint(a, nil)
	if err != nil {
		srv.Close()
		return nil, err
	}
	var (
		transfers, failures, bytes, messages atomic.Uint64
		failMu                               sync.Mutex
	)
	fail := func(what string) {
		if failures.Add(1) == 1 {
			failMu.Lock()
			res.FirstFailure = what
			failMu.Unlock()
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	// The server: each connection's stream is read whole and checked,
	// and its message echoed.
	wg.Go(func() {
		for {
			c, err := srv.Accept(runCtx)
			if err != nil {
				return
			}
			wg.Go(func() { soakServe(runCtx, c, fail) })
		}
	})
	addr := b.LocalAddr().String()
	for w := range cfg.Conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)))
			for runCtx.Err() == nil {
				n, err := soakTransfer(runCtx, cli, addr, sid.Card(), rng)
				if runCtx.Err() != nil {
					return // the end of the run cut it short: not a failure
				}
				if err != nil {
					fail(err.Error())
					continue
				}
				transfers.Add(1)
				bytes.Add(uint64(n))
				messages.Add(2)
			}
		})
	}
	// Samples until the end.
	start := time.Now()
	t := time.NewTicker(cfg.SampleEvery)
	for done := false; !done; {
		select {
		case <-runCtx.Done():
			done = true
		case <-t.C:
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := SoakSample{At: time.Since(start), Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse,
			Transfers: transfers.Load(), Failures: failures.Load()}
		res.Samples = append(res.Samples, s)
		if cfg.Sample != nil {
			cfg.Sample(s)
		}
	}
	t.Stop()
	wg.Wait()
	res.Link = [2]linkemu.Stats{a.Stats(), b.Stats()}
	res.Server = srv.Stats()
	cli.Close()
	srv.Close()
	a.Close()
	b.Close()
	// Goroutines end a little after their endpoints close.
	for i := 0; i < 100 && runtime.NumGoroutine() > res.GoroutinesBefore+soakGoroutineSlack; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	res.GoroutinesAfter = runtime.NumGoroutine()
	res.Transfers, res.Failures, res.Bytes, res.Messages = transfers.Load(), failures.Load(), bytes.Load(), messages.Load()
	res.HeapWarm = soakMedianHeap(res.Samples, 1, 2)
	res.HeapEnd = soakMedianHeap(res.Samples, 3, 4)
	if res.Failures > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d of %d transfers failed; the first: %s", res.Failures, res.Failures+res.Transfers, res.FirstFailure))
	}
	if res.Transfers == 0 {
		res.Problems = append(res.Problems, "no transfer finished")
	}
	if res.GoroutinesAfter > res.GoroutinesBefore+soakGoroutineSlack {
		res.Problems = append(res.Problems, fmt.Sprintf("goroutines: %d before, %d after everything closed", res.GoroutinesBefore, res.GoroutinesAfter))
	}
	if float64(res.HeapEnd) > soakHeapGrowth*float64(res.HeapWarm)+soakHeapSlack {
		res.Problems = append(res.Problems, fmt.Sprintf("heap grew from %d MiB after warm-up to %d MiB at the end", res.HeapWarm>>20, res.HeapEnd>>20))
	}
	return res, nil
}

// soakMedianHeap is the median heap of the samples in quarters [from, to)
// of the run (1-based: 1 is the first quarter).
func soakMedianHeap(ss []SoakSample, from, to int) uint64 {
	n := len(ss)
	lo, hi := n*(from-1)/4, n*(to-1)/4
	if hi <= lo {
		hi = min(lo+1, n)
	}
	if lo >= n {
		return 0
	}
	hs := make([]uint64, 0, hi-lo)
	for _, s := range ss[lo:hi] {
		hs = append(hs, s.HeapInuse)
	}
	slices.Sort(hs)
	return hs[len(hs)/2]
}

// soakTransfer dials, sends a stream of random size with its length
// first and its SHA-256 last, and waits for the server's verdict, then
// exchanges a message each way and closes. It returns the bytes sent.
func soakTransfer(ctx context.Context, e *rudp.Endpoint, addr string, card handshake.Card, rng *rand.Rand) (int, error) {
	c, err := e.Dial(ctx, addr, card)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer c.CloseWithError(0, "")
	// Stream reads and writes take no context: the end of the run closes
	// the connection under them.
	stop := context.AfterFunc(ctx, func() { c.CloseWithError(1, "soak over") })
	defer stop()
	s, err := c.OpenStream(ctx)
	if err != nil {
		return 0, fmt.Errorf("open stream: %w", err)
	}
	n := 16<<10 + rng.IntN(112<<10)
	data := make([]byte, 8+n+sha256.Size)
	binary.BigEndian.PutUint64(data, uint64(n))
	for i := 8; i < 8+n; i++ {
		data[i] = byte(rng.Uint32())
	}
	sum := sha256.Sum256(data[8 : 8+n])
	copy(data[8+n:], sum[:])
	if _, err := s.Write(data); err != nil {
		return 0, fmt.Errorf("write: %w", err)
	}
	s.CloseWrite()
	verdict, err := io.ReadAll(io.LimitReader(s, 64))
	if err != nil || string(verdict) != "ok" {
		return 0, fmt.Errorf("the server found the stream %q (%v)", verdict, err)
	}
	msg := fmt.Appendf(nil, "soak %d", rng.Uint64())
	if err := c.SendMessage(ctx, msg); err != nil {
		return 0, fmt.Errorf("send message: %w", err)
	}
	echo, err := c.ReceiveMessage(ctx)
	if err != nil || string(echo) != string(msg) {
		return 0, fmt.Errorf("message echo %q (%v)", echo, err)
	}
	return n, nil
}

// soakServe checks one connection's stream and echoes its message.
func soakServe(ctx context.Context, c *rudp.Conn, fail func(string)) {
	defer c.CloseWithError(0, "")
	stop := context.AfterFunc(ctx, func() { c.CloseWithError(1, "soak over") })
	defer stop()
	s, err := c.AcceptStream(ctx)
	if err != nil {
		return
	}
	b, err := io.ReadAll(s)
	if err != nil {
		if ctx.Err() == nil {
			fail("server read: " + err.Error())
		}
		return
	}
	ok := len(b) >= 8+sha256.Size
	if ok {
		n := binary.BigEndian.Uint64(b)
		sum := sha256.Sum256(b[8 : len(b)-sha256.Size])
		ok = n == uint64(len(b)-8-sha256.Size) && string(sum[:]) == string(b[len(b)-sha256.Size:])
	}
	verdict := "ok"
	if !ok {
		verdict = "bad"
		fail(fmt.Sprintf("a stream of %d bytes arrived altered", len(b)))
	}
	s.Write([]byte(verdict))
	s.Close()
	m, err := c.ReceiveMessage(ctx)
	if err != nil {
		return
	}
	c.SendMessage(ctx, m)
	// Wait for the client to close, so that the echo is acknowledged.
	select {
	case <-c.Done():
	case <-ctx.Done():
	}
}
