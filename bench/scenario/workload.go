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
	// WorkloadMessages is a message of MessageSize bytes every
	// 1/MessageRate seconds, each timed from send to delivery.
	WorkloadMessages = "messages"
	// WorkloadIdle opens Connections connections to one server endpoint,
	// proves each with one exchange, lets them sit idle, and measures the
	// server's CPU and memory per connection meanwhile.
	WorkloadIdle = "idle"
	// WorkloadFairness runs two bulk transfers (Flows) across one emulated
	// bottleneck at once and measures how they share it.
	WorkloadFairness = "fairness"
)

// KnownWorkloads are the values the workload key takes, in the documented
// order.
var KnownWorkloads = []string{WorkloadBulk, WorkloadMessages, WorkloadIdle, WorkloadFairness}

// Bounds of the messages workload.
const (
	// MinMessageSize: every message carries its sequence number, a flag
	// and its send time in its first 16 bytes, so the receiver can time it
	// and find duplicates.
	MinMessageSize = 16
	// MaxMessageSize is pydevts's largest message (rudp.Conn.SendMessage
	// takes at most 1 MiB); the other transports could carry more, but
	// every transport runs the same workload.
	MaxMessageSize = 1 << 20
	// MaxMessageRate: a message every 100 µs, about the finest pacing a
	// Go ticker keeps on a busy 2-core machine; faster traffic is a bulk
	// transfer, which the bulk workload measures.
	MaxMessageRate = 10000
	// MaxMessages bounds the messages of one run (message_rate times
	// duration): the server reports one latency sample per message in a
	// JSON line, and a million samples are a few megabytes of it (83
	// minutes at the default rate).
	MaxMessages = 1_000_000
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

// The workload's keys come in two kinds. workKeys are settings: defaults
// may set them for every scenario (message_size and message_rate then
// shape the scenarios that run messages). scenarioWorkKeys belong to a
// scenario alone: the defaults' mapping does not take them.
var (
	workKeys         = []string{"workload", "message_size", "message_rate"}
	scenarioWorkKeys = []string{"connections", "flows", "stagger"}
)

// keyWorkloads are the keys that belong to one workload, in the
// documented order, each with its workload. A scenario that gives one
// must run that workload.
var keyWorkloads = []struct{ key, workload string }{
	{"message_size", WorkloadMessages},
	{"message_rate", WorkloadMessages},
	{"connections", WorkloadIdle},
	{"flows", WorkloadFairness},
	{"stagger", WorkloadFairness},
}

// workSettings are the workload and the keys of every workload (workKeys
// and scenarioWorkKeys); they belong to settings, merged like the others.
type workSettings struct {
	workload    setting[string]
	messageSize setting[int]
	messageRate setting[float64]
	connections setting[int]
	flows       setting[[][]string]
	stagger     setting[time.Duration]
}

func builtinWork() workSettings {
	return workSettings{
		workload:    setting[string]{v: WorkloadBulk},
		messageSize: setting[int]{v: 1 << 10},
		messageRate: setting[float64]{v: 200},
		connections: setting[int]{v: DefaultConnections},
	}
}

// workSetting decodes one of workKeys or scenarioWorkKeys into w. Whether
// a key fits the scenario's workload is checked once the workload is known
// (checkWorkload): defaults may set it after the key.
func (d *decoder) workSetting(w *workSettings, key string, n *yaml.Node, path string, origin int) error {
	switch key {
	case "workload":
		v, err := d.workload(n, path)
		if err != nil {
			return err
		}
		set(&w.workload, v, n, path, origin)
	case "message_size":
		v, err := value(d, n, path, "a size in bytes", parseSize)
		if err != nil {
			return err
		}
		if v < MinMessageSize || v > MaxMessageSize {
			return d.errf(n, path, "%q is out of range: want %d bytes (sequence number and send time) to 1MiB", n.Value, MinMessageSize)
		}
		set(&w.messageSize, v, n, path, origin)
	case "message_rate":
		v, err := value(d, n, path, "messages per second", parseMessageRate)
		if err != nil {
			return err
		}
		set(&w.messageRate, v, n, path, origin)
	case "connections":
		v, err := value(d, n, path, "a whole number", parseInt)
		if err != nil {
			return err
		}
		if v < 1 || v > maxConnections {
			return d.errf(n, path, "%d is out of range: want 1 to %d connections", v, maxConnections)
		}
		set(&w.connections, v, n, path, origin)
	case "flows":
		v, err := d.flows(n, path)
		if err != nil {
			return err
		}
		set(&w.flows, v, n, path, origin)
	case "stagger":
		v, err := value(d, n, path, "a duration", parseDuration)
		if err != nil {
			return err
		}
		set(&w.stagger, v, n, path, origin)
	default:
		return d.errf(n, path, "unknown key") // unreachable: mapping checked the key
	}
	return nil
}

// workload decodes the workload key.
func (d *decoder) workload(n *yaml.Node, path string) (string, error) {
	w, err := d.scalar(n, path, "a workload")
	if err == nil && !slices.Contains(KnownWorkloads, w) {
		err = d.errf(n, path, "unknown workload %q%s (want one of %s)", w, suggest(w, KnownWorkloads), strings.Join(KnownWorkloads, ", "))
	}
	return w, err
}

// parseMessageRate parses messages per second: a decimal number, "/s"
// after it optional ("200", "200/s", "0.5"), more than 0 and at most
// MaxMessageRate.
func parseMessageRate(s string) (float64, error) {
	const forms = "want messages per second, e.g. 200, 200/s or 0.5"
	f, err := decimal(strings.TrimSuffix(s, "/s"), 0)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a message rate (%s)", s, forms)
	case f <= 0:
		return 0, fmt.Errorf("%q is out of range: a message rate is more than 0", s)
	case f > MaxMessageRate:
		return 0, fmt.Errorf("%q is out of range: at most %d messages per second (faster is a bulk transfer)", s, MaxMessageRate)
	}
	return f, nil
}

