package scenario

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// checkScenarios reports every broken invariant of a successful Parse:
// what a runner relies on without checking again.
func checkScenarios(ss []Scenario) error {
	if len(ss) == 0 || len(ss) > maxRuns {
		return fmt.Errorf("%d scenarios, want 1 to %d", len(ss), maxRuns)
	}
	names := make(map[string]bool)
	for _, s := range ss {
		if names[s.Name] {
			return fmt.Errorf("name %q twice", s.Name)
		}
		names[s.Name] = true
		switch {
		case s.Group == "" || (s.Name != s.Group && len(s.Matrix) == 0):
			return fmt.Errorf("%s: group %q with matrix %v", s.Name, s.Group, s.Matrix)
		case len(s.Matrix) > 0 && !strings.HasPrefix(s.Name, s.Group+"/"):
			return fmt.Errorf("%s: matrix run not named after group %q", s.Name, s.Group)
		case s.Matrix == nil:
			return fmt.Errorf("%s: nil Matrix", s.Name)
		case s.Duration <= 0 || s.Warmup < 0 || s.Warmup >= s.Duration:
			return fmt.Errorf("%s: duration %v, warmup %v", s.Name, s.Duration, s.Warmup)
		case s.Repetitions < 1 || s.MTU < minMTU || s.MTU > maxMTU || s.Slack < 0:
			return fmt.Errorf("%s: repetitions %d, MTU %d, slack %v", s.Name, s.Repetitions, s.MTU, s.Slack)
		case len(s.Transports) == 0:
			return fmt.Errorf("%s: no transports", s.Name)
		case s.Ceiling && (s.AB != (linkemu.Spec{}) || s.BA != (linkemu.Spec{}) || len(s.Timeline) > 0):
			return fmt.Errorf("%s: ceiling with a link", s.Name)
		}
		for i, tr := range s.Transports {
			if !slices.Contains(KnownTransports, tr) || slices.Index(s.Transports, tr) != i {
				return fmt.Errorf("%s: transports %v", s.Name, s.Transports)
			}
		}
		if err := checkWorkloadFields(s); err != nil {
			return fmt.Errorf("%s: %v", s.Name, err)
		}
		if err := s.AB.Validate(); err != nil {
			return fmt.Errorf("%s: AB: %v", s.Name, err)
		}
		if err := s.BA.Validate(); err != nil {
			return fmt.Errorf("%s: BA: %v", s.Name, err)
		}
		var last time.Duration
		for _, ev := range s.Timeline {
			if ev.At <= last || ev.At >= s.Duration {
				return fmt.Errorf("%s: event at %v after %v, duration %v", s.Name, ev.At, last, s.Duration)
			}
			last = ev.At
			if err := ev.AB.Validate(); err != nil {
				return fmt.Errorf("%s at %v: AB: %v", s.Name, ev.At, err)
			}
			if err := ev.BA.Validate(); err != nil {
				return fmt.Errorf("%s at %v: BA: %v", s.Name, ev.At, err)
			}
		}
	}
	return nil
}

func names(ss []Scenario) []string {
	var n []string
	for _, s := range ss {
		n = append(n, s.Name)
	}
	return n
}

func TestBuiltins(t *testing.T) {
	for _, b := range []struct {
		name  string
		get   func() []Scenario
		yaml  func() []byte
		names []string
	}{
		{"default", Default, DefaultYAML, []string{"clean", "random-loss/loss=1%", "random-loss/loss=5%"}},
		{"full", Full, FullYAML, []string{
			"clean",
			"random-loss/loss=0%", "random-loss/loss=0.1%", "random-loss/loss=1%", "random-loss/loss=5%",
			"random-loss/loss=10%", "random-loss/loss=20%", "random-loss/loss=30%",
			"bursty", "satellite", "reorder", "dup-corrupt", "asymmetric", "outage", "ceiling",
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			ss := b.get()
			if err := checkScenarios(ss); err != nil {
				t.Fatal(err)
			}
			if got := names(ss); !slices.Equal(got, b.names) {
				t.Errorf("names %q, want %q", got, b.names)
			}
			again, err := Parse(b.yaml(), b.name+".yaml")
			if err != nil || len(again) != len(ss) {
				t.Fatalf("Parse of the YAML: %d scenarios, %v", len(again), err)
			}
			groups := make(map[string]int)
			for _, s := range ss {
				groups[s.Group]++
				if s.Group == "random-loss" && s.Matrix["loss"] == "" {
					t.Errorf("%s: matrix %v", s.Name, s.Matrix)
				}
			}
			if want := len(b.names) - len(groups) + 1; groups["random-loss"] != want {
				t.Errorf("random-loss expands to %d runs, want %d", groups["random-loss"], want)
			}
		})
	}
}

