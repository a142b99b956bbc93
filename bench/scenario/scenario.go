package scenario

import (
	_ "embed"
	"fmt"
	"slices"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// Scenario is one fully expanded run configuration: one link, one set of
// transports. A file's scenario with a matrix becomes one Scenario per
// combination of matrix values.
type Scenario struct {
	// Name is unique among the Scenarios of a file: the scenario's name,
	// and for a matrix run "/" and its values, e.g. "random-loss/loss=5%"
	// (or "x/delay=10ms,loss=5%" for two keys, in the file's key order).
	Name string
	// Group is the scenario's name before matrix expansion, so that a
	// chart can draw one line per group (goodput against loss).
	Group string
	// AB and BA are the link from A to B and from B to A at the start of
	// the run. Both are zero for a Ceiling run.
	AB, BA linkemu.Spec
	// Timeline lists the mid-run changes of the link, sorted by At.
	Timeline []Event
	// Duration is the measured bulk transfer's length, warm-up included.
	Duration time.Duration
	// Warmup is the first part of Duration, excluded from goodput.
	Warmup time.Duration
	// Repetitions is how many times each transport runs the scenario.
	Repetitions int
	// Transports is a subset of KnownTransports, in the file's order.
	Transports []string
	// MTU is the link's MTU in bytes.
	MTU int
	// Seed seeds the emulator's random choices.
	Seed uint64
	// Slack is how early the emulator may release a packet, to batch
	// timer wake-ups (linkemu's Config.Slack).
	Slack time.Duration
	// Ceiling marks an unimpaired run on real loopback without the
	// emulator: for the bulk workload, maximum throughput and CPU per side.
	Ceiling bool
	// Workload is what a run does: one of KnownWorkloads (see
	// workload.go).
	Workload string
	// MessageSize (bytes) and MessageRate (messages per second) shape
	// the messages workload; both are zero for other workloads.
	MessageSize int
	MessageRate float64
	// Connections is how many connections an idle run holds open; 0 for
	// other workloads.
	Connections int
	// Flows are the pairs of transports a fairness run puts on the link
	// at once, one row of results each; Transports then lists the
	// transports they name. Nil for other workloads.
	Flows [][]string
	// Stagger is how long after a fairness run's first flow its second
	// starts.
	Stagger time.Duration
	// Matrix holds the matrix values this run was expanded from, as
	// written (e.g. {"loss": "5%"}); it is empty, not nil, otherwise.
	Matrix map[string]string
}

// Event is a change of the link during a run: from At on, the link is AB
// from A to B and BA from B to A (each a full Spec, not a difference).
type Event struct {
	At     time.Duration
	AB, BA linkemu.Spec
}

// Parse reads a scenario file and returns its scenarios, expanded, in file
// order (a matrix's runs in their own order, first key slowest). filename
// is used only in errors, which read "filename:line: field.path: problem";
// every error is about the first problem found. Parse never panics.
func Parse(data []byte, filename string) ([]Scenario, error) {
	if filename == "" {
		filename = "<input>"
	}
	d := &decoder{file: filename}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	raws, err := d.decodeFile(root)
	if err != nil {
		return nil, err
	}
	return d.expand(raws)
}

//go:embed default.yaml
var defaultYAML []byte

//go:embed full.yaml
var fullYAML []byte

// Default returns the built-in quick set, which finishes in under three
// minutes: the scenarios of [DefaultYAML].
func Default() []Scenario { return mustParse(defaultYAML, "default.yaml") }

// Full returns the built-in whole matrix: the scenarios of [FullYAML].
func Full() []Scenario { return mustParse(fullYAML, "full.yaml") }

// DefaultYAML returns the source of [Default], to copy and edit. The
// caller may modify the slice.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

// FullYAML returns the source of [Full], to copy and edit. The caller may
// modify the slice.
func FullYAML() []byte { return slices.Clone(fullYAML) }

// mustParse parses a built-in file, fresh on every call so that callers
// may edit what they get. The files are part of the package and tested, so
// an error is a bug in the package.
func mustParse(data []byte, name string) []Scenario {
	s, err := Parse(data, name)
	if err != nil {
		panic(fmt.Sprintf("scenario: built-in %v", err))
	}
	return s
}
