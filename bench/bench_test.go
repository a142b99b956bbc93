package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/bench/scenario"
)

// TestMain lets this test binary be the peer processes of TUN and loopback
// runs: the runner starts its own executable as `bench-peer`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bench-peer" {
		if err := Peer(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestPercentiles(t *testing.T) {
	var s []float64
	for i := 100; i >= 1; i-- {
		s = append(s, float64(i))
	}
	p := percentiles(s)
	if p.P50 != 50 || p.P90 != 90 || p.P99 != 99 || p.N != 100 {
		t.Fatalf("percentiles of 1..100: %+v", p)
	}
	if p := percentiles([]float64{7}); p.P50 != 7 || p.P99 != 7 {
		t.Fatalf("one sample: %+v", p)
	}
	if p := percentiles(nil); p.N != 0 {
		t.Fatal("no samples")
	}
}

func TestPlanRotates(t *testing.T) {
	s := scenario.Scenario{Name: "x", Repetitions: 3, Transports: []string{"a", "b", "c"}}
	var order []string
	for _, r := range plan([]scenario.Scenario{s}) {
		order = append(order, r.transport)
	}
	if got := strings.Join(order, ""); got != "abcbcacab" {
		t.Fatalf("run order %s, want each repetition rotated", got)
	}
}

// TestSummarize: medians and ranges over valid runs only; flagged, failed
// and skipped runs are counted but not averaged in.
func TestSummarize(t *testing.T) {
	rs := []Result{
		{Scenario: "s", Transport: "t", Valid: true, GoodputMbps: 10, LatencyLoaded: Percentiles{P50: 5, P99: 9, N: 3}, Lost: 4, MBPerCPUSecond: 100},
		{Scenario: "s", Transport: "t", Valid: true, GoodputMbps: 30, LatencyLoaded: Percentiles{P50: 7, P99: 11, N: 3}, Lost: 6, MBPerCPUSecond: 200},
		{Scenario: "s", Transport: "t", Valid: true, GoodputMbps: 20, Lost: -1},
		{Scenario: "s", Transport: "t", Valid: false, GoodputMbps: 999, Problems: []string{"loss off spec"}},
		{Scenario: "s", Transport: "t", Err: "boom"},
		{Scenario: "s", Transport: "u", Skipped: "needs root"},
	}
	sums := Summarize(rs)
	if len(sums) != 2 {
		t.Fatalf("%d summaries", len(sums))
	}
	s := sums[0]
	if s.Runs != 5 || s.Valid != 3 || s.Goodput != (Spread{Median: 20, Min: 10, Max: 30, N: 3}) {
		t.Fatalf("summary %+v", s)
	}
	if s.LoadedP50.Median != 6 || s.Lost.N != 2 || s.Lost.Median != 5 || len(s.Errors) != 1 {
		t.Fatalf("latency %+v lost %+v errors %v", s.LoadedP50, s.Lost, s.Errors)
	}
	var b bytes.Buffer
	WriteTable(&b, sums)
	out := b.String()
	for _, want := range []string{"| s | t | 20.0 (10.0–30.0) |", "3/5 (boom)", "| s | u | n/a |", "needs root"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckLink(t *testing.T) {
	s := scenario.Scenario{AB: linkemu.Spec{Loss: 0.05}}
	ok := linkemu.Stats{Packets: 10000, Lost: 510}
	off := linkemu.Stats{Packets: 10000, Lost: 900}
	if p := checkLink(s, ok, linkemu.Stats{}); len(p) != 0 {
		t.Fatalf("5.1%% measured for 5%%: %v", p)
	}
	if p := checkLink(s, off, linkemu.Stats{}); len(p) != 1 || !strings.Contains(p[0], "A->B loss 9.00%") {
		t.Fatalf("9%% measured for 5%%: %v", p)
	}
	if p := checkLink(s, linkemu.Stats{Packets: 100, InboxDrops: 3}, linkemu.Stats{}); len(p) == 0 {
		t.Fatal("inbox drops not flagged")
	}
	s.Timeline = []scenario.Event{{At: time.Second}}
	if p := checkLink(s, off, linkemu.Stats{}); len(p) != 0 {
		t.Fatal("a run with a timeline has no one target, yet was checked")
	}
}

func TestCharts(t *testing.T) {
	sums := []Summary{
		{Scenario: "random-loss/loss=1%", Group: "random-loss", Transport: "pydevts", Matrix: map[string]string{"loss": "1%"},
			Goodput: Spread{Median: 50, N: 1}, LoadedP50: Spread{Median: 21, N: 1}, LoadedP90: Spread{Median: 25, N: 1}, LoadedP99: Spread{Median: 40, N: 1}},
		{Scenario: "random-loss/loss=5%", Group: "random-loss", Transport: "pydevts", Matrix: map[string]string{"loss": "5%"}, Goodput: Spread{Median: 20, N: 1}},
		{Scenario: "random-loss/loss=1%", Group: "random-loss", Transport: "tcp-cubic", Matrix: map[string]string{"loss": "1%"}, Goodput: Spread{Median: 7, N: 1}},
		{Scenario: "random-loss/loss=5%", Group: "random-loss", Transport: "tcp-cubic", Matrix: map[string]string{"loss": "5%"}, Goodput: Spread{Median: 0, N: 1}},
	}
	dir := t.TempDir()
	files, err := WriteCharts(dir, sums)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"goodput-vs-loss-random-loss.png": true, "goodput-vs-loss-random-loss.svg": true,
		"latency-random-loss_loss-1pct.png": true, "latency-random-loss_loss-1pct.svg": true}
	for _, f := range files {
		delete(want, filepath.Base(f))
		b, _ := os.ReadFile(f)
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG", f)
		}
		if strings.HasSuffix(f, ".svg") && !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not an SVG", f)
		}
	}
	if len(want) > 0 {
		t.Fatalf("charts not written: %v (wrote %v)", want, files)
	}
}

