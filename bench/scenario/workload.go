package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The workloads: what each run of a scenario does.
const (
	// WorkloadBulk is one bulk transfer per run, with request/response
	// probes beside it: goodput, latency, CPU. The default.
	WorkloadBulk = "bulk"
	// WorkloadIdle opens Connections connections to one server endpoint,
	// proves each with one exchange, lets them sit idle, and measures the
	// server's CPU and memory per connection meanwhile.
	WorkloadIdle = "idle"
	// WorkloadFairness runs two bulk transfers (Flows) across one emulated
	// bottleneck at once and measures how they share it.
	WorkloadFairness = "fairness"
)

// Workloads are the values the workload key takes, in the documented
// order.
var Workloads = []string{WorkloadBulk, WorkloadIdle, WorkloadFairness}

// workloadKeyNames are the scenario keys that belong to one workload, in
// the documented order; workloadOf names that workload.
var (
	workloadKeyNames = []string{"connections", "flows", "stagger"}
	workloadOf       = map[string]string{"connections": WorkloadIdle, "flows": WorkloadFairness, "stagger": WorkloadFairness}
)

// idleTransports are the transports an idle run compares. Kernel TCP
// keeps its connections in the kernel, where the server process's CPU
// and memory do not show them, so it has no idle row.
var idleTransports = []string{"pydevts", "quic-go"}

// DefaultConnections is an idle run's number of connections when the
// scenario does not say: the 1,000 of the project's target (issue 5).
const DefaultConnections = 1000

// maxConnections bounds connections: ten times the target, and at the
// tens of KiB a connection costs each side, under a GiB for both sides on
// a machine that also runs the emulator.
const maxConnections = 10000

// workloadKeys are a scenario's workload keys as written; a setting's
// node is nil when the scenario does not give it.
type workloadKeys struct {
	connections setting[int]
	flows       setting[[][]string]
	stagger     setting[time.Duration]
}

// workload decodes the workload key.
func (d *decoder) workload(n *yaml.Node, path string) (string, error) {
	w, err := d.scalar(n, path, "a workload")
	if err == nil && !slices.Contains(Workloads, w) {
		err = d.errf(n, path, "unknown workload %q%s (want one of %s)", w, suggest(w, Workloads), strings.Join(Workloads, ", "))
	}
	return w, err
}

// workloadKey decodes one of workloadKeyNames into w. Whether the key
// fits the scenario's workload is checked once the workload is known
// (checkWorkload): defaults may set it after the key.
func (d *decoder) workloadKey(w *workloadKeys, key string, n *yaml.Node, path string) error {
	switch key {
	case "connections":
		v, err := value(d, n, path, "a whole number", parseInt)
		if err != nil {
			return err
		}
		if v < 1 || v > maxConnections {
			return d.errf(n, path, "%d is out of range: want 1 to %d connections", v, maxConnections)
		}
		set(&w.connections, v, n, path, fromScenario)
	case "flows":
		v, err := d.flows(n, path)
		if err != nil {
			return err
		}
		set(&w.flows, v, n, path, fromScenario)
	case "stagger":
		v, err := value(d, n, path, "a duration", parseDuration)
		if err != nil {
			return err
		}
		set(&w.stagger, v, n, path, fromScenario)
	}
	return nil
}

// flows decodes one pair of transports, [pydevts, tcp-cubic], or a list
// of distinct pairs, [[pydevts, pydevts], [pydevts, tcp-cubic]], each a
// row of results.
func (d *decoder) flows(n *yaml.Node, path string) ([][]string, error) {
	if seq := resolve(n); seq != nil && seq.Kind == yaml.SequenceNode && len(seq.Content) > 0 &&
		resolve(seq.Content[0]).Kind == yaml.SequenceNode {
		var pairs [][]string
		err := d.sequence(n, path, "pairs", func(i int, item *yaml.Node) error {
			p := fmt.Sprintf("%s[%d]", path, i)
			pair, err := d.flowPair(item, p)
			if err != nil {
				return err
			}
			if j := slices.IndexFunc(pairs, func(q []string) bool { return slices.Equal(q, pair) }); j >= 0 {
				return d.errf(item, p, "the same pair as %s[%d]: each pair is one row", path, j)
			}
			pairs = append(pairs, pair)
			return nil
		})
		return pairs, err
	}
	pair, err := d.flowPair(n, path)
	return [][]string{pair}, err
}