func (base workSettings) merge(over workSettings) workSettings {
	return workSettings{
		workload:    pick(base.workload, over.workload),
		messageSize: pick(base.messageSize, over.messageSize),
		messageRate: pick(base.messageRate, over.messageRate),
		connections: pick(base.connections, over.connections),
		flows:       pick(base.flows, over.flows),
		stagger:     pick(base.stagger, over.stagger),
	}
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

// checkWorkload checks a scenario against its workload, once the
// defaults are merged in: a key of one workload given in a scenario
// that runs another, a timeline where the link must hold still, and each
// workload's own needs.
func (d *decoder) checkWorkload(r *rawScenario) error {
	wl := r.settings.work.workload
	for _, kw := range keyWorkloads {
		if k := r.keys[kw.key]; k != nil && kw.workload != wl.v {
			return d.errf(k, join(r.path, kw.key), "applies to workload %s only, and this scenario's workload is %s%s",
				kw.workload, wl.v, origin(wl))
		}
	}
	if k := r.keys["timeline"]; k != nil && (wl.v == WorkloadIdle || wl.v == WorkloadFairness) && len(r.timeline) > 0 {
		return d.errf(k, join(r.path, "timeline"), "a timeline changes the link under a bulk or messages run; workload %s%s takes none", wl.v, origin(wl))
	}
	ts := r.settings.transports
	switch wl.v {
	case WorkloadMessages:
		return d.checkMessages(r)
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
		w := r.settings.work
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

// checkMessages checks a messages scenario: it is no ceiling run (a
// ceiling measures the most a transport moves, and messages are paced),
// and it sends at least one measured message and at most MaxMessages.
func (d *decoder) checkMessages(r *rawScenario) error {
	s, w := r.settings, r.settings.work
	name, path := r.node, join(r.path, "name")
	if r.ceiling {
		n, p := w.workload.node, w.workload.path
		if n == nil {
			n, p = name, path
		}
		return d.errf(n, p, "a ceiling scenario measures the most a transport moves on loopback, so its workload is bulk or idle, never paced messages (write workload: bulk in it)")
	}
	// Blame the more specific of rate and duration, the rate when equal.
	blame, bpath := w.messageRate.node, w.messageRate.path
	if s.duration.origin > w.messageRate.origin {
		blame, bpath = s.duration.node, s.duration.path
	}
	if blame == nil {
		blame, bpath = name, path
	}
	rate := w.messageRate.v
	measured := (s.duration.v - s.warmup.v).Seconds()
	switch {
	case rate*measured < 1:
		return d.errf(blame, bpath, "at %v messages per second, the %v after the warm-up hold no message to measure",
			rate, (s.duration.v - s.warmup.v).Round(time.Millisecond))
	case rate*s.duration.v.Seconds() > MaxMessages:
		return d.errf(blame, bpath, "%v messages per second for %v is more than %d messages, the limit of a run",
			rate, s.duration.v, MaxMessages)
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

// apply copies the workload and its keys into s; the fields of other
// workloads stay zero. s.Transports is the run's own copy.
func (w workSettings) apply(s *Scenario) {
	s.Workload = w.workload.v
	switch s.Workload {
	case WorkloadMessages:
		s.MessageSize, s.MessageRate = w.messageSize.v, w.messageRate.v
	case WorkloadIdle:
		s.Connections = w.connections.v
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
