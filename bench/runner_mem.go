package bench

import (
	"context"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// runMem runs both sides in this process over the in-memory link: the
// fallback without root, for the UDP transports. Both sides and the
// emulator share the process, so only their total CPU is known.
func runMem(ctx context.Context, r run, res *Result) {
	a, b, err := linkemu.MemPair(linkemu.MemConfig{AB: r.s.AB, BA: r.s.BA, Seed: r.s.Seed + uint64(r.rep), MTU: r.s.MTU})
	if err != nil {
		res.Err = err.Error()
		return
	}
	defer a.Close()
	defer b.Close()
	cpu0, _ := selfUsage()
	cfg := peerConfigFor(r)
	ready := make(chan serverInfo, 1)
	srvDone := make(chan serverReport, 1)
	go func() {
		srvDone <- runServer(ctx, cfg, &env{pc: b}, func(i serverInfo) { ready <- i })
	}()
	var info serverInfo
	select {
	case info = <-ready:
	case srv := <-srvDone:
		fill(res, srv, clientReport{Lost: -1})
		return
	}
	tl := startTimeline(r.s.Timeline, func(ab, ba linkemu.Spec) { a.SetSpec(ab); b.SetSpec(ba) })
	defer tl.stop()
	ccfg := cfg
	ccfg.Server = info
	cl := runClient(ctx, ccfg, &env{pc: a}, tl.start)
	var srv serverReport
	select {
	case srv = <-srvDone:
	case <-time.After(runSlack):
		srv.Err = "server did not finish"
	}
	cpu1, _ := selfUsage()
	res.CPUTotal = cpu1 - cpu0
	ab, ba := a.Stats(), b.Stats()
	res.Link = linkReport(ab, ba)
	res.Problems = checkLink(r.s, ab, ba)
	fill(res, srv, cl)
}