// flowPair decodes two transport names, which may be the same.
func (d *decoder) flowPair(n *yaml.Node, path string) ([]string, error) {
	var pair []string
	err := d.sequence(n, path, "two transports", func(i int, item *yaml.Node) error {
		p := fmt.Sprintf("%s[%d]", path, i)
		if i == 2 {
			return d.errf(item, p, "a third flow: a fairness run shares the bottleneck between two")
		}
		t, err := d.transport(item, p)
		pair = append(pair, t)
		return err
	})
	if err == nil && len(pair) != 2 {
		err = d.errf(n, path, "want two transports, e.g. [pydevts, tcp-cubic] (or a list of such pairs)")
	}
	return pair, err
}

// checkWorkload checks a scenario's keys against its workload, once the
// defaults are merged in.
func (d *decoder) checkWorkload(r *rawScenario) error {
	wl := r.settings.workload
	for _, key := range workloadKeyNames {
		if k := r.keys[key]; k != nil && workloadOf[key] != wl.v {
			return d.errf(k, join(r.path, key), "applies to workload %s only, and this scenario's workload is %s%s",
				workloadOf[key], wl.v, origin(wl))
		}
	}
	if k := r.keys["timeline"]; k != nil && wl.v != WorkloadBulk && len(r.timeline) > 0 {
		return d.errf(k, join(r.path, "timeline"), "a timeline changes the link under a bulk transfer; workload %s%s takes none", wl.v, origin(wl))
	}
	ts := r.settings.transports
	switch wl.v {
	case WorkloadIdle:
		if ts.origin == fromScenario {
			for i, t := range ts.v {
				if !slices.Contains(idleTransports, t) {
					return d.errf(resolve(ts.node).Content[i], fmt.Sprintf("%s[%d]", ts.path, i),
						"workload idle runs %s only: %s keeps its connections in the kernel, where the server's memory does not show them",
						strings.Join(idleTransports, " and "), t)
				}
			}
		} else if !slices.ContainsFunc(ts.v, func(t string) bool { return slices.Contains(idleTransports, t) }) {
			return d.errf(r.node, join(r.path, "name"), "workload idle runs %s only, and the transports this scenario inherits (%s) include neither: set transports",
				strings.Join(idleTransports, " and "), strings.Join(ts.v, ", "))
		}
	case WorkloadFairness:
		w := r.wl
		switch {
		case r.ceiling:
			return d.errf(r.keys["ceiling"], join(r.path, "ceiling"), "workload fairness shares an emulated bottleneck, and a ceiling scenario has no emulator")
		case ts.origin == fromScenario:
			return d.errf(r.keys["transports"], join(r.path, "transports"), "workload fairness takes its transports from flows")
		case w.flows.node == nil:
			return d.errf(r.node, join(r.path, "name"), "workload fairness needs flows: the two transports to run at once, e.g. flows: [pydevts, tcp-cubic]")
		case w.stagger.v+r.settings.warmup.v >= r.settings.duration.v:
			return d.errf(w.stagger.node, w.stagger.path, "stagger %v plus warmup %v must be shorter than duration %v: goodput is measured while both flows run, after the later one's warm-up",
				w.stagger.v, r.settings.warmup.v, r.settings.duration.v)
		}
	}
	return nil
}

// origin says where a scenario's workload comes from, for errors.
func origin(wl setting[string]) string {
	if wl.node == nil {
		return " (the default)"
	}
	if wl.origin == fromDefaults {
		return fmt.Sprintf(" (%s, line %d)", wl.path, wl.node.Line)
	}
	return ""
}

// apply sets s's workload fields from the keys and the merged settings.
// s.Transports is the run's own copy.
func (w workloadKeys) apply(s *Scenario, st settings) {
	s.Workload = st.workload.v
	switch s.Workload {
	case WorkloadIdle:
		s.Connections = DefaultConnections
		if w.connections.node != nil {
			s.Connections = w.connections.v
		}
		s.Transports = slices.DeleteFunc(s.Transports, func(t string) bool { return !slices.Contains(idleTransports, t) })
	case WorkloadFairness:
		s.Stagger = w.stagger.v
		s.Transports = nil
		for _, pair := range w.flows.v {
			s.Flows = append(s.Flows, slices.Clone(pair))
			for _, t := range pair {
				if !slices.Contains(s.Transports, t) {
					s.Transports = append(s.Transports, t)
				}
			}
		}
	}
}

// checkBottleneck refuses a fairness run without a rate from A to B, the
// direction its bulk transfers take: without a bottleneck there is
// nothing to share.
func (d *decoder) checkBottleneck(r *rawScenario, s Scenario) error {
	if s.Workload != WorkloadFairness || s.AB.Rate > 0 {
		return nil
	}
	at := r.blame(r.ab)
	ctx := ""
	if len(s.Matrix) > 0 {
		ctx = "in run " + s.Name + ": "
	}
	return d.errf(at.node, at.path, "%sworkload fairness needs a bottleneck to share: set rate in link or a_to_b (e.g. rate: 50mbit)", ctx)
}
