package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/bench/scenario"
)

func TestBenchPrintScenarios(t *testing.T) {
	for _, args := range [][]string{{"bench", "--print-scenarios"}, {"bench", "--print-scenarios", "--full"}} {
		code, out, errOut := runCmd(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, errOut)
		}
		ss, err := scenario.Parse([]byte(out), "printed.yaml")
		if err != nil || len(ss) == 0 {
			t.Fatalf("%v printed scenarios that do not parse: %v", args, err)
		}
	}
}

func TestBenchErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("scenarios:\n  - name: x\n    link: {delay: 10ms, loss: 5 %}\n"), 0o644)
	staggered := filepath.Join(t.TempDir(), "staggered.yaml")
	os.WriteFile(staggered, []byte("scenarios:\n  - {name: f, workload: fairness, flows: [pydevts, pydevts], link: {rate: 1mbit}, stagger: 2s}\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"bench", "--transports", "tcp-vegas"}, 2, "unknown transport"},
		{[]string{"bench", "--duration", "500ms"}, 2, "not longer than"},
		{[]string{"bench", "--full", "--duration", "3s"}, 2, "would cut outage's timeline"},
		{[]string{"bench", "--scenarios", bad}, 1, "bad.yaml:3"},
		{[]string{"bench", "--scenarios", staggered, "--duration", "3s"}, 2, "not longer than f's warm-up 1s and stagger 2s"},
		{[]string{"bench", "--scenarios", "/nonexistent.yaml"}, 1, "no such file"},
		{[]string{"bench", "extra"}, 2, "no arguments"},
	} {
		code, _, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(errOut, c.says) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want exit %d saying %q in one line", c.args, code, errOut, c.code, c.says)
		}
	}
}

// TestBenchMemnet runs a short benchmark over the in-memory link and
// checks what it prints and writes.
func TestBenchMemnet(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCmd("bench", "--memnet", "--repetitions", "1", "--duration", "1500ms",
		"--transports", "pydevts,tcp-cubic", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"| clean | pydevts |", "| clean | tcp-cubic | n/a |", "random-loss/loss=5%"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"results.jsonl", "summary.md", "goodput-vs-loss-random-loss.png", "latency-clean.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if lines := strings.Count(readFile(t, filepath.Join(dir, "results.jsonl")), "\n"); lines != 6 {
		t.Errorf("results.jsonl has %d lines, want 6 runs", lines)
	}
	// The same table again from the saved results.
	again := t.TempDir()
	code, out2, errOut := runCmd("bench", "--report", filepath.Join(dir, "results.jsonl"), "--out", again)
	if code != 0 {
		t.Fatalf("--report: exit %d: %s", code, errOut)
	}
	if tableOf(out2) != tableOf(out) {
		t.Errorf("--report printed another table:\n%s\nwant:\n%s", tableOf(out2), tableOf(out))
	}
	if _, err := os.Stat(filepath.Join(again, "goodput-vs-loss-random-loss.svg")); err != nil {
		t.Errorf("--report drew no chart: %v", err)
	}
}

// tableOf returns the table rows of bench's output (after the header).
func tableOf(s string) string {
	if i := strings.Index(s, "| scenario"); i >= 0 {
		return s[i:]
	}
	return s
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