// quick is a short scenario for the end-to-end tests.
func quick(t *testing.T, transports ...string) []scenario.Scenario {
	t.Helper()
	ss, err := scenario.Parse([]byte(`
defaults:
  duration: 1500ms
  warmup: 500ms
  repetitions: 1
scenarios:
  - name: clean
    link: {delay: 5ms, rate: 100mbit}
  - name: lossy
    link: {delay: 5ms, rate: 100mbit, loss: 2%}
`), "quick.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range ss {
		ss[i].Transports = transports
	}
	return ss
}

// TestRunInMemory runs the UDP transports end to end over the in-memory
// link, as a machine without root does.
func TestRunInMemory(t *testing.T) {
	var notes bytes.Buffer
	results, err := Run(context.Background(), Options{Scenarios: quick(t, "pydevts", "quic-go", "tcp-cubic"), MemOnly: true, Notes: &notes})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, "memnet")
}

// TestRunTUN runs every transport across a real TUN link, each side in its
// own process and namespace. It needs root (CI runs it).
func TestRunTUN(t *testing.T) {
	requireLink(t)
	results, err := Run(context.Background(), Options{Scenarios: quick(t, scenario.KnownTransports...)})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, "tun")
	for _, r := range results {
		if r.CPUClient <= 0 || r.CPUServer <= 0 || r.RSSClient <= 0 || r.RSSServer <= 0 {
			t.Errorf("%s/%s: per-side CPU or memory missing: %+v", r.Scenario, r.Transport, r)
		}
	}
}

// requireLink skips the test unless a TUN link can be built here (root and
// /dev/net/tun), with linkemu.Probe's reason, but fails it in CI, which
// sets PYDEVTS_REQUIRE_TOOLS and runs as root.
func requireLink(t *testing.T) {
	t.Helper()
	if err := linkemu.Probe(); err != nil {
		if os.Getenv("PYDEVTS_REQUIRE_TOOLS") != "" {
			t.Fatalf("TUN link unavailable in CI: %v", err)
		}
		t.Skipf("TUN link unavailable: %v", err)
	}
}

func checkResults(t *testing.T, results []Result, emulator string) {
	t.Helper()
	for _, r := range results {
		name := r.Scenario + "/" + r.Transport
		if r.Skipped != "" {
			if emulator != "memnet" || udpBased(r.Transport) {
				t.Errorf("%s skipped: %s", name, r.Skipped)
			}
			continue
		}
		if r.Err != "" || r.Emulator != emulator {
			t.Errorf("%s: %s (emulator %s)", name, r.Err, r.Emulator)
			continue
		}
		// 100 Mbit/s link: anything working moves at least a few Mbit/s
		// even at 2 % loss; goodput above the link rate would mean the
		// measurement is wrong.
		if r.GoodputMbps < 1 || r.GoodputMbps > 100 {
			t.Errorf("%s: goodput %.1f Mbit/s", name, r.GoodputMbps)
		}
		if r.LatencyIdle.N != idleProbes || r.LatencyIdle.P50 < 10 {
			t.Errorf("%s: idle latency %+v with a 10 ms RTT; %s", name, r.LatencyIdle, r.ProbeErr)
		}
		if r.LatencyLoaded.N == 0 || r.CPUTotal <= 0 {
			t.Errorf("%s: loaded latency %+v, CPU %v; %s", name, r.LatencyLoaded, r.CPUTotal, r.ProbeErr)
		}
		if strings.HasPrefix(r.Scenario, "lossy") && r.Link.LossAB == 0 {
			t.Errorf("%s: the lossy link lost nothing", name)
		}
	}
}
