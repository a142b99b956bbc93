package scenario

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

const ms = time.Millisecond

// parseOne parses a file that must be good.
func parseOne(t *testing.T, file string) []Scenario {
	t.Helper()
	ss, err := Parse([]byte(file), "t.yaml")
	if err != nil {
		t.Fatalf("%v\nfile:\n%s", err, file)
	}
	if err := checkScenarios(ss); err != nil {
		t.Fatal(err)
	}
	return ss
}

// deref makes Specs comparable by value, GE included.
func deref(s linkemu.Spec) (linkemu.Spec, linkemu.GE) {
	var g linkemu.GE
	if s.GE != nil {
		g = *s.GE
	}
	s.GE = nil
	return s, g
}

func sameSpec(a, b linkemu.Spec) bool {
	a1, ag := deref(a)
	b1, bg := deref(b)
	return a1 == b1 && ag == bg && (a.GE == nil) == (b.GE == nil)
}

func TestLinkDirections(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		ab, ba linkemu.Spec
	}{
		{"no link", nil, linkemu.Spec{KeepOrder: true}, linkemu.Spec{KeepOrder: true}},
		{"link both ways", []string{"    link: {delay: 10ms, rate: 100mbit, loss: 1%}"},
			linkemu.Spec{Delay: 10 * ms, Rate: 100e6, Loss: 0.01, KeepOrder: true},
			linkemu.Spec{Delay: 10 * ms, Rate: 100e6, Loss: 0.01, KeepOrder: true}},
		{"overrides on top of link", []string{
			"    link: {delay: 10ms, rate: 100mbit, loss: 1%}",
			"    a_to_b: {delay: 20ms}",
			"    b_to_a: {loss: 0%, keep_order: false}"},
			linkemu.Spec{Delay: 20 * ms, Rate: 100e6, Loss: 0.01, KeepOrder: true},
			linkemu.Spec{Delay: 10 * ms, Rate: 100e6, KeepOrder: false}},
		{"one direction only", []string{"    b_to_a: {delay: 40ms, rate: 10mbit}"},
			linkemu.Spec{KeepOrder: true},
			linkemu.Spec{Delay: 40 * ms, Rate: 10e6, KeepOrder: true}},
		{"order of keys does not matter", []string{"    a_to_b: {delay: 20ms}", "    link: {delay: 10ms}"},
			linkemu.Spec{Delay: 20 * ms, KeepOrder: true},
			linkemu.Spec{Delay: 10 * ms, KeepOrder: true}},
		{"keep_order off", []string{"    link: {delay: 10ms, jitter: 2ms, keep_order: false}"},
			linkemu.Spec{Delay: 10 * ms, Jitter: 2 * ms},
			linkemu.Spec{Delay: 10 * ms, Jitter: 2 * ms}},
		{"every field", []string{"    link: {delay: 10ms, jitter: 1ms, keep_order: true, loss: 1%, reorder: 2%, duplicate: 3%, corrupt: 4%, rate: 5mbit, queue: 6KiB}"},
			linkemu.Spec{Delay: 10 * ms, Jitter: ms, KeepOrder: true, Loss: 0.01, Reorder: 0.02, Duplicate: 0.03, Corrupt: 0.04, Rate: 5e6, Queue: 6 << 10},
			linkemu.Spec{Delay: 10 * ms, Jitter: ms, KeepOrder: true, Loss: 0.01, Reorder: 0.02, Duplicate: 0.03, Corrupt: 0.04, Rate: 5e6, Queue: 6 << 10}},
		{"gemodel with defaults", []string{"    link: {gemodel: {p: 1%, r: 20%}}"},
			linkemu.Spec{KeepOrder: true, GE: &linkemu.GE{P: 0.01, R: 0.2, LossBad: 1}},
			linkemu.Spec{KeepOrder: true, GE: &linkemu.GE{P: 0.01, R: 0.2, LossBad: 1}}},
		{"gemodel in full", []string{"    link: {gemodel: {p: 1%, r: 20%, loss_bad: 50%, loss_good: 0.1%}}"},
			linkemu.Spec{KeepOrder: true, GE: &linkemu.GE{P: 0.01, R: 0.2, LossBad: 0.5, LossGood: 0.001}},
			linkemu.Spec{KeepOrder: true, GE: &linkemu.GE{P: 0.01, R: 0.2, LossBad: 0.5, LossGood: 0.001}}},
		{"bursts", []string{"    link: {bursts: {loss: 3%, mean: 4}}"},
			linkemu.Spec{KeepOrder: true, GE: linkemu.Burst(0.03, 4)},
			linkemu.Spec{KeepOrder: true, GE: linkemu.Burst(0.03, 4)}},
		{"loss replaces a link's bursts", []string{"    link: {bursts: {loss: 3%, mean: 4}}", "    a_to_b: {loss: 1%}"},
			linkemu.Spec{KeepOrder: true, Loss: 0.01},
			linkemu.Spec{KeepOrder: true, GE: linkemu.Burst(0.03, 4)}},
		{"gemodel replaces a link's loss", []string{"    link: {loss: 1%}", "    b_to_a: {gemodel: {p: 1%, r: 50%}}"},
			linkemu.Spec{KeepOrder: true, Loss: 0.01},
			linkemu.Spec{KeepOrder: true, GE: &linkemu.GE{P: 0.01, R: 0.5, LossBad: 1}}},
		{"aliases", []string{"    link: &l {delay: 10ms}", "    a_to_b: *l"},
			linkemu.Spec{Delay: 10 * ms, KeepOrder: true},
			linkemu.Spec{Delay: 10 * ms, KeepOrder: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := parseOne(t, ok(tt.keys...))[0]
			if !sameSpec(s.AB, tt.ab) || !sameSpec(s.BA, tt.ba) {
				t.Errorf("got\n  AB %+v %+v\n  BA %+v %+v\nwant\n  AB %+v\n  BA %+v", s.AB, s.AB.GE, s.BA, s.BA.GE, tt.ab, tt.ba)
			}
			if s.AB.GE != nil && s.AB.GE == s.BA.GE {
				t.Error("AB and BA share a GE")
			}
		})
	}
}

