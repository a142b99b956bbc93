package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/bench/scenario"
)

// The fairness workload: two bulk transfers, each a server and client
// pair of processes as in a bulk run, cross one TUN link at once, so that
// they share its bottleneck (the A to B rate and queue). Each server
// counts its own goodput after the warm-up; how evenly the two shared is
// Jain's index over the two goodputs and their ratio.

// The targets of issue 5 for two flows over a 50 Mbit/s bottleneck.
const (
	jainTarget  = 0.8 // between two pydevts flows
	shareTarget = 2.0 // the most pydevts may take of TCP CUBIC's share
)

// flowSep joins the transports of a fairness row's name: "pydevts+tcp-cubic".
const flowSep = "+"

// flowsOf splits a fairness row's name into its transports.
func flowsOf(row string) []string { return strings.Split(row, flowSep) }

// FairnessResult is what a fairness run measured.
type FairnessResult struct {
	Flows []FlowResult `json:"flows"`
	// Jain is Jain's fairness index over the flows' goodputs,
	// (Σx)²/(n·Σx²): 1 when they are equal, 1/n when one took all; 0
	// when nothing moved.
	Jain float64 `json:"jain"`
	// Ratio is the first flow's goodput over the second's; absent when
	// the second moved nothing.
	Ratio *float64 `json:"ratio,omitempty"`
	// StartSkewMs is how long after the first flow's bulk transfer the
	// second's began, the scenario's stagger included.
	StartSkewMs float64 `json:"start_skew_ms"`
}

// FlowResult is one flow of a fairness run.
type FlowResult struct {
	Transport     string      `json:"transport"`
	GoodputMbps   float64     `json:"goodput_mbps"` // receiver side, while both flows ran, warm-up excluded
	Seconds       float64     `json:"seconds"`
	Lost          int64       `json:"lost_packets"`
	LatencyLoaded Percentiles `json:"latency_loaded_ms"`
	CPUClient     float64     `json:"cpu_client_s"`
	CPUServer     float64     `json:"cpu_server_s"`
	Err           string      `json:"error,omitempty"`
}

// jain is Jain's fairness index of xs, 0 when all are 0.
func jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// runFairness runs both flows of a fairness row at once across one TUN
// link, each flow a bulk run of its own pair of processes.
func runFairness(ctx context.Context, r run, exe string, tunErr error, res *Result) {
	if tunErr != nil {
		res.Skipped = "needs root and /dev/net/tun: the flows share one emulated bottleneck"
		return
	}
	res.Emulator = "tun"
	onLink(r, res, func(link *linkemu.Link) {
		flows := flowsOf(r.transport)
		runs := make([]Result, len(flows))
		starts := make([]time.Time, len(flows))
		var wg sync.WaitGroup
		for i := range flows {
			fr := flowRun(r, flows, i)
			sd := tunSides(link, exe)
			sd.bulkStarted = func() { starts[i] = time.Now() }
			runs[i] = Result{Lost: -1}
			wg.Go(func() {
				if i > 0 && r.s.Stagger > 0 {
					select {
					case <-time.After(r.s.Stagger):
					case <-ctx.Done():
						runs[i].Err = ctx.Err().Error()
						return
					}
				}
				runPeers(ctx, fr, exe, &runs[i], sd)
			})
		}
		wg.Wait()
		fillFairness(res, flows, runs, starts)
	})
}

// flowRun is the bulk run of flow i of a fairness run. Goodput counts
// only while both flows run: the first flow's warm-up takes in the
// stagger, and the second, which starts that much later, stops with the
// first.
func flowRun(r run, flows []string, i int) run {
	fr := r
	fr.transport = flows[i]
	fr.s.Workload = scenario.WorkloadBulk // what its peers run
	if i == 0 {
		fr.s.Warmup += r.s.Stagger
	} else {
		fr.s.Duration -= r.s.Stagger
	}
	return fr
}

