package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
)

// Result is one run: one transport, one scenario, one repetition. It is
// written as one JSON line.
type Result struct {
	Scenario   string            `json:"scenario"`
	Group      string            `json:"group"`
	Matrix     map[string]string `json:"matrix,omitempty"`
	Transport  string            `json:"transport"`
	Repetition int               `json:"repetition"`
	Workload   string            `json:"workload,omitempty"` // scenario.KnownWorkloads; "" (older results) is bulk
	Emulator   string            `json:"emulator"`           // "tun", "memnet" or "loopback"
	Start      time.Time         `json:"start"`

	GoodputMbps float64 `json:"goodput_mbps"` // receiver side, warm-up excluded
	WindowBytes int64   `json:"window_bytes"`
	Seconds     float64 `json:"seconds"`

	LatencyIdle   Percentiles `json:"latency_idle_ms"`
	LatencyLoaded Percentiles `json:"latency_loaded_ms"`

	Lost          int64 `json:"lost_packets"`   // declared lost and resent; -1: the transport does not say
	FECRecoveries int64 `json:"fec_recoveries"` // packets the receiver rebuilt from parity; -1: no FEC in this transport

	// CPU per side, from each side's own process (TUN and loopback runs);
	// in-memory runs share one process, so only CPUTotal is known.
	CPUClient      float64 `json:"cpu_client_s,omitempty"`
	CPUServer      float64 `json:"cpu_server_s,omitempty"`
	CPUTotal       float64 `json:"cpu_total_s"`
	MBPerCPUSecond float64 `json:"mb_per_cpu_s"`
	RSSClient      int64   `json:"peak_rss_client_bytes,omitempty"`
	RSSServer      int64   `json:"peak_rss_server_bytes,omitempty"`
	EmulatorCPU    float64 `json:"emulator_cpu_s,omitempty"`

	Link LinkReport `json:"link"`

	// The measurements of the other workloads.
	Messages *MessageResult  `json:"messages,omitempty"`
	Idle     *IdleResult     `json:"idle,omitempty"`
	Fairness *FairnessResult `json:"fairness,omitempty"`

	// ProbeErr says why the latency probes stopped before the run ended.
	ProbeErr string `json:"probe_error,omitempty"`

	Valid    bool     `json:"valid"`              // passed every check
	Problems []string `json:"problems,omitempty"` // why it is flagged
	Skipped  string   `json:"skipped,omitempty"`  // why it did not run ("n/a")
	Err      string   `json:"error,omitempty"`
}

// LinkReport is what the emulator measured of the link during a run.
type LinkReport struct {
	PacketsAB    uint64  `json:"packets_ab,omitempty"`
	PacketsBA    uint64  `json:"packets_ba,omitempty"`
	LossAB       float64 `json:"loss_ab,omitempty"` // measured random loss, as fractions
	LossBA       float64 `json:"loss_ba,omitempty"`
	DuplicateAB  float64 `json:"duplicate_ab,omitempty"`
	ReorderAB    float64 `json:"reorder_ab,omitempty"`
	QueueDropsAB uint64  `json:"queue_drops_ab,omitempty"`
	QueueDropsBA uint64  `json:"queue_drops_ba,omitempty"`
}

// Percentiles summarise latency samples (nearest rank).
type Percentiles struct {
	P50, P90, P99, Min, Max float64 // milliseconds
	N                       int
}