func TestTimeline(t *testing.T) {
	s := parseOne(t, ok(
		"    duration: 10s",
		"    link: {delay: 10ms, rate: 100mbit, loss: 1%}",
		"    b_to_a: {delay: 30ms}",
		"    timeline:",
		"      - {at: 1s, set: {loss: 5%}}",                            // both, loss only
		"      - {at: 2s, a_to_b: {delay: 50ms}}",                      // one direction
		"      - {at: 3s, set: {rate: 1mbit}, b_to_a: {rate: 2mbit}}",  // direction over set
		"      - {at: 4s, set: {bursts: {loss: 10%, mean: 2}}}",        // loss model replaced
		"      - {at: 5s, a_to_b: {loss: 100%}, b_to_a: {loss: 100%}}", // outage, one map each
	))[0]
	base := func(delay time.Duration) linkemu.Spec {
		return linkemu.Spec{Delay: delay, Rate: 100e6, Loss: 0.01, KeepOrder: true}
	}
	ab, ba := base(10*ms), base(30*ms)
	if !sameSpec(s.AB, ab) || !sameSpec(s.BA, ba) {
		t.Fatalf("start: AB %+v, BA %+v", s.AB, s.BA)
	}
	var want []Event
	ab.Loss, ba.Loss = 0.05, 0.05
	want = append(want, Event{time.Second, ab, ba})
	ab.Delay = 50 * ms
	want = append(want, Event{2 * time.Second, ab, ba})
	ab.Rate, ba.Rate = 1e6, 2e6
	want = append(want, Event{3 * time.Second, ab, ba})
	ab.Loss, ba.Loss, ab.GE, ba.GE = 0, 0, linkemu.Burst(0.1, 2), linkemu.Burst(0.1, 2)
	want = append(want, Event{4 * time.Second, ab, ba})
	ab.Loss, ba.Loss, ab.GE, ba.GE = 1, 1, nil, nil
	want = append(want, Event{5 * time.Second, ab, ba})

	if len(s.Timeline) != len(want) {
		t.Fatalf("%d events, want %d", len(s.Timeline), len(want))
	}
	for i, ev := range s.Timeline {
		w := want[i]
		if ev.At != w.At || !sameSpec(ev.AB, w.AB) || !sameSpec(ev.BA, w.BA) {
			t.Errorf("event %d: got at %v\n  AB %+v\n  BA %+v\nwant at %v\n  AB %+v\n  BA %+v", i, ev.At, ev.AB, ev.BA, w.At, w.AB, w.BA)
		}
	}
	if s.Timeline[3].AB.GE == s.Timeline[3].BA.GE {
		t.Error("an event's directions share a GE")
	}
}

