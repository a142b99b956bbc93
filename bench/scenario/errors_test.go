package scenario

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// lines joins its arguments as lines of a file, so that a test's line
// numbers are its argument positions plus one.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// many returns n lines, format filled with 1 to n.
func many(n int, format string) string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf(format, i+1)
	}
	return strings.Join(l, "\n")
}

// ok returns a file of one scenario, named a, whose keys after the name
// are l, from line 3.
func ok(l ...string) string {
	return lines(append([]string{"scenarios:", "  - name: a"}, l...)...)
}

// parseErrorTests has one bad file per kind of error; FuzzParse starts
// from them too.
var parseErrorTests = []struct {
	name string
	file string
	line int
	path string // the field path; "" for errors without one
	msg  string // a part of the message
}{
	// YAML syntax, with yaml.v3's line counted from 1.
	{"unclosed flow mapping", lines("scenarios:", "  - name: x", "    link: {delay: 10ms", "  - name: y"), 3, "", "yaml: did not find expected ',' or '}'"},
	{"mapping in a plain value", lines("scenarios:", "  - name: x", "    link: delay: 10ms"), 3, "", "yaml: mapping values are not allowed"},
	{"tab indentation", lines("scenarios:", "\t- name: x"), 2, "", "yaml: found character that cannot start any token"},
	// yaml.v3 gives the line of the enclosing construct here (the
	// list that wants another "-"), not of the stray key.
	{"bad indentation", lines("scenarios:", "  - name: x", "  link: {}"), 2, "", "yaml: did not find expected '-' indicator"},
	{"syntax error on line 1", lines("scenarios: @x"), 1, "", "yaml:"},
	{"unknown anchor", lines("scenarios:", "  - name: x", "    link: *nope"), 3, "", "unknown anchor 'nope'"},
	{"not UTF-8", lines("scenarios:", "  - name: x\xff"), 2, "", "not UTF-8"},
	{"control character", lines("scenarios:", "", "  - name: x\x01"), 3, "", "U+0001"},
	{"second document", lines("scenarios:", "  - name: x", "---", "scenarios: []"), 3, "", "second YAML document"},

	// Structure.
	{"empty file", "", 1, "scenarios", "missing"},
	{"comments only", lines("# nothing", "# here"), 1, "scenarios", "missing"},
	{"root is a list", lines("- name: x"), 1, "", "want a mapping"},
	{"no scenarios", lines("defaults:", "  seed: 2"), 1, "scenarios", "missing"},
	{"empty scenarios", lines("defaults: {}", "scenarios: []"), 2, "scenarios", "want at least one"},
	{"scenarios is a mapping", lines("scenarios: {name: x}"), 1, "scenarios", "want a list of scenarios, got a mapping"},
	{"unknown top key", lines("scenarios:", "  - name: x", "scenaros: []"), 3, "scenaros", `did you mean "scenarios"?`},
	{"unknown scenario key", ok("    lnk: {delay: 1ms}"), 3, "scenarios[0].lnk", `did you mean "link"?`},
	{"unknown link key", ok("    link:", "      delay: 1ms", "      lss: 1%"), 5, "scenarios[0].link.lss", `did you mean "loss"?`},
	{"unknown defaults key", lines("defaults:", "  keep_order: true", "scenarios: [{name: x}]"), 2, "defaults.keep_order", "unknown key"},
	{"unknown gemodel key", ok("    link: {gemodel: {p: 1%, r: 10%, h: 1}}"), 3, "scenarios[0].link.gemodel.h", "unknown key"},
	{"unknown timeline key", ok("    timeline:", "      - {at: 1s, sett: {loss: 1%}}"), 4, "scenarios[0].timeline[0].sett", `did you mean "set"?`},
	{"key set twice", ok("    link:", "      delay: 1ms", "      delay: 2ms"), 5, "scenarios[0].link.delay", "set twice (first at line 4)"},
	{"merge key", lines("scenarios:", "  - name: x", "    link: &b {delay: 1ms}", "  - name: y", "    link: {<<: *b, loss: 1%}"), 5, "scenarios[1].link", "merge keys"},
	{"missing name", lines("scenarios:", "  - link: {delay: 1ms}"), 2, "scenarios[0].name", "missing"},
	{"null scenario", lines("scenarios:", "  - name: a", "  -"), 3, "scenarios[1].name", "missing"},
	{"bad name", lines("scenarios:", "  - name: my run"), 2, "scenarios[0].name", `"my run"`},
	{"name with slash", lines("scenarios:", "  - name: a/b"), 2, "scenarios[0].name", "letters, digits"},
	{"duplicate name", lines("scenarios:", "  - name: a", "  - name: b", "  - name: a"), 4, "scenarios[2].name", `"a" is already the name of scenarios[0] (line 2)`},

	// Wrong types.
	{"repetitions list", ok("    repetitions: [3]"), 3, "scenarios[0].repetitions", "want a whole number, got a list"},
	{"link scalar", ok("    link: 10ms"), 3, "scenarios[0].link", `want a mapping (key: value), got "10ms"`},
	{"transports scalar", ok("    transports: pydevts"), 3, "scenarios[0].transports", `want a list of transports, got "pydevts"`},
	{"keep_order quoted", ok(`    link: {keep_order: "true"}`), 3, "scenarios[0].link.keep_order", "want true or false"},
	{"keep_order yes", ok("    link: {keep_order: yes}"), 3, "scenarios[0].link.keep_order", "want true or false"},
	{"keep_order tagged yes", ok("    link: {keep_order: !!bool yes}"), 3, "scenarios[0].link.keep_order", "want true or false"},
	{"ceiling string", ok("    ceiling: 1"), 3, "scenarios[0].ceiling", "want true or false"},
	{"name list", lines("scenarios:", "  - name: [a]"), 2, "scenarios[0].name", "want a name, got a list"},
	{"empty value", ok("    link:", "      delay:"), 4, "scenarios[0].link.delay", "want a duration, got nothing"},
	{"huge value", ok("    link: {loss: " + strings.Repeat("9", 1000) + "}"), 3, "scenarios[0].link.loss", `want a probability, got "9999999999999999999999999999999999999999..." (1000 bytes)`},
	{"huge key", ok("    link: {" + strings.Repeat("x", 1000) + ": 1}"), 3, "scenarios[0].link", "unknown key"},
	{"scenario is a string", lines("scenarios:", "  - clean"), 2, "scenarios[0]", "want a mapping"},

	// Bad units.
	{"probability with a space", ok("    link:", "      loss: 5 %"), 4, "scenarios[0].link.loss", `"5 %" is not a probability (want e.g. 5% or 0.05)`},
	{"duration without unit", ok("    link: {delay: 10}"), 3, "scenarios[0].link.delay", `"10" is not a duration`},
	{"duration with a space", ok("    duration: 4 s"), 3, "scenarios[0].duration", `"4 s" is not a duration`},
	{"ambiguous rate", ok("    link: {rate: 100mbps}"), 3, "scenarios[0].link.rate", "ambiguous"},
	{"rate without unit", ok("    link: {rate: 64000}"), 3, "scenarios[0].link.rate", "no unit"},
	{"unknown rate unit", ok("    link: {rate: 5furlongs}"), 3, "scenarios[0].link.rate", "not a rate"},
	{"ambiguous size", ok("    link: {rate: 1mbit, queue: 64kb}"), 3, "scenarios[0].link.queue", "KiB"},
	{"gemodel bad p", ok("    link:", "      gemodel:", "        p: x", "        r: 1%"), 5, "scenarios[0].link.gemodel.p", "not a probability"},
	{"bursts bad mean", ok("    link:", "      bursts: {loss: 1%,", "        mean: four}"), 5, "scenarios[0].link.bursts.mean", "not a number of packets"},
	{"bad at", ok("    timeline:", "      - at: soon", "        set: {loss: 1%}"), 4, "scenarios[0].timeline[0].at", "not a duration"},
	{"bad seed", lines("defaults:", "  seed: -1", "scenarios: [{name: a}]"), 2, "defaults.seed", "not a seed"},

	// Out of range.
	{"probability above 1", ok("    link: {loss: 150%}"), 3, "scenarios[0].link.loss", "out of range"},
	{"negative probability", ok("    link: {loss: -1%}"), 3, "scenarios[0].link.loss", "out of range"},
	{"forgotten percent", ok("    link: {duplicate: 5}"), 3, "scenarios[0].link.duplicate", "did you mean 5%?"},
	{"negative delay", ok("    link: {delay: -5ms}"), 3, "scenarios[0].link.delay", "negative"},
	{"zero duration", lines("defaults:", "  duration: 0s", "scenarios: [{name: a}]"), 2, "defaults.duration", "more than 0"},
	{"warmup = duration", ok("    duration: 2s", "    warmup: 2s"), 4, "scenarios[0].warmup", "warmup 2s must be shorter than duration 2s"},
	{"scenario duration under default warmup", lines("defaults: {warmup: 3s}", "scenarios:", "  - name: a", "    duration: 2s"), 4, "scenarios[0].duration", "must be shorter"},
	{"default warmup over default duration", lines("defaults:", "  warmup: 5s", "scenarios: [{name: a}]"), 2, "defaults.warmup", "must be shorter"},
	{"zero repetitions", ok("    repetitions: 0"), 3, "scenarios[0].repetitions", "at least 1"},
	{"mtu too small", ok("    mtu: 100"), 3, "scenarios[0].mtu", "out of range"},
	{"unknown transport", ok("    transports: [pydevts, tcp-reno]"), 3, "scenarios[0].transports[1]", `unknown transport "tcp-reno"`},
	{"misspelt transport", lines("defaults:", "  transports:", "    - quic_go", "scenarios: [{name: a}]"), 3, "defaults.transports[0]", `did you mean "quic-go"?`},
	{"transport twice", ok("    transports: [pydevts, pydevts]"), 3, "scenarios[0].transports[1]", "listed twice"},
	{"no transports", ok("    transports: []"), 3, "scenarios[0].transports", "empty"},
	{"timeline at 0", ok("    timeline: [{at: 0s, set: {loss: 1%}}]"), 3, "scenarios[0].timeline[0].at", "the start"},
	{"timeline at duration", ok("    duration: 8s", "    timeline:", "      - {at: 3s, set: {loss: 1%}}", "      - {at: 8s, set: {loss: 0%}}"), 6, "scenarios[0].timeline[1].at", "not inside the run, which lasts 8s"},
	{"timeline out of order", ok("    timeline:", "      - {at: 3s, set: {loss: 1%}}", "      - {at: 2s, set: {loss: 0%}}"), 5, "scenarios[0].timeline[1].at", "not after scenarios[0].timeline[0].at (3s)"},
	{"timeline missing at", ok("    timeline:", "      - set: {loss: 1%}"), 4, "scenarios[0].timeline[0].at", "missing"},
	{"timeline changes nothing", ok("    timeline:", "      - {at: 1s, set: {}}"), 4, "scenarios[0].timeline[0]", "changes nothing"},
	{"matrix key not a link field", ok("    matrix:", "      los: [1%]"), 4, "scenarios[0].matrix.los", `not a link field; did you mean "loss"?`},
	{"matrix key a setting", ok("    matrix: {duration: [1s, 2s]}"), 3, "scenarios[0].matrix.duration", "not a link field"},
	{"matrix over gemodel", ok("    matrix: {gemodel: [{p: 1%, r: 1%}]}"), 3, "scenarios[0].matrix.gemodel", "cannot be a matrix key"},
	{"matrix empty list", ok("    matrix:", "      loss: []"), 4, "scenarios[0].matrix.loss", "at least one value"},
	{"matrix empty", ok("    matrix: {}"), 3, "scenarios[0].matrix", "empty"},
	{"matrix bad value", ok("    matrix:", "      loss:", "        - 1%", "        - 5 %"), 6, "scenarios[0].matrix.loss[1]", "not a probability"},
	{"matrix duplicate value", ok("    matrix:", "      loss: [5%,", "        0.05]"), 5, "scenarios[0].matrix.loss[1]", "same value as scenarios[0].matrix.loss[0] (5%)"},
	{"matrix key also in link", ok("    link: {loss: 1%}", "    matrix:", "      loss: [2%]"), 5, "scenarios[0].matrix.loss", "scenarios[0].link.loss (line 3) sets it too"},
	{"matrix loss and link bursts", ok("    a_to_b: {bursts: {loss: 1%, mean: 2}}", "    matrix: {loss: [2%]}"), 4, "scenarios[0].matrix.loss", "a_to_b.bursts"},
	{"too many runs", ok("    matrix:", "      loss: [0%, 1%, 2%, 3%, 4%, 5%, 6%, 7%, 8%, 9%, 10%]", "      delay: [1ms, 2ms, 3ms, 4ms, 5ms, 6ms, 7ms, 8ms, 9ms, 10ms]", "      rate: [1mbit, 2mbit, 3mbit, 4mbit, 5mbit, 6mbit, 7mbit, 8mbit, 9mbit, 10mbit]"), 6, "scenarios[0].matrix.rate", "more than 1000 runs"},
	{"too many matrix values", ok("    matrix:", "      rate:", many(1001, "        - %dbit")), 1005, "scenarios[0].matrix.rate[1000]", "more than 1000 values"},
	{"too many events", ok("    duration: 1h", "    timeline:", many(101, "      - {at: %ds, set: {loss: 1%%}}")), 105, "scenarios[0].timeline[100]", "more than 100 events"},
	{"ceiling with link", ok("    ceiling: true", "    link: {delay: 1ms}"), 4, "scenarios[0].link", "takes no link"},
	{"ceiling with matrix first", ok("    matrix: {loss: [1%]}", "    ceiling: true"), 3, "scenarios[0].matrix", "takes no matrix"},
	{"ceiling with timeline", ok("    ceiling: true", "    timeline: []"), 4, "scenarios[0].timeline", "takes no timeline"},
	{"loss and gemodel together", ok("    link:", "      loss: 1%", "      gemodel: {p: 1%, r: 10%}"), 5, "scenarios[0].link.gemodel", "loss (line 4) already sets the loss model"},
	{"gemodel without r", ok("    link:", "      gemodel: {p: 1%}"), 4, "scenarios[0].link.gemodel.r", "missing"},
	{"bursts without mean", ok("    link:", "      bursts: {loss: 1%}"), 4, "scenarios[0].link.bursts.mean", "missing"},
	{"bursts of total loss", ok("    link:", "      bursts: {loss: 100%, mean: 3}"), 4, "scenarios[0].link.bursts.loss", "not bursty"},
	{"bursts unreachable", ok("    link:", "      bursts: {loss: 60%, mean: 1}"), 4, "scenarios[0].link.bursts", "unreachable with a mean burst of 1: such bursts allow at most 50%"},
	{"bursts mean below 1", ok("    link:", "      bursts: {loss: 1%, mean: 0.5}"), 4, "scenarios[0].link.bursts.mean", "at least 1 packet"},

	// Workloads.
	{"unknown workload", ok("    workload: messgaes"), 3, "scenarios[0].workload", `unknown workload "messgaes"; did you mean "messages"?`},
	{"workload list", ok("    workload: [bulk]"), 3, "scenarios[0].workload", "want a workload, got a list"},
	{"message size without unit", ok("    workload: messages", "    message_size: 1kB"), 4, "scenarios[0].message_size", "KiB"},
	{"message size too small", ok("    workload: messages", "    message_size: 8B"), 4, "scenarios[0].message_size", `"8B" is out of range: want 16 bytes`},
	{"message size too large", lines("defaults:", "  message_size: 2MiB", "scenarios: [{name: a}]"), 2, "defaults.message_size", "to 1MiB"},
	{"message rate zero", ok("    workload: messages", "    message_rate: 0"), 4, "scenarios[0].message_rate", "more than 0"},
	{"message rate negative", ok("    workload: messages", "    message_rate: -5/s"), 4, "scenarios[0].message_rate", "more than 0"},
	{"message rate too high", ok("    workload: messages", "    message_rate: 20000"), 4, "scenarios[0].message_rate", "at most 10000 messages per second"},
	{"message rate with a unit", ok("    workload: messages", "    message_rate: 200hz"), 4, "scenarios[0].message_rate", `"200hz" is not a message rate (want messages per second`},
	{"message rate a list", ok("    workload: messages", "    message_rate: [200]"), 4, "scenarios[0].message_rate", "want messages per second, got a list"},
	{"message size on bulk", ok("    message_size: 1KiB"), 3, "scenarios[0].message_size", "applies to workload messages only, and this scenario's workload is bulk (the default)"},
	{"message rate on a bulk scenario", lines("defaults: {workload: messages}", "scenarios:", "  - name: a", "    workload: bulk", "    message_rate: 10"), 5, "scenarios[0].message_rate", "applies to workload messages only, and this scenario's workload is bulk"},
	{"ceiling with messages", ok("    ceiling: true", "    workload: messages"), 4, "scenarios[0].workload", "its workload is bulk"},
	{"ceiling under messages defaults", lines("defaults: {workload: messages}", "scenarios:", "  - name: a", "    ceiling: true"), 1, "defaults.workload", "write workload: bulk in it"},
	{"no message after warm-up", ok("    workload: messages", "    message_rate: 0.5", "    duration: 2s"), 4, "scenarios[0].message_rate", "the 1s after the warm-up hold no message"},
	{"duration blamed for no message", lines("defaults: {workload: messages, message_rate: 0.5}", "scenarios:", "  - name: a", "    duration: 2s"), 4, "scenarios[0].duration", "hold no message"},
	{"too many messages", ok("    workload: messages", "    message_rate: 10000", "    duration: 2m"), 4, "scenarios[0].message_rate", "more than 1000000 messages, the limit of a run"},
	{"unknown workload idel", ok("    workload: idel"), 3, "scenarios[0].workload", `unknown workload "idel"; did you mean "idle"?`},
	{"workload list in defaults", lines("defaults:", "  workload: [idle]", "scenarios: [{name: a}]"), 2, "defaults.workload", "want a workload, got a list"},
	{"connections without idle", ok("    connections: 10"), 3, "scenarios[0].connections", "applies to workload idle only, and this scenario's workload is bulk (the default)"},
	{"flows under a defaults workload", lines("defaults:", "  workload: idle", "scenarios:", "  - name: a", "    flows: [pydevts, pydevts]"), 5, "scenarios[0].flows", "workload is idle (defaults.workload, line 2)"},
	{"stagger with idle", ok("    workload: idle", "    stagger: 1s"), 4, "scenarios[0].stagger", "applies to workload fairness only, and this scenario's workload is idle"},
	{"connections zero", ok("    workload: idle", "    connections: 0"), 4, "scenarios[0].connections", "want 1 to 10000 connections"},
	{"connections not a number", ok("    workload: idle", "    connections: 1k"), 4, "scenarios[0].connections", `"1k" is not a whole number`},
	{"idle with tcp", ok("    workload: idle", "    transports: [pydevts, tcp-cubic]"), 4, "scenarios[0].transports[1]", "workload idle runs pydevts and quic-go only: tcp-cubic keeps its connections in the kernel"},
	{"idle inherits only tcp", lines("defaults:", "  transports: [tcp-bbr]", "scenarios:", "  - name: a", "    workload: idle"), 4, "scenarios[0].name", "the transports this scenario inherits (tcp-bbr) include neither"},
	{"idle with timeline", ok("    workload: idle", "    timeline: [{at: 1s, set: {loss: 1%}}]"), 4, "scenarios[0].timeline", "workload idle takes none"},
	{"fairness without flows", ok("    workload: fairness", "    link: {rate: 50mbit}"), 2, "scenarios[0].name", "workload fairness needs flows"},
	{"fairness with transports", ok("    workload: fairness", "    transports: [pydevts]", "    flows: [pydevts, pydevts]"), 4, "scenarios[0].transports", "takes its transports from flows"},
	{"fairness on ceiling", ok("    workload: fairness", "    ceiling: true", "    flows: [pydevts, pydevts]"), 4, "scenarios[0].ceiling", "a ceiling scenario has no emulator"},
	{"fairness without rate", ok("    workload: fairness", "    flows: [pydevts, tcp-cubic]", "    link: {delay: 10ms}"), 5, "scenarios[0].link", "needs a bottleneck to share: set rate"},
	{"fairness rate only back", ok("    workload: fairness", "    flows: [pydevts, tcp-cubic]", "    b_to_a: {rate: 50mbit}"), 2, "scenarios[0].name", "needs a bottleneck"},
	{"fairness matrix without rate", ok("    workload: fairness", "    flows: [pydevts, tcp-cubic]", "    link: {delay: 1ms}", "    matrix: {rate: [1mbit, 0]}"), 5, "scenarios[0].link", "in run a/rate=0: workload fairness needs a bottleneck"},
	{"fairness with timeline", ok("    workload: fairness", "    flows: [pydevts, pydevts]", "    link: {rate: 1mbit}", "    timeline: [{at: 1s, set: {loss: 1%}}]"), 6, "scenarios[0].timeline", "workload fairness takes none"},
	{"one flow", ok("    workload: fairness", "    flows: [pydevts]"), 4, "scenarios[0].flows", "want two transports"},
	{"three flows", ok("    workload: fairness", "    flows: [pydevts, pydevts, quic-go]"), 4, "scenarios[0].flows[2]", "a third flow"},
	{"flows scalar", ok("    workload: fairness", "    flows: pydevts"), 4, "scenarios[0].flows", `want a list of two transports, got "pydevts"`},
	{"flows empty", ok("    workload: fairness", "    flows: []"), 4, "scenarios[0].flows", "want two transports"},
	{"unknown flow", ok("    workload: fairness", "    flows: [pydevts, tcp-cubc]"), 4, "scenarios[0].flows[1]", `unknown transport "tcp-cubc"; did you mean "tcp-cubic"?`},
	{"pairs mixed", ok("    workload: fairness", "    flows: [[pydevts, pydevts], quic-go]"), 4, "scenarios[0].flows[1]", `want a list of two transports, got "quic-go"`},
	{"pair in a pair", ok("    workload: fairness", "    flows: [pydevts, [quic-go, pydevts]]"), 4, "scenarios[0].flows[1]", "want a transport name, got a list"},
	{"pair twice", ok("    workload: fairness", "    flows:", "      - [pydevts, tcp-cubic]", "      - [pydevts, tcp-bbr]", "      - [pydevts, tcp-cubic]"), 7, "scenarios[0].flows[2]", "the same pair as scenarios[0].flows[0]"},
	{"stagger too long", ok("    workload: fairness", "    flows: [pydevts, pydevts]", "    link: {rate: 1mbit}", "    duration: 10s", "    warmup: 2s", "    stagger: 8s"), 8, "scenarios[0].stagger", "stagger 8s plus warmup 2s must be shorter than duration 10s"},
	{"negative stagger", ok("    workload: fairness", "    flows: [pydevts, pydevts]", "    stagger: -1s"), 5, "scenarios[0].stagger", "negative"},
	{"message rate under fairness", ok("    workload: fairness", "    flows: [pydevts, pydevts]", "    link: {rate: 1mbit}", "    message_rate: 10"), 6, "scenarios[0].message_rate", "applies to workload messages only, and this scenario's workload is fairness"},
	{"connections under messages", lines("defaults: {workload: messages}", "scenarios:", "  - name: a", "    connections: 10"), 4, "scenarios[0].connections", "applies to workload idle only, and this scenario's workload is messages (defaults.workload, line 1)"},
	{"messages ceiling under idle defaults", lines("defaults: {workload: idle}", "scenarios:", "  - name: a", "    ceiling: true", "    workload: messages"), 5, "scenarios[0].workload", "its workload is bulk or idle"},

	// linkemu.Spec.Validate, at the mapping that made the Spec.
	{"jitter above delay", ok("    link: {delay: 1ms, jitter: 2ms}"), 3, "scenarios[0].link", "direction a_to_b: linkemu: Spec.Jitter = 2ms: must not exceed Delay"},
	{"reorder without delay", ok("    link: {delay: 1ms}", "    b_to_a:", "      delay: 0s", "      reorder: 1%"), 5, "scenarios[0].b_to_a", "direction b_to_a: linkemu: Spec.Reorder"},
	{"delay above an hour", ok("    a_to_b: {delay: 2h}"), 3, "scenarios[0].a_to_b", "Spec.Delay = 2h0m0s: must be at most 1h0m0s"},
	{"matrix makes jitter too big", ok("    link: {jitter: 5ms}", "    matrix: {delay: [10ms, 1ms]}"), 3, "scenarios[0].link", "in run a/delay=1ms: linkemu: Spec.Jitter"},
	{"matrix alone", ok("    matrix:", "      reorder: [1%]"), 4, "scenarios[0].matrix.reorder", "Spec.Reorder"},
	{"timeline breaks the spec", ok("    link: {delay: 2ms, jitter: 1ms}", "    timeline:", "      - at: 2s", "        a_to_b: {delay: 0s}"), 5, "scenarios[0].timeline[0]", "direction a_to_b: linkemu: Spec.Jitter"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.file), "test.yaml")
			if err == nil {
				t.Fatalf("no error; parsed %d scenarios from\n%s", len(got), tt.file)
			}
			prefix := fmt.Sprintf("test.yaml:%d: ", tt.line)
			if tt.path != "" {
				prefix += tt.path + ": "
			}
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.msg) {
				t.Errorf("error\n  %s\nwant it to start with %q and contain %q; file:\n%s", msg, prefix, tt.msg, tt.file)
			}
		})
	}
}

// TestParseErrorWrapsValidate checks that linkemu's error stays reachable.
func TestParseErrorWrapsValidate(t *testing.T) {
	_, err := Parse([]byte(ok("    link: {delay: 1ms, jitter: 2ms}")), "x.yaml")
	want := linkemu.Spec{Delay: 1e6, Jitter: 2e6, KeepOrder: true}.Validate()
	if err == nil || want == nil || !strings.Contains(err.Error(), want.Error()) || errors.Unwrap(errors.Unwrap(err)) == nil {
		t.Fatalf("got %v, want it to wrap %v", err, want)
	}
}

// TestParseNoFilename checks the stand-in name of nameless input.
func TestParseNoFilename(t *testing.T) {
	if _, err := Parse(nil, ""); err == nil || !strings.HasPrefix(err.Error(), "<input>:1: ") {
		t.Fatalf("got %v, want an error about <input>:1", err)
	}
}
