package scenario

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pydevts/pydevts/bench/linkemu"
	"gopkg.in/yaml.v3"
)

// maxRuns bounds the expanded runs of one file. Matrix keys multiply, and
// a few keys of a few values each reach thousands of runs: 1000 runs of
// the default 4 transports x 3 repetitions x 4 s already take 13 hours, so
// more is a mistake, and the bound keeps Parse's memory small on any
// input.
const maxRuns = 1000

// expand turns the decoded scenarios into runs: the link built up from
// defaults, link, the matrix values and a_to_b/b_to_a, then the timeline
// on top, each Spec validated where it is made.
func (d *decoder) expand(raws []*rawScenario) ([]Scenario, error) {
	var out []Scenario
	for _, r := range raws {
		if err := d.checkMatrix(r, maxRuns-len(out)); err != nil {
			return nil, err
		}
		combos := [][]int{nil}
		for _, mk := range r.matrix {
			var next [][]int
			for _, c := range combos {
				for v := range mk.values {
					next = append(next, append(slices.Clone(c), v))
				}
			}
			combos = next
		}
		for _, c := range combos {
			s, err := d.run(r, c)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// checkMatrix refuses a matrix key that link, a_to_b or b_to_a also sets
// (the file would say two things of one field; one would silently lose),
// and a matrix of more than room runs.
func (d *decoder) checkMatrix(r *rawScenario, room int) error {
	runs := 1
	for _, mk := range r.matrix {
		for _, p := range []*patch{r.link, r.ab, r.ba} {
			if k := p.setBy(mk.field); k != nil {
				return d.errf(mk.key, mk.path, "%s.%s (line %d) sets it too: set it in one place", p.path, k.Value, k.Line)
			}
		}
		// runs <= room <= maxRuns before each product: no overflow.
		if runs *= len(mk.values); runs > room {
			return d.errf(mk.key, mk.path, "the file expands into more than %d runs, the limit", maxRuns)
		}
	}
	if runs > room {
		return d.errf(r.node, join(r.path, "name"), "the file expands into more than %d runs, the limit", maxRuns)
	}
	return nil
}

// setBy returns the key that set f in p, nil if none.
func (p *patch) setBy(f field) *yaml.Node {
	if p == nil {
		return nil
	}
	return p.set[f]
}

// run builds the run of r for one combination of matrix values (the index
// of a value per key).
func (d *decoder) run(r *rawScenario, combo []int) (Scenario, error) {
	st := r.settings
	s := Scenario{
		Name:        r.name,
		Group:       r.name,
		Duration:    st.duration.v,
		Warmup:      st.warmup.v,
		Repetitions: st.repetitions.v,
		Transports:  slices.Clone(st.transports.v),
		MTU:         st.mtu.v,
		Seed:        st.seed.v,
		Slack:       st.slack.v,
		Ceiling:     r.ceiling,
		Matrix:      make(map[string]string),
	}
	st.work.apply(&s)
	if r.ceiling {
		return s, nil // no link: decoding refused every link key
	}
	// KeepOrder is on unless a file turns it off: jitter without it
	// reorders almost every packet at high rates (research/linkemu.md,
	// pitfall 6), which is a reorder scenario nobody asked for.
	both := r.link.apply(linkemu.Spec{KeepOrder: true})
	var named []string
	for i, mk := range r.matrix {
		v := mk.values[combo[i]]
		both = v.p.apply(both)
		s.Matrix[mk.name] = v.text
		named = append(named, mk.name+"="+v.text)
	}
	if len(named) > 0 {
		s.Name += "/" + strings.Join(named, ",")
	}
	s.AB, s.BA = r.ab.apply(both), r.ba.apply(both)
	if err := d.validate(s, s.AB, "a_to_b", r.blame(r.ab)); err != nil {
		return Scenario{}, err
	}
	if err := d.validate(s, s.BA, "b_to_a", r.blame(r.ba)); err != nil {
		return Scenario{}, err
	}
	ab, ba := s.AB, s.BA
	for _, ev := range r.timeline {
		if ev.at >= s.Duration {
			return Scenario{}, d.errf(ev.atNode, join(ev.path, "at"), "%v is not inside the run, which lasts %v (duration)", ev.at, s.Duration)
		}
		if ev.at == 0 {
			return Scenario{}, d.errf(ev.atNode, join(ev.path, "at"), "0s is the start: describe the link at the start with link, a_to_b and b_to_a")
		}
		ab, ba = ev.ab.apply(ev.set.apply(ab)), ev.ba.apply(ev.set.apply(ba))
		at := place{ev.node, ev.path}
		if err := d.validate(s, ab, "a_to_b", at); err != nil {
			return Scenario{}, err
		}
		if err := d.validate(s, ba, "b_to_a", at); err != nil {
			return Scenario{}, err
		}
		s.Timeline = append(s.Timeline, Event{At: ev.at, AB: ab, BA: ba})
	}
	return s, d.checkBottleneck(r, s)
}

// place is where in the file an error is reported.
type place struct {
	node *yaml.Node
	path string
}

// blame returns the mapping most likely to hold the mistake when a
// direction's starting Spec fails: its own a_to_b or b_to_a (dir), else
// link, else the matrix, else the scenario's name.
func (r *rawScenario) blame(dir *patch) place {
	for _, p := range []*patch{dir, r.link} {
		if p != nil {
			return place{p.node, p.path}
		}
	}
	if len(r.matrix) > 0 {
		return place{r.matrix[0].key, r.matrix[0].path}
	}
	return place{r.node, join(r.path, "name")}
}

// validate runs linkemu's own checks on one direction of s, and reports a
// failure at at, with the direction and the run's name: one mapping can
// make several Specs.
func (d *decoder) validate(s Scenario, spec linkemu.Spec, dir string, at place) error {
	err := spec.Validate()
	if err == nil {
		return nil
	}
	ctx := "direction " + dir
	if len(s.Matrix) > 0 {
		ctx += ", in run " + s.Name
	}
	return d.errAt(at.node, at.path, fmt.Errorf("%s: %w", ctx, err))
}
