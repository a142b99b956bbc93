package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"gopkg.in/yaml.v3"
)

// rawScenario is one entry of scenarios: as written, before expansion.
type rawScenario struct {
	node     *yaml.Node
	path     string
	name     string
	ceiling  bool
	link     *patch // nil when absent, as are ab and ba
	ab, ba   *patch
	matrix   []matrixKey
	timeline []rawEvent
	settings settings              // merged with the defaults
	keys     map[string]*yaml.Node // each key given, for errors about it
}

// matrixKey is one key of a matrix and its values, in file order.
type matrixKey struct {
	name   string
	key    *yaml.Node
	path   string
	field  field
	values []matrixValue
}

// matrixValue is one value of a matrix key: its text as written (for the
// run's name) and the patch that sets it.
type matrixValue struct {
	text string
	p    *patch
}

// maxEvents bounds a timeline. A timeline is a handful of changes (an
// outage, a handover); the bound, with maxRuns, keeps the Events a file
// expands into, one copy per run, to a few megabytes whatever the input.
const maxEvents = 100

// rawEvent is one timeline entry as written.
type rawEvent struct {
	node        *yaml.Node
	path        string
	at          time.Duration
	atNode      *yaml.Node
	set, ab, ba *patch
}

// scenarioKeys are the keys of a scenario.
var scenarioKeys = slices.Concat([]string{"name", "ceiling", "link", "a_to_b", "b_to_a", "matrix", "timeline"}, settingKeys, scenarioWorkKeys)

// linkKeys are the scenario keys that describe the emulated link, which a
// ceiling scenario does not have.
var linkKeys = []string{"link", "a_to_b", "b_to_a", "matrix", "timeline"}

