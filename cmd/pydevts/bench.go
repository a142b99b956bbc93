package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/pydevts/pydevts/bench"
	"github.com/pydevts/pydevts/bench/scenario"
)

// runBench: pydevts bench [--full] [--scenarios FILE] [--out DIR] ...
func runBench(args []string, std stdio) error {
	fl := newFlags("bench", "", std.errOut)
	full := fl.Bool("full", false, "run the whole scenario matrix (default: the quick set, under 3 minutes)")
	file := fl.String("scenarios", "", "run the scenarios in this YAML `file`")
	print := fl.Bool("print-scenarios", false, "print the built-in scenarios as YAML (with --full, the whole matrix) and exit")
	out := fl.String("out", "bench-results", "write results.jsonl, summary.md and charts into this `dir`")
	only := fl.String("transports", "", "run only these transports (comma-separated: "+strings.Join(scenario.KnownTransports, ", ")+")")
	reps := fl.Int("repetitions", 0, "override every scenario's repetitions")
	dur := fl.Duration("duration", 0, "override every scenario's duration (warm-up included)")
	memnet := fl.Bool("memnet", false, "use the in-memory link even as root (no kernel TCP)")
	report := fl.String("report", "", "run nothing: table and charts from an earlier run's results.jsonl `file`")
	soak := fl.Bool("soak", false, "run the soak instead: connections opened, used and closed over and over across a link losing 5 % each way")
	soakDur := fl.Duration("soak-duration", 10*time.Minute, "how long the soak runs")
	soakConns := fl.Int("soak-conns", 200, "connections at a time in the soak")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "no arguments"); err != nil {
		return err
	}
	if *soak {
		return runSoak(*soakDur, *soakConns, std)
	}
	if *print {
		if *full {
			std.out.Write(scenario.FullYAML())
		} else {
			std.out.Write(scenario.DefaultYAML())
		}
		return nil
	}
	if *report != "" {
		return reportResults(*report, *out, std)
	}
	var ss []scenario.Scenario
	switch {
	case *file != "":
		data, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		if ss, err = scenario.Parse(data, *file); err != nil {
			return err
		}
	case *full:
		ss = scenario.Full()
	default:
		ss = scenario.Default()
	}
	if ss, err = adjust(ss, *only, *reps, *dur); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ctx, stop := interrupted()
	defer stop()
	isTerm := false
	if f, ok := std.errOut.(*os.File); ok {
		isTerm = term.IsTerminal(int(f.Fd()))
	}
	started := time.Now()
	results, runErr := bench.Run(ctx, bench.Options{
		Scenarios: ss,
		MemOnly:   *memnet,
		Progress:  bench.NewProgress(std.errOut, isTerm),
		Notes:     std.errOut,
	})
	if len(results) == 0 {
		return interruptedErr(ctx, runErr)
	}
	sums := bench.Summarize(results)
	var table bytes.Buffer
	bench.WriteTable(&table, sums)
	host, _ := os.Hostname()
	header := fmt.Sprintf("pydevts bench, %s, %s, %d runs in %v\n\n", started.Format("2006-01-02 15:04 MST"), host, len(results), time.Since(started).Round(time.Second))
	std.out.Write([]byte(header))
	std.out.Write(table.Bytes())
	if err := writeResults(*out, header, table.Bytes(), results, sums); err != nil {
		return err
	}
	fmt.Fprintf(std.errOut, "bench: results in %s\n", *out)
	return interruptedErr(ctx, runErr)
}

// reportResults prints the table and redraws the charts of an earlier run.
func reportResults(file, out string, std stdio) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	results, err := bench.ReadJSONLines(f)
	f.Close()
	if err != nil {
		return err
	}
	if len(results) == 0 {
		return fmt.Errorf("%s holds no results", file)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	sums := bench.Summarize(results)
	var table bytes.Buffer
	bench.WriteTable(&table, sums)
	header := fmt.Sprintf("pydevts bench, %s, %d runs (from %s)\n\n", results[0].Start.Format("2006-01-02 15:04 MST"), len(results), file)
	std.out.Write([]byte(header))
	std.out.Write(table.Bytes())
	if err := os.WriteFile(filepath.Join(out, "summary.md"), append([]byte(header), table.Bytes()...), 0o644); err != nil {
		return err
	}
	_, err = bench.WriteCharts(out, sums)
	return err
}