func TestMatrix(t *testing.T) {
	ss := parseOne(t, ok(
		"    link: {rate: 10mbit}",
		"    a_to_b: {jitter: 1ms}",
		"    matrix:",
		"      delay: [5ms, 20ms]",
		"      loss: [0%, 0.5, 1%]",
	))
	var got []string
	for i, s := range ss {
		got = append(got, s.Name)
		delay, loss := []time.Duration{5 * ms, 20 * ms}[i/3], []float64{0, 0.5, 0.01}[i%3]
		wantMatrix := map[string]string{"delay": []string{"5ms", "20ms"}[i/3], "loss": []string{"0%", "0.5", "1%"}[i%3]}
		if s.Group != "a" || !maps.Equal(s.Matrix, wantMatrix) {
			t.Errorf("%s: group %q, matrix %v, want %v", s.Name, s.Group, s.Matrix, wantMatrix)
		}
		ab := linkemu.Spec{Delay: delay, Jitter: ms, Loss: loss, Rate: 10e6, KeepOrder: true}
		ba := linkemu.Spec{Delay: delay, Loss: loss, Rate: 10e6, KeepOrder: true}
		if s.AB != ab || s.BA != ba {
			t.Errorf("%s: AB %+v BA %+v, want %+v %+v", s.Name, s.AB, s.BA, ab, ba)
		}
	}
	want := []string{
		"a/delay=5ms,loss=0%", "a/delay=5ms,loss=0.5", "a/delay=5ms,loss=1%",
		"a/delay=20ms,loss=0%", "a/delay=20ms,loss=0.5", "a/delay=20ms,loss=1%",
	}
	if !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}

func TestSettings(t *testing.T) {
	ss := parseOne(t, lines(
		"defaults:",
		"  duration: 10s",
		"  repetitions: 5",
		"  transports: [quic-go, pydevts]",
		"  seed: 18446744073709551615",
		"scenarios:",
		"  - name: a",
		"  - name: b",
		"    repetitions: 1",
		"    warmup: 0s",
		"    mtu: 9000",
		"    slack: 1ms",
		"    transports: [tcp-bbr]",
		"  - name: c",
		"    ceiling: true",
	))
	a, b, c := ss[0], ss[1], ss[2]
	if a.Duration != 10*time.Second || a.Warmup != time.Second || a.Repetitions != 5 || a.MTU != 1500 ||
		a.Seed != 1<<64-1 || a.Slack != 250*time.Microsecond || !slices.Equal(a.Transports, []string{"quic-go", "pydevts"}) {
		t.Errorf("a: %+v", a)
	}
	if b.Duration != 10*time.Second || b.Warmup != 0 || b.Repetitions != 1 || b.MTU != 9000 ||
		b.Slack != ms || !slices.Equal(b.Transports, []string{"tcp-bbr"}) {
		t.Errorf("b: %+v", b)
	}
	if !c.Ceiling || c.AB != (linkemu.Spec{}) || c.Repetitions != 5 {
		t.Errorf("c: %+v", c)
	}

	// Without defaults, the documented built-in values.
	d := parseOne(t, "scenarios: [{name: x}]")[0]
	if d.Duration != 4*time.Second || d.Warmup != time.Second || d.Repetitions != 3 || d.MTU != 1500 ||
		d.Seed != 1 || d.Slack != 250*time.Microsecond || !slices.Equal(d.Transports, KnownTransports) {
		t.Errorf("built-in values: %+v", d)
	}
	// An empty defaults section is no defaults.
	parseOne(t, lines("defaults:", "  # duration: 1s", "scenarios: [{name: x}]"))
}

func TestWorkload(t *testing.T) {
	ss := parseOne(t, lines(
		"defaults:",
		"  message_rate: 50/s",
		"scenarios:",
		"  - name: bulk",
		"  - name: m",
		"    workload: messages",
		"  - name: m2",
		"    link: {delay: 20ms, loss: 5%}",
		"    workload: messages",
		"    message_size: 4KiB",
		"    message_rate: 0.5",
		"    duration: 4s",
		"    warmup: 0s",
		"  - name: c",
		"    ceiling: true",
		"    workload: bulk",
	))
	want := []struct {
		workload string
		size     int
		rate     float64
	}{{WorkloadBulk, 0, 0}, {WorkloadMessages, 1024, 50}, {WorkloadMessages, 4096, 0.5}, {WorkloadBulk, 0, 0}}
	for i, w := range want {
		if s := ss[i]; s.Workload != w.workload || s.MessageSize != w.size || s.MessageRate != w.rate {
			t.Errorf("%s: workload %q, %d bytes at %v/s; want %q, %d at %v", s.Name, s.Workload, s.MessageSize, s.MessageRate, w.workload, w.size, w.rate)
		}
	}
	// Without any workload key, the built-in values: bulk, and for
	// messages 1 KiB at 200 per second.
	if d := parseOne(t, "scenarios: [{name: x}]")[0]; d.Workload != WorkloadBulk || d.MessageSize != 0 {
		t.Errorf("built-in workload: %+v", d)
	}
	d := parseOne(t, lines("defaults: {workload: messages}", "scenarios: [{name: x}, {name: y, ceiling: true, workload: bulk}]"))
	if d[0].Workload != WorkloadMessages || d[0].MessageSize != 1024 || d[0].MessageRate != 200 || d[1].Workload != WorkloadBulk {
		t.Errorf("messages from the defaults: %+v", d)
	}
}