// nameRE keeps names usable as file names and command-line arguments;
// "/", "=" and "," are left out because matrix runs are named with them.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// decodeFile decodes the whole document: defaults, then the scenarios.
func (d *decoder) decodeFile(root *yaml.Node) ([]*rawScenario, error) {
	var defaultsNode, scenariosNode *yaml.Node
	err := d.mapping(root, "", []string{"defaults", "scenarios"}, func(key string, k, v *yaml.Node) error {
		if key == "defaults" {
			defaultsNode = v
		} else {
			scenariosNode = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defaults := builtinSettings()
	err = d.mapping(defaultsNode, "defaults", settingKeys, func(key string, k, v *yaml.Node) error {
		return d.setting(&defaults, key, v, join("defaults", key), fromDefaults)
	})
	if err != nil {
		return nil, err
	}
	if scenariosNode == nil || isNull(scenariosNode) {
		return nil, d.errf(root, "scenarios", "missing: a scenario file lists its runs under scenarios:")
	}
	var raws []*rawScenario
	names := make(map[string]*rawScenario)
	err = d.sequence(scenariosNode, "scenarios", "scenarios", func(i int, item *yaml.Node) error {
		r, err := d.scenario(item, fmt.Sprintf("scenarios[%d]", i), defaults)
		if err != nil {
			return err
		}
		if prev, ok := names[r.name]; ok {
			return d.errf(r.node, join(r.path, "name"), "%q is already the name of %s (line %d)", r.name, prev.path, prev.node.Line)
		}
		names[r.name] = r
		raws = append(raws, r)
		return nil
	})
	if err == nil && len(raws) == 0 {
		err = d.errf(scenariosNode, "scenarios", "empty: want at least one scenario")
	}
	return raws, err
}

// scenario decodes one entry of scenarios.
func (d *decoder) scenario(n *yaml.Node, path string, defaults settings) (*rawScenario, error) {
	r := &rawScenario{node: n, path: path, keys: make(map[string]*yaml.Node)}
	var own settings
	var nameNode, linkKey *yaml.Node
	err := d.mapping(n, path, scenarioKeys, func(key string, k, v *yaml.Node) (err error) {
		p := join(path, key)
		r.keys[key] = k
		if linkKey == nil && slices.Contains(linkKeys, key) {
			linkKey = k
		}
		switch key {
		case "name":
			nameNode = v
			if r.name, err = d.scalar(v, p, "a name"); err == nil && !nameRE.MatchString(r.name) {
				err = d.errf(v, p, "%q: a name is 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", r.name)
			}
		case "ceiling":
			r.ceiling, err = d.boolean(v, p)
		case "link":
			r.link, err = d.link(v, p)
		case "a_to_b":
			r.ab, err = d.link(v, p)
		case "b_to_a":
			r.ba, err = d.link(v, p)
		case "matrix":
			r.matrix, err = d.matrix(v, p)
		case "timeline":
			r.timeline, err = d.timeline(v, p)
		default:
			err = d.setting(&own, key, v, p, fromScenario)
		}
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case nameNode == nil:
		return nil, d.errf(n, join(path, "name"), "missing: every scenario needs a name")
	case r.ceiling && linkKey != nil:
		return nil, d.errf(linkKey, join(path, linkKey.Value),
			"a ceiling scenario runs on real loopback, without the emulator, so it takes no %s", linkKey.Value)
	}
	r.node = nameNode // errors about the whole scenario point at its name
	r.settings = defaults.merge(own)
	if err := d.checkWarmup(r.settings, nameNode, join(path, "name")); err != nil {
		return nil, err
	}
	return r, d.checkWorkload(r)
}

// matrix decodes a matrix: link fields, each with a list of values.
func (d *decoder) matrix(n *yaml.Node, path string) ([]matrixKey, error) {
	var scalars []string
	for _, f := range linkFields {
		if f.scalar {
			scalars = append(scalars, f.name)
		}
	}
	var keys []matrixKey
	err := d.mapping(n, path, nil, func(key string, k, v *yaml.Node) error {
		p := join(path, key)
		lf, ok := lookupLinkField(key)
		switch {
		case !ok:
			return d.errf(k, p, "not a link field%s (a matrix key is one of %s)", suggest(key, scalars), strings.Join(scalars, ", "))
		case !lf.scalar:
			return d.errf(k, p, "%s takes a mapping, so it cannot be a matrix key; write one scenario per model", key)
		}
		mk := matrixKey{name: key, key: k, path: p, field: lf.field}
		seen := make(map[linkemu.Spec]int) // value -> index; matrix values leave GE nil
		err := d.sequence(v, p, "values", func(i int, item *yaml.Node) error {
			ip := fmt.Sprintf("%s[%d]", p, i)
			if i == maxRuns {
				return d.errf(item, ip, "more than %d values: the file would expand into more than %d runs, the limit", maxRuns, maxRuns)
			}
			vp := &patch{node: item, path: ip}
			vp.set[lf.field] = k
			if err := lf.parse(d, item, ip, &vp.spec); err != nil {
				return err
			}
			if j, ok := seen[vp.spec]; ok {
				return d.errf(item, ip, "%s is the same value as %s[%d] (%s): each value is one run", item.Value, p, j, mk.values[j].text)
			}
			seen[vp.spec] = i
			mk.values = append(mk.values, matrixValue{text: item.Value, p: vp})
			return nil
		})
		if err == nil && len(mk.values) == 0 {
			err = d.errf(v, p, "empty list: a matrix key needs at least one value")
		}
		keys = append(keys, mk)
		return err
	})
	if err == nil && len(keys) == 0 {
		err = d.errf(n, path, "empty: want a link field and its list of values, e.g. {loss: [1%%, 5%%]}")
	}
	return keys, err
}

// timeline decodes the list of mid-run changes, which must be in time
// order: each applies on top of the one before, so the file's order is the
// order of application, and it had better be the order of time too.
func (d *decoder) timeline(n *yaml.Node, path string) ([]rawEvent, error) {
	var evs []rawEvent
	err := d.sequence(n, path, "events", func(i int, item *yaml.Node) error {
		p := fmt.Sprintf("%s[%d]", path, i)
		if i == maxEvents {
			return d.errf(item, p, "more than %d events, the limit of a timeline", maxEvents)
		}
		ev := rawEvent{node: item, path: p}
		err := d.mapping(item, p, []string{"at", "set", "a_to_b", "b_to_a"}, func(key string, k, v *yaml.Node) (err error) {
			kp := join(p, key)
			switch key {
			case "at":
				ev.atNode = v
				ev.at, err = value(d, v, kp, "a duration", parseDuration)
			case "set":
				ev.set, err = d.link(v, kp)
			case "a_to_b":
				ev.ab, err = d.link(v, kp)
			case "b_to_a":
				ev.ba, err = d.link(v, kp)
			}
			return err
		})
		switch {
		case err != nil:
			return err
		case ev.atNode == nil:
			return d.errf(item, join(p, "at"), "missing: when the change happens, e.g. 3s")
		case isEmpty(ev.set) && isEmpty(ev.ab) && isEmpty(ev.ba):
			return d.errf(item, p, "changes nothing: give set (both directions), a_to_b or b_to_a")
		case i > 0 && ev.at <= evs[i-1].at:
			return d.errf(ev.atNode, join(p, "at"), "%v is not after %s.at (%v): list events in time order", ev.at, evs[i-1].path, evs[i-1].at)
		}
		evs = append(evs, ev)
		return nil
	})
	return evs, err
}

func isEmpty(p *patch) bool { return p == nil || p.empty() }