// TestBuiltinLinks checks what the built-in sets promise about their
// links, in both directions and after every timeline change:
//   - every emulated run has a rate, at most 300 Mbit/s: unlimited, the
//     emulator would take most of a 2-core machine and become the
//     bottleneck of the comparison (research/linkemu.md, section 2,
//     "Emulator ceiling"); the ceiling run alone measures that limit. The
//     1 kbit floor only catches a unit slip (200bit for 200mbit);
//   - no run reorders through jitter without keep_order: that reorders
//     nearly every packet at these rates (pitfall 6), and checkLink sees
//     only reorder's share, so such a run would pass as valid.
func TestBuiltinLinks(t *testing.T) {
	const minRate, maxRate = 1_000, 300_000_000
	for _, set := range []struct {
		name string
		ss   []Scenario
	}{{"default", Default()}, {"full", Full()}} {
		name := set.name
		for _, s := range set.ss {
			if s.Ceiling {
				continue
			}
			check := func(when, dir string, sp linkemu.Spec) {
				if sp.Rate < minRate || sp.Rate > maxRate {
					t.Errorf("%s.yaml: %s: %s%s rate %d bit/s, want %d to %d", name, s.Name, dir, when, sp.Rate, int64(minRate), int64(maxRate))
				}
				if sp.Jitter > 0 && !sp.KeepOrder {
					t.Errorf("%s.yaml: %s: %s%s jitter %v without keep_order; use reorder", name, s.Name, dir, when, sp.Jitter)
				}
			}
			check("", "A->B", s.AB)
			check("", "B->A", s.BA)
			for _, ev := range s.Timeline {
				check(fmt.Sprintf(" at %v", ev.At), "A->B", ev.AB)
				check(fmt.Sprintf(" at %v", ev.At), "B->A", ev.BA)
			}
		}
	}
}

// TestDefaultIsQuick keeps `go run ./cmd/pydevts bench` under three
// minutes on a 2-core machine: measured there, each run costs its
// duration plus about 0.8 s (link, processes, handshake, idle probes), and
// the first `go run` compiles for about 50 s. So the transfer time may
// reach about 90 s.
func TestDefaultIsQuick(t *testing.T) {
	var total time.Duration
	runs := 0
	for _, s := range Default() {
		if s.Duration != 3500*time.Millisecond || s.Warmup != time.Second || s.Repetitions != 2 || !slices.Equal(s.Transports, KnownTransports) {
			t.Errorf("%s: %v, warmup %v, %d repetitions, %v", s.Name, s.Duration, s.Warmup, s.Repetitions, s.Transports)
		}
		total += s.Duration * time.Duration(s.Repetitions*len(s.Transports))
		runs += s.Repetitions * len(s.Transports)
	}
	if withOverhead := total + time.Duration(runs)*800*time.Millisecond; withOverhead > 120*time.Second {
		t.Errorf("default set takes about %v (%v of transfer); with a cold compile that passes 3 minutes", withOverhead, total)
	}
}

// TestBuiltinsFresh checks that callers get their own copies.
func TestBuiltinsFresh(t *testing.T) {
	y := DefaultYAML()
	y[0] = '!'
	if DefaultYAML()[0] == '!' {
		t.Error("DefaultYAML shares its bytes")
	}
	f := Full()
	i := slices.IndexFunc(f, func(s Scenario) bool { return s.Name == "bursty" })
	f[i].AB.GE.P = 0.9
	f[i].Transports[0] = "x"
	if g := Full()[i]; g.AB.GE.P == 0.9 || g.Transports[0] == "x" {
		t.Error("Full shares its values between calls")
	}
	if f[i].BA.GE.P == 0.9 {
		t.Error("AB and BA share one GE")
	}
}
