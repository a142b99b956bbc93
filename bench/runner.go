package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/bench/scenario"
)

// Options configure a benchmark.
type Options struct {
	Scenarios []scenario.Scenario
	// MemOnly runs everything over the in-memory link, even as root.
	MemOnly bool
	// Exe is the pydevts binary, run as `bench-peer` for each side of the
	// TUN and loopback runs; empty means this process's own executable.
	Exe string
	// Progress shows where the run is; nil shows nothing.
	Progress Progress
	// Notes receives one-line notes (why scenarios are skipped); nil
	// discards them.
	Notes io.Writer
}

// Progress follows a benchmark.
type Progress interface {
	Begin(runs int, estimate time.Duration)
	Step(run int, desc string, left time.Duration)
	End()
}

// run is one planned run.
type run struct {
	s         scenario.Scenario
	rep       int
	transport string // or, for the fairness workload, the row's flows ("pydevts+tcp-cubic")
}

// plan lists the runs: each scenario's transports one after another,
// repetition by repetition, rotating their order so that background load
// and warm caches fall on every transport alike.
func plan(ss []scenario.Scenario) []run {
	var out []run
	for _, s := range ss {
		rows := rowsOf(s)
		for rep := range s.Repetitions {
			n := len(rows)
			for i := range n {
				out = append(out, run{s: s, rep: rep, transport: rows[(i+rep)%n]})
			}
		}
	}
	return out
}

// perRunOverhead estimates what a run costs beyond its duration: link
// setup and teardown, process start, handshake, idle probes.
const perRunOverhead = 1500 * time.Millisecond

// Run runs the scenarios and returns one Result per run.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	notes := opts.Notes
	if notes == nil {
		notes = io.Discard
	}
	exe := opts.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("bench: finding the pydevts binary for the peer processes: %w", err)
		}
	}
	var tunErr error
	if opts.MemOnly {
		tunErr = fmt.Errorf("--memnet was given")
	} else if tunErr = linkemu.Probe(); tunErr != nil {
		fmt.Fprintf(notes, "bench: TUN link scenarios skipped: %v; pydevts and quic-go run over the in-memory link instead, kernel TCP shows n/a\n", tunErr)
	}
	runs := plan(opts.Scenarios)
	var estimate time.Duration
	for _, r := range runs {
		estimate += r.s.Duration + perRunOverhead
	}
	p := opts.Progress
	if p == nil {
		p = noProgress{}
	}
	p.Begin(len(runs), estimate)
	defer p.End()
	var results []Result
	for i, r := range runs {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		p.Step(i, fmt.Sprintf("%s · %s · rep %d/%d", r.s.Name, r.transport, r.rep+1, r.s.Repetitions), estimate)
		estimate -= r.s.Duration + perRunOverhead
		results = append(results, runOne(ctx, r, exe, tunErr))
	}
	return results, nil
}

func runOne(ctx context.Context, r run, exe string, tunErr error) Result {
	res := Result{
		Scenario: r.s.Name, Group: r.s.Group, Matrix: r.s.Matrix, Transport: r.transport, Workload: r.s.Workload,
		Repetition: r.rep, Start: time.Now(), Lost: -1, FECRecoveries: -1, Messages: newMessageResult(r.s),
	}
	if err := checkMessages(peerConfigFor(r)); err != nil {
		res.Err = err.Error()
		return res
	}
	switch {
	case r.s.Workload == scenario.WorkloadIdle:
		runIdle(ctx, r, exe, tunErr, &res)
	case r.s.Workload == scenario.WorkloadFairness:
		runFairness(ctx, r, exe, tunErr, &res)
	case r.s.Ceiling:
		res.Emulator = "loopback"
		runLoopback(ctx, r, exe, &res)
	case tunErr == nil:
		res.Emulator = "tun"
		runTUN(ctx, r, exe, &res)
	case udpBased(r.transport):
		res.Emulator = "memnet"
		runMem(ctx, r, &res)
	default:
		res.Skipped = "needs root and /dev/net/tun"
	}
	return res
}

// fill completes a result from the two sides' reports.
func fill(res *Result, srv serverReport, cl clientReport) {
	// The client's failure is the cause when both failed: a server that
	// waited for a client that never connected fails too.
	switch {
	case cl.Err != "":
		res.Err = "client: " + cl.Err
	case srv.Err != "":
		res.Err = "server: " + srv.Err
	}
	res.WindowBytes, res.Seconds = srv.Window, srv.Seconds
	if srv.Seconds > 0 {
		res.GoodputMbps = float64(srv.Window) * 8 / srv.Seconds / 1e6
	}
	res.LatencyIdle, res.LatencyLoaded = percentiles(cl.Idle), percentiles(cl.Loaded)
	res.ProbeErr = cl.ProbeErr
	res.Lost = cl.Lost
	res.FECRecoveries = srv.Recovered
	res.CPUClient, res.CPUServer = cl.CPU, srv.CPU
	res.RSSClient, res.RSSServer = cl.MaxRSS, srv.MaxRSS
	if res.CPUTotal == 0 {
		res.CPUTotal = cl.CPU + srv.CPU
	}
	if res.CPUTotal > 0 {
		res.MBPerCPUSecond = float64(srv.Total) / 1e6 / res.CPUTotal
	}
	fillMessages(res, srv, cl)
	res.Valid = res.Err == "" && len(res.Problems) == 0
}

type noProgress struct{}

func (noProgress) Begin(int, time.Duration)        {}
func (noProgress) Step(int, string, time.Duration) {}
func (noProgress) End()                            {}
