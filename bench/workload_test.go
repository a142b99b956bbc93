package bench

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
)

// tableHas checks that the table of sums has each of wants, and returns it.
func tableHas(t *testing.T, sums []Summary, wants ...string) string {
	t.Helper()
	var b bytes.Buffer
	WriteTable(&b, sums)
	out := b.String()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	return out
}

func TestJain(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{10, 10}, 1},
		{[]float64{10, 0}, 0.5}, // one took all: 1/n
		{[]float64{30, 10}, 0.8},
		{[]float64{1, 2, 3}, 36.0 / 42},
		{[]float64{0, 0}, 0},
	} {
		if got := jain(tt.xs); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("jain(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

// fairnessRun is a valid fairness run with the given goodputs.
func fairnessRun(row string, goodputs ...float64) Result {
	res := Result{Scenario: "f", Transport: row, Workload: scenario.WorkloadFairness, Lost: -1}
	var runs []Result
	for _, g := range goodputs {
		runs = append(runs, Result{GoodputMbps: g, Lost: 3})
	}
	fillFairness(&res, flowsOf(row), runs, make([]time.Time, len(goodputs)))
	return res
}

// TestFlowRun: with a stagger, both flows count goodput over the same
// span, from the second's warm-up to the first's end.
func TestFlowRun(t *testing.T) {
	r := run{transport: "pydevts+tcp-cubic", s: scenario.Scenario{Duration: 25 * time.Second, Warmup: 5 * time.Second, Stagger: 3 * time.Second}}
	flows := flowsOf(r.transport)
	first, second := flowRun(r, flows, 0), flowRun(r, flows, 1)
	if first.transport != "pydevts" || first.s.Duration != 25*time.Second || first.s.Warmup != 8*time.Second ||
		second.transport != "tcp-cubic" || second.s.Duration != 22*time.Second || second.s.Warmup != 5*time.Second {
		t.Fatalf("first %s %v/%v, second %s %v/%v", first.transport, first.s.Duration, first.s.Warmup,
			second.transport, second.s.Duration, second.s.Warmup)
	}
	if r.s.Warmup != 5*time.Second || r.s.Duration != 25*time.Second {
		t.Fatal("flowRun changed the run it was given")
	}
}

func TestFillFairness(t *testing.T) {
	r := fairnessRun("pydevts+tcp-cubic", 30, 10)
	f := r.Fairness
	if !r.Valid || r.GoodputMbps != 40 || r.Lost != 6 || f.Jain != 0.8 || f.Ratio == nil || *f.Ratio != 3 ||
		len(f.Flows) != 2 || f.Flows[1].Transport != "tcp-cubic" || f.Flows[1].GoodputMbps != 10 {
		t.Fatalf("%+v, fairness %+v", r, f)
	}
	if r := fairnessRun("pydevts+tcp-cubic", 30, 0); r.Fairness.Ratio != nil || r.Fairness.Jain != 0.5 {
		t.Fatalf("a starved second flow: ratio %v, Jain %v", r.Fairness.Ratio, r.Fairness.Jain)
	}
	// A failed flow fails the run, and names the flow.
	res := Result{Transport: "pydevts+pydevts", Lost: -1}
	fillFairness(&res, []string{"pydevts", "pydevts"}, []Result{{GoodputMbps: 1}, {Err: "client: dial: boom", Lost: -1}}, make([]time.Time, 2))
	if res.Valid || res.Err != "flow 2 (pydevts): client: dial: boom" || res.Lost != -1 {
		t.Fatalf("a failed flow: %+v", res)
	}
}

// TestFairnessTable: medians over the valid runs, each pair against the
// target issue 5 sets for it, whichever flow is first.
func TestFairnessTable(t *testing.T) {
	results := []Result{
		fairnessRun("pydevts+pydevts", 25, 24), fairnessRun("pydevts+pydevts", 30, 10),
		fairnessRun("tcp-cubic+pydevts", 10, 30), fairnessRun("tcp-cubic+pydevts", 12, 30),
		fairnessRun("pydevts+tcp-cubic", 45, 0),
		fairnessRun("quic-go+tcp-bbr", 20, 20),
		{Scenario: "f", Transport: "pydevts+tcp-bbr", Workload: scenario.WorkloadFairness, Skipped: "needs root"},
	}
	sums := Summarize(results)
	if len(sums) != 5 {
		t.Fatalf("%d summaries", len(sums))
	}
	if fs := sums[0].Fairness; fs.Jain.N != 2 || fs.Goodputs[0].Median != 27.5 || fs.Ratio.Max != 3 {
		t.Errorf("pydevts+pydevts: %+v", fs)
	}
	out := tableHas(t, sums,
		// Jain of (25, 24) is 0.9996 and of (30, 10) 0.8
		"| f | pydevts vs pydevts | 27.5 (25.0–30.0) | 17.0 (10.0–24.0) | 0.900 (0.800–1.000) | 2.02 (1.04–3.00) | Jain ≥ 0.8 | yes | 2/2 |",
		// pydevts second: its share is 1 over the median ratio, 2.73
		"| f | tcp-cubic vs pydevts | 11.0 (10.0–12.0) | 30.0 | 0.822 (0.800–0.845) | 0.37 (0.33–0.40) | pydevts ≤ 2× CUBIC | no | 2/2 |",
		"| f | pydevts vs tcp-cubic | 45.0 | 0.0 | 0.500 | ∞ | pydevts ≤ 2× CUBIC | no | 1/1 |",
		"| f | quic-go vs tcp-bbr | 20.0 | 20.0 | 1.000 | 1.00 | – | – | 1/1 |",
		"| f | pydevts vs tcp-bbr | n/a |",
	)
	if strings.Contains(out, "goodput Mbit/s") {
		t.Errorf("a bulk table without bulk rows:\n%s", out)
	}
}

func TestIdleTable(t *testing.T) {
	idle := func(transport string, cpu, goPerConn float64, err string) Result {
		r := Result{Scenario: "i", Transport: transport, Workload: scenario.WorkloadIdle, Lost: -1}
		srv := idleReport{Connections: 10, Established: 10, Verified: 10, GoBefore: 1000, GoIdle: 1000 + int64(goPerConn*10),
			RSSBefore: 1 << 20, RSSIdle: 1<<20 + 20480, WindowSeconds: 2, WindowCPU: cpu / 50, Packets: 40, PacketSeconds: 30, Err: err}
		fillIdle(&r, srv, idleReport{Connections: 10, Established: 10})
		return r
	}
	results := []Result{
		idle("pydevts", 1, 12<<10, ""), idle("pydevts", 3, 14<<10, ""),
		idle("quic-go", 2, 40<<10, ""),
		idle("pydevts", 1, 12<<10, ""), // second scenario below
		{Scenario: "j", Transport: "pydevts", Workload: scenario.WorkloadIdle, Skipped: "needs root"},
	}
	results[3].Scenario = "k"
	results = append(results, idle("pydevts", 1, 1, "3 of 10 connections did not answer after 30s idle"))
	results[5].Scenario = "k"
	r := results[0]
	if !r.Valid || r.Idle.CPUPercent != 1 || r.Idle.GoPerConn != 12<<10 || r.Idle.RSSPerConn != 2048 || r.Idle.PacketsPerConnMinute != 8 {
		t.Fatalf("%+v, idle %+v", r, r.Idle)
	}
	tableHas(t, Summarize(results),
		"| i | pydevts | 10 | 2.00 (1.00–3.00) | 13.0 (12.0–14.0) | 2.0 | 8.0 | < 5 % CPU, < 16 KiB | yes | 2/2 |",
		"| i | quic-go | 10 | 2.00 | 40.0 | 2.0 | 8.0 | – | – | 1/1 |",
		"| k | pydevts | 10 | 1.00 | 12.0 | 2.0 | 8.0 | < 5 % CPU, < 16 KiB | no: a run failed | 1/2 (server: 3 of 10 connections did not answer",
		"| j | pydevts | n/a |",
	)
	if v := idleVerdict(Summary{Transport: "pydevts", Idle: &IdleSummary{CPUPercent: Spread{Median: 6, N: 1}, GoPerConn: Spread{Median: 17 << 10, N: 1}}}); v != "no: CPU, memory" {
		t.Errorf("verdict %q", v)
	}
}

// TestFillIdleBlame: when the server waited for connections the client
// could not open, the client's error is the cause.
func TestFillIdleBlame(t *testing.T) {
	var r Result
	fillIdle(&r, idleReport{Connections: 5, Established: 3, Err: "3 of 5 connections established within 2m0s"},
		idleReport{Connections: 5, Established: 3, Err: "connecting: timeout"})
	if r.Valid || r.Err != "client: connecting: timeout" {
		t.Fatalf("%+v", r)
	}
}

func TestRowsOf(t *testing.T) {
	s := scenario.Scenario{Workload: scenario.WorkloadFairness, Transports: []string{"pydevts", "tcp-cubic"},
		Flows: [][]string{{"pydevts", "pydevts"}, {"pydevts", "tcp-cubic"}}}
	if got := rowsOf(s); !slices.Equal(got, []string{"pydevts+pydevts", "pydevts+tcp-cubic"}) {
		t.Fatalf("rows %q", got)
	}
	s.Transports = []string{"pydevts"} // --transports pydevts
	if got := rowsOf(s); !slices.Equal(got, []string{"pydevts+pydevts"}) {
		t.Fatalf("rows %q after narrowing", got)
	}
	s.Repetitions = 2
	var order []string
	for _, r := range plan([]scenario.Scenario{s}) {
		order = append(order, r.transport)
	}
	if !slices.Equal(order, []string{"pydevts+pydevts", "pydevts+pydevts"}) {
		t.Fatalf("plan %q", order)
	}
}

// parse parses a scenario file that must be good.
func parse(t *testing.T, file string) []scenario.Scenario {
	t.Helper()
	ss, err := scenario.Parse([]byte(file), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// checkIdle checks the real outcomes of idle runs: every connection was
// established and still answered at the end, and the server reported its
// measurements. The figures themselves are the benchmark's business.
func checkIdle(t *testing.T, results []Result, emulator string, n int) {
	t.Helper()
	if len(results) == 0 {
		t.Fatal("no results")
	}
	for _, r := range results {
		name := r.Scenario + "/" + r.Transport
		ir := r.Idle
		switch {
		case r.Err != "" || !r.Valid || r.Emulator != emulator:
			t.Errorf("%s: %s %v (emulator %s)", name, r.Err, r.Problems, r.Emulator)
		case ir == nil:
			t.Errorf("%s: no idle measurements", name)
		case ir.Connections != n || ir.Established != n || ir.Verified != n:
			t.Errorf("%s: %d connections asked, %d established, %d open at the end", name, ir.Connections, ir.Established, ir.Verified)
		case ir.WindowSeconds <= 0 || ir.GoBefore <= 0 || ir.GoIdle <= 0 || ir.RSSIdle <= 0 || r.CPUServer <= 0 || ir.CPUPercent < 0:
			t.Errorf("%s: measurements missing: %+v, server CPU %v", name, ir, r.CPUServer)
		}
	}
}

// TestRunIdleLoopback runs the idle workload for both its transports on
// loopback, which needs no privileges.
func TestRunIdleLoopback(t *testing.T) {
	ss := parse(t, `
scenarios:
  - name: idle
    workload: idle
    ceiling: true
    connections: 20
    duration: 2500ms
    warmup: 500ms
    repetitions: 1
    transports: [pydevts, quic-go]
`)
	results, err := Run(context.Background(), Options{Scenarios: ss})
	if err != nil {
		t.Fatal(err)
	}
	checkIdle(t, results, "loopback", 20)
}

// TestRunWorkloadsTUN runs the idle and fairness workloads across a real
// TUN link. It needs root (CI runs it).
func TestRunWorkloadsTUN(t *testing.T) {
	requireLink(t)
	ss := parse(t, `
defaults:
  duration: 2500ms
  warmup: 500ms
  repetitions: 1
scenarios:
  - name: idle
    workload: idle
    connections: 10
    link: {delay: 2ms}
    transports: [pydevts]
  - name: fair
    workload: fairness
    link: {delay: 5ms, rate: 20mbit}
    flows: [pydevts, tcp-cubic]
    stagger: 200ms
`)
	results, err := Run(context.Background(), Options{Scenarios: ss})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	checkIdle(t, results[:1], "tun", 10)
	r := results[1]
	f := r.Fairness
	if r.Err != "" || r.Emulator != "tun" || f == nil || len(f.Flows) != 2 {
		t.Fatalf("fairness run: %s (emulator %s), %+v", r.Err, r.Emulator, f)
	}
	// Both flows moved data, together about what the bottleneck carries
	// at most (each flow's window starts at its own first byte, so a
	// queue that drains into one flow's window can add a little); the
	// index and ratio are those of the goodputs.
	g0, g1 := f.Flows[0].GoodputMbps, f.Flows[1].GoodputMbps
	if g0 <= 0 || g1 <= 0 || g0+g1 > 20*1.15 || f.Flows[0].Transport != "pydevts" || f.Flows[1].Transport != "tcp-cubic" {
		t.Errorf("flows %+v", f.Flows)
	}
	if f.Jain != jain([]float64{g0, g1}) || f.Ratio == nil || *f.Ratio != g0/g1 || r.Link.PacketsAB == 0 {
		t.Errorf("Jain %v, ratio %v for goodputs %v and %v; link %+v", f.Jain, f.Ratio, g0, g1, r.Link)
	}
}

// TestWriteTableOrder: the bulk table first, then each other workload's
// own table in the order messages, idle, fairness, a blank line between
// two, each row in its workload's table only.
func TestWriteTableOrder(t *testing.T) {
	results := []Result{
		fairnessRun("pydevts+tcp-cubic", 30, 20),
		{Scenario: "i", Transport: "pydevts", Workload: scenario.WorkloadIdle, Skipped: "needs root"},
		{Scenario: "m", Transport: "quic-go", Workload: scenario.WorkloadMessages, Valid: true, Lost: 2,
			Messages: &MessageResult{Size: 1024, Rate: 200, Sent: 10, Delivered: 10, Latency: Percentiles{P50: 1, P90: 2, P99: 3, Max: 4, N: 10}, BaseRTT: 2, P99RTTs: 1.5}},
		{Scenario: "b", Transport: "pydevts", Valid: true, GoodputMbps: 90, Lost: 1},
	}
	out := tableHas(t, Summarize(results), "| b | pydevts | 90.0 |", "| m | quic-go | 10/10 |", "| i | pydevts | n/a |", "| f | pydevts vs tcp-cubic | 30.0 |")
	tables := strings.Split(out, "\n\n")
	heads := []string{"| scenario | transport | goodput Mbit/s", "| scenario | transport | delivered/sent", "| scenario | transport | connections", "| scenario | flows |"}
	rows := []string{"| b |", "| m |", "| i |", "| f |"}
	if len(tables) != len(heads) {
		t.Fatalf("%d tables, want %d:\n%s", len(tables), len(heads), out)
	}
	for i, tb := range tables {
		if !strings.HasPrefix(tb, heads[i]) {
			t.Errorf("table %d does not start with %q:\n%s", i, heads[i], tb)
		}
		for j, row := range rows {
			if strings.Contains(tb, row) != (i == j) {
				t.Errorf("table %d and row %q:\n%s", i, row, tb)
			}
		}
	}
	// No summary at all: the bulk table's header alone.
	var b bytes.Buffer
	WriteTable(&b, nil)
	if got := b.String(); !strings.HasPrefix(got, heads[0]) || strings.Count(got, "\n") != 2 {
		t.Errorf("no summaries:\n%q", got)
	}
}
