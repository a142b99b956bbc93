package scenario

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

// errorLineRE is the start every error must have.
var errorLineRE = regexp.MustCompile(`^fuzz\.yaml:([0-9]+): `)

// FuzzParse feeds Parse anything: it must not panic, a success must hold
// only Scenarios a runner can use as they are, and a failure must name the
// file and a line of it.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add(FullYAML())
	for _, tt := range parseErrorTests {
		// The limit tests' files are tens of kilobytes: as seeds they
		// would make every mutation and minimisation slow.
		if len(tt.file) < 4<<10 {
			f.Add([]byte(tt.file))
		}
	}
	f.Add([]byte(ok(
		"    link: &l {delay: 10ms, jitter: 1ms, bursts: {loss: 3%, mean: 4}}",
		"    b_to_a: {gemodel: {p: 1%, r: 10%, loss_bad: 90%}}",
		"    matrix: {rate: [1mbit, 0.5gbit], queue: [1500, 1MiB]}",
		"    timeline: [{at: 1s, set: *l}, {at: 2s, a_to_b: {loss: 1}}]",
	)))
	f.Add([]byte(lines(
		"defaults: {workload: messages, message_size: 1KiB}",
		"scenarios:",
		"  - {name: m, link: {delay: 20ms, loss: 5%}, message_rate: 200/s, duration: 12s}",
		"  - {name: b, workload: bulk, ceiling: true}",
	)))
	f.Add([]byte(lines(
		"defaults: {workload: idle, transports: [pydevts, quic-go]}",
		"scenarios:",
		"  - {name: a, connections: 20, ceiling: true}",
		"  - name: b",
		"    workload: fairness",
		"    link: {delay: 10ms, rate: 50mbit, queue: 125000}",
		"    flows: [[pydevts, pydevts], [pydevts, tcp-cubic]]",
		"    stagger: 1s",
	)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, err := Parse(data, "fuzz.yaml")
		if err != nil {
			m := errorLineRE.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error without file and line: %v", err)
			}
			// A line past the end would send an editor nowhere. (An
			// unterminated last line still counts.)
			if line, _ := strconv.Atoi(m[1]); line < 1 || line > lineAt(data, len(data))+1 {
				t.Fatalf("error at line %d of a %d-line file: %v", line, lineAt(data, len(data)), err)
			}
			return
		}
		if err := checkScenarios(ss); err != nil {
			t.Fatalf("Parse succeeded with a bad scenario: %v\nfile:\n%s", err, data)
		}
		// Parsing is a function of the bytes.
		again, err := Parse(bytes.Clone(data), "fuzz.yaml")
		if err != nil || len(again) != len(ss) {
			t.Fatalf("second Parse: %d scenarios, %v; first: %d", len(again), err, len(ss))
		}
	})
}