// fillFairness completes a fairness run's result from its flows' runs.
func fillFairness(res *Result, flows []string, runs []Result, starts []time.Time) {
	fr := &FairnessResult{}
	var goodputs []float64
	for i, t := range flows {
		x := runs[i]
		fr.Flows = append(fr.Flows, FlowResult{Transport: t, GoodputMbps: x.GoodputMbps, Seconds: x.Seconds, Lost: x.Lost,
			LatencyLoaded: x.LatencyLoaded, CPUClient: x.CPUClient, CPUServer: x.CPUServer, Err: x.Err})
		if x.Err != "" && res.Err == "" {
			res.Err = fmt.Sprintf("flow %d (%s): %s", i+1, t, x.Err)
		}
		goodputs = append(goodputs, x.GoodputMbps)
		res.GoodputMbps += x.GoodputMbps
		res.WindowBytes += x.WindowBytes
		res.CPUClient += x.CPUClient
		res.CPUServer += x.CPUServer
		res.RSSClient = max(res.RSSClient, x.RSSClient)
		res.RSSServer = max(res.RSSServer, x.RSSServer)
		switch {
		case i == 0:
			res.Lost = x.Lost
		case x.Lost < 0 || res.Lost < 0:
			res.Lost = -1 // one flow's transport does not say
		default:
			res.Lost += x.Lost
		}
	}
	res.Seconds = runs[0].Seconds
	res.CPUTotal = res.CPUClient + res.CPUServer
	fr.Jain = jain(goodputs)
	if goodputs[1] > 0 {
		ratio := goodputs[0] / goodputs[1]
		fr.Ratio = &ratio
	}
	if !starts[0].IsZero() && !starts[1].IsZero() {
		fr.StartSkewMs = ms(starts[1].Sub(starts[0]))
	}
	res.Fairness = fr
	res.Valid = res.Err == "" && len(res.Problems) == 0
}

// FairnessSummary is the median and range of a fairness row's valid runs.
type FairnessSummary struct {
	Flows    []string
	Goodputs []Spread // per flow, Mbit/s
	// Ratio is first over second; +Inf for a run where only the first
	// moved anything.
	Jain, Ratio Spread
}

func summarizeFairness(row string, valid []Result) *FairnessSummary {
	s := &FairnessSummary{Flows: flowsOf(row)}
	goodputs := make([][]float64, len(s.Flows))
	var jains, ratios []float64
	for _, r := range valid {
		if r.Fairness == nil || len(r.Fairness.Flows) != len(s.Flows) {
			continue
		}
		var xs []float64
		for i, f := range r.Fairness.Flows {
			goodputs[i] = append(goodputs[i], f.GoodputMbps)
			xs = append(xs, f.GoodputMbps)
		}
		jains = append(jains, jain(xs))
		if xs[0] > 0 || xs[1] > 0 {
			ratios = append(ratios, xs[0]/xs[1]) // +Inf when the second moved nothing
		}
	}
	for _, g := range goodputs {
		s.Goodputs = append(s.Goodputs, spread(g))
	}
	s.Jain, s.Ratio = spread(jains), spread(ratios)
	return s
}

// fairnessTarget returns issue 5's target for a pair of flows, if it has
// one, and whether the medians meet it: Jain's index between two pydevts
// flows, and pydevts's share against TCP CUBIC's.
func fairnessTarget(s Summary) (target, met string) {
	fs := s.Fairness
	if fs == nil || len(fs.Flows) != 2 {
		return "–", "–"
	}
	a, b := fs.Flows[0], fs.Flows[1]
	var ok bool
	switch {
	case a == "pydevts" && b == "pydevts":
		target, ok = fmt.Sprintf("Jain ≥ %.1f", jainTarget), fs.Jain.Median >= jainTarget
	case a == "pydevts" && b == "tcp-cubic", a == "tcp-cubic" && b == "pydevts":
		share := fs.Ratio.Median
		if b == "pydevts" {
			share = 1 / share
		}
		target, ok = fmt.Sprintf("pydevts ≤ %.0f× CUBIC", shareTarget), share <= shareTarget
	default:
		return "–", "–"
	}
	switch {
	case len(s.Errors) > 0:
		return target, "no: a run failed"
	case fs.Jain.N == 0:
		return target, "–"
	case ok:
		return target, "yes"
	}
	return target, "no"
}

// writeFairnessTable writes the fairness rows as a Markdown table.
func writeFairnessTable(w io.Writer, sums []Summary) {
	header := []string{"scenario", "flows", "first Mbit/s", "second Mbit/s", "Jain index", "first/second", "target", "met?", "valid runs"}
	writeRows(w, header, sums, func(s Summary) []string {
		fs := s.Fairness
		if fs == nil || len(fs.Goodputs) != 2 {
			fs = &FairnessSummary{Goodputs: make([]Spread, 2)}
		}
		target, met := fairnessTarget(s)
		return []string{s.Scenario, s.Transport, fmtSpread(fs.Goodputs[0], 1), fmtSpread(fs.Goodputs[1], 1),
			fmtSpread(fs.Jain, 3), fmtRatio(fs.Ratio), target, met, s.validText()}
	})
}

// fmtRatio is fmtSpread with ∞ for a flow that starved the other.
func fmtRatio(s Spread) string {
	return strings.ReplaceAll(fmtSpread(s, 2), fmt.Sprint(math.Inf(1)), "∞")
}