// adjust applies the command-line overrides to the scenarios.
func adjust(ss []scenario.Scenario, only string, reps int, dur time.Duration) ([]scenario.Scenario, error) {
	var keep []string
	if only != "" {
		for _, t := range strings.Split(only, ",") {
			t = strings.TrimSpace(t)
			if !slices.Contains(scenario.KnownTransports, t) {
				return nil, fmt.Errorf("%w: unknown transport %q (known: %s)", errUsage, t, strings.Join(scenario.KnownTransports, ", "))
			}
			keep = append(keep, t)
		}
	}
	if reps < 0 || dur < 0 {
		return nil, fmt.Errorf("%w: --repetitions and --duration must not be negative", errUsage)
	}
	var out []scenario.Scenario
	for _, s := range ss {
		if keep != nil {
			s.Transports = slices.DeleteFunc(slices.Clone(s.Transports), func(t string) bool { return !slices.Contains(keep, t) })
			if len(s.Transports) == 0 {
				continue
			}
		}
		if reps > 0 {
			s.Repetitions = reps
		}
		if dur > 0 {
			if dur <= s.Warmup {
				return nil, fmt.Errorf("%w: --duration %v is not longer than %s's warm-up %v", errUsage, dur, s.Name, s.Warmup)
			}
			if dur <= s.Warmup+s.Stagger {
				return nil, fmt.Errorf("%w: --duration %v is not longer than %s's warm-up %v and stagger %v", errUsage, dur, s.Name, s.Warmup, s.Stagger)
			}
			if n := len(s.Timeline); n > 0 && s.Timeline[n-1].At >= dur {
				return nil, fmt.Errorf("%w: --duration %v would cut %s's timeline (its last change is at %v)", errUsage, dur, s.Name, s.Timeline[n-1].At)
			}
			s.Duration = dur
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario runs any of the chosen transports")
	}
	return out, nil
}

func writeResults(dir, header string, table []byte, results []bench.Result, sums []bench.Summary) error {
	f, err := os.Create(filepath.Join(dir, "results.jsonl"))
	if err != nil {
		return err
	}
	if err := bench.WriteJSONLines(f, results); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), append([]byte(header), table...), 0o644); err != nil {
		return err
	}
	_, err = bench.WriteCharts(dir, sums)
	return err
}

// runBenchPeer: pydevts bench-peer (internal: one side of a bench run).
func runBenchPeer(args []string, std stdio) error {
	return bench.Peer(std.in, std.out)
}

// runSoak runs bench.Soak, printing a line per 10 s and a summary; it
// fails when the soak found problems.
func runSoak(d time.Duration, conns int, std stdio) error {
	if d <= 0 || conns <= 0 {
		return fmt.Errorf("%w: --soak-duration and --soak-conns must be positive", errUsage)
	}
	ctx, stop := interrupted()
	defer stop()
	fmt.Fprintf(std.errOut, "soak: %d connections at a time for %v, 5 %% loss each way, 5 ms one way\n", conns, d)
	res, err := bench.Soak(ctx, bench.SoakConfig{Conns: conns, Duration: d, Seed: uint64(time.Now().UnixNano()),
		SampleEvery: time.Second, Sample: func(s bench.SoakSample) {
			if s.At.Round(time.Second)%(10*time.Second) == 0 {
				fmt.Fprintf(std.errOut, "soak: %4ds  %6d transfers  %d failed  %5d goroutines  heap %4d MiB\n",
					int(s.At.Seconds()), s.Transfers, s.Failures, s.Goroutines, s.HeapInuse>>20)
			}
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "transfers:   %d verified (%d MiB), %d failed\nmessages:    %d\ngoroutines:  %d before, %d after\nheap:        %d MiB after warm-up, %d MiB at the end\n",
		res.Transfers, res.Bytes>>20, res.Failures, res.Messages, res.GoroutinesBefore, res.GoroutinesAfter, res.HeapWarm>>20, res.HeapEnd>>20)
	for i, dir := range []string{"client to server", "server to client"} {
		l := res.Link[i]
		fmt.Fprintf(std.out, "link:        %s: %d packets, %d lost (%.2f %%), %d dropped at a full inbox\n",
			dir, l.Packets, l.Lost, 100*float64(l.Lost)/float64(max(l.Packets, 1)), l.InboxDrops)
	}
	s := res.Server
	fmt.Fprintf(std.out, "server:      %d handshakes accepted, %d refused, %d cookie replies; %d packets dropped at a full queue\n",
		s.HandshakesAccepted, s.HandshakesDropped, s.CookiesSent, s.DroppedQueueFull)
	if len(res.Problems) > 0 {
		return fmt.Errorf("soak: %s", strings.Join(res.Problems, "; "))
	}
	fmt.Fprintln(std.out, "result:      passed")
	return nil
}