func percentiles(samples []float64) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(samples)
	sort.Float64s(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// WriteJSONLines writes one JSON object per result.
func WriteJSONLines(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// ReadJSONLines reads results written by WriteJSONLines, to report or
// chart an earlier run again.
func ReadJSONLines(r io.Reader) ([]Result, error) {
	var out []Result
	dec := json.NewDecoder(r)
	for line := 1; ; line++ {
		var res Result
		if err := dec.Decode(&res); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("bench: result %d: %w", line, err)
		}
		out = append(out, res)
	}
}

// Summary is the median and range of one scenario and transport over its
// valid repetitions.
type Summary struct {
	Scenario, Group, Transport string
	Workload                   string
	Matrix                     map[string]string
	Runs, Valid                int
	Goodput                    Spread // Mbit/s
	IdleP50, LoadedP50         Spread // ms
	LoadedP90, LoadedP99       Spread
	Lost                       Spread
	Rebuilt                    Spread // packets rebuilt from FEC parity; N 0 without FEC
	MBPerCPU                   Spread
	Skipped                    string
	Errors                     []string
	Messages                   *MessageSummary // the other workloads', else nil
	Idle                       *IdleSummary
	Fairness                   *FairnessSummary
}

// Spread is a median with its minimum and maximum; N is 0 when nothing
// was measured.
type Spread struct {
	Median, Min, Max float64
	N                int
}

func spread(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Summarize groups results by scenario and transport, in the order they
// first appear, and takes the median of the valid runs: a run flagged by a
// validity check is reported, not averaged in.
func Summarize(results []Result) []Summary {
	var out []Summary
	idx := map[string]int{}
	vals := map[string]*[8][]float64{}
	valid := map[string][]Result{}
	for _, r := range results {
		key := r.Scenario + "\x00" + r.Transport
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, Summary{Scenario: r.Scenario, Group: r.Group, Transport: r.Transport, Matrix: r.Matrix, Workload: r.Workload})
			vals[key] = &[8][]float64{}
		}
		s := &out[i]
		if r.Messages != nil && s.Messages == nil {
			s.Messages = &MessageSummary{Size: r.Messages.Size, Rate: r.Messages.Rate, BaseRTT: r.Messages.BaseRTT}
		}
		s.Runs++
		switch {
		case r.Skipped != "":
			s.Skipped = r.Skipped
			continue
		case r.Err != "":
			s.Errors = append(s.Errors, r.Err)
			continue
		case !r.Valid:
			continue
		}
		s.Valid++
		valid[key] = append(valid[key], r)
		v := vals[key]
		if r.Messages != nil {
			s.Messages.add(*r.Messages)
		} else {
			v[0] = append(v[0], r.GoodputMbps)
		}
		if r.LatencyIdle.N > 0 {
			v[1] = append(v[1], r.LatencyIdle.P50)
		}
		if r.LatencyLoaded.N > 0 {
			v[2] = append(v[2], r.LatencyLoaded.P50)
			v[3] = append(v[3], r.LatencyLoaded.P99)
			v[6] = append(v[6], r.LatencyLoaded.P90)
		}
		if r.Lost >= 0 {
			v[4] = append(v[4], float64(r.Lost))
		}
		if r.MBPerCPUSecond > 0 {
			v[5] = append(v[5], r.MBPerCPUSecond)
		}
		if r.FECRecoveries >= 0 {
			v[7] = append(v[7], float64(r.FECRecoveries))
		}
	}
	for key, i := range idx {
		v := vals[key]
		s := &out[i]
		s.Goodput, s.IdleP50, s.LoadedP50, s.LoadedP99, s.Lost, s.MBPerCPU, s.LoadedP90 =
			spread(v[0]), spread(v[1]), spread(v[2]), spread(v[3]), spread(v[4]), spread(v[5]), spread(v[6])
		s.Rebuilt = spread(v[7])
		if s.Messages != nil {
			s.Messages.done()
		}
		summarizeWorkload(s, valid[key])
	}
	return out
}

// WriteTable writes the summaries as Markdown tables, medians with their
// range over the valid repetitions: one for the bulk workload (goodput,
// latency idle and under load), then one for each other workload that
// has rows (workloadTables: messages, idle, fairness), a blank line
// between two. Without any summary it writes the bulk table's header.
func WriteTable(w io.Writer, sums []Summary) {
	first := true
	for _, t := range workloadTables {
		rows := workloadRows(sums, t.workload)
		if len(rows) == 0 && (t.workload != scenario.WorkloadBulk || len(sums) > 0) {
			continue
		}
		if !first {
			fmt.Fprintln(w)
		}
		first = false
		t.write(w, rows)
	}
}

// writeBulkTable writes the bulk rows: goodput, latency idle and under
// load.
func writeBulkTable(w io.Writer, sums []Summary) {
	header := []string{"scenario", "transport", "goodput Mbit/s", "latency idle p50 ms", "loaded p50 ms", "loaded p99 ms", "lost pkts", "MB/CPU-s", "valid runs"}
	writeRows(w, header, sums, func(s Summary) []string {
		return []string{s.Scenario, s.Transport,
			fmtSpread(s.Goodput, 1), fmtSpread(s.IdleP50, 2), fmtSpread(s.LoadedP50, 1), fmtSpread(s.LoadedP99, 1),
			fmtSpread(s.Lost, 0), fmtSpread(s.MBPerCPU, 0), s.validText()}
	})
}

// validText is the "valid runs" cell: valid of all, and the first error.
func (s Summary) validText() string {
	valid := fmt.Sprintf("%d/%d", s.Valid, s.Runs)
	if len(s.Errors) > 0 {
		valid += " (" + shorten(s.Errors[0], 60) + ")"
	}
	return valid
}

func fmtSpread(s Spread, prec int) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf("%.*f", prec, s.Median)
	}
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.Median, prec, s.Min, prec, s.Max)
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
