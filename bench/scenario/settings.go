package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// KnownTransports are the transports a scenario may name, in the order the
// reports list them: this project's transport, kernel TCP with CUBIC and
// with BBR (per socket, so both run on one kernel), and quic-go.
var KnownTransports = []string{"pydevts", "tcp-cubic", "tcp-bbr", "quic-go"}

// MTU bounds. 576 is the datagram every IPv4 host must accept (RFC 791),
// the smallest path worth emulating; 65535 is the largest IPv4 packet and
// the largest MTU a TUN device takes.
const (
	minMTU = 576
	maxMTU = 65535
)

// Origins of a setting, from weakest to strongest.
const (
	builtin = iota
	fromDefaults
	fromScenario
)

// setting is one run setting with where it came from, so that a check made
// after merging defaults into a scenario (warmup < duration) blames the
// line that set the value.
type setting[T any] struct {
	v      T
	node   *yaml.Node // nil for a built-in value
	path   string
	origin int
}

// settings are the keys that defaults and every scenario share.
type settings struct {
	duration, warmup, slack setting[time.Duration]
	repetitions, mtu        setting[int]
	seed                    setting[uint64]
	transports              setting[[]string]
	work                    workSettings
}

// settingKeys are the keys of settings, in the documented order.
var settingKeys = append([]string{"duration", "warmup", "repetitions", "transports", "mtu", "seed", "slack"}, workKeys...)

// builtinSettings are the values of a file without defaults; the package
// documentation lists them.
func builtinSettings() settings {
	return settings{
		duration:    setting[time.Duration]{v: 4 * time.Second},
		warmup:      setting[time.Duration]{v: time.Second},
		repetitions: setting[int]{v: 3},
		transports:  setting[[]string]{v: KnownTransports},
		mtu:         setting[int]{v: 1500},
		seed:        setting[uint64]{v: 1},
		// Timer wake-ups dominate the emulator's CPU at low rates; at
		// 100 Mbit/s, 250 µs of slack costs 0.48 cores against 0.62 at
		// 50 µs, for the same goodput (research/linkemu.md, section 2).
		slack: setting[time.Duration]{v: 250 * time.Microsecond},
		work:  builtinWork(),
	}
}

func set[T any](dst *setting[T], v T, n *yaml.Node, path string, origin int) {
	*dst = setting[T]{v: v, node: n, path: path, origin: origin}
}

// setting decodes one of settingKeys into s. Range checks that need
// another setting (warmup against duration) wait for the merge.
func (d *decoder) setting(s *settings, key string, n *yaml.Node, path string, origin int) error {
	switch key {
	case "duration", "warmup", "slack":
		v, err := value(d, n, path, "a duration", parseDuration)
		if err != nil {
			return err
		}
		switch key {
		case "duration":
			if v == 0 {
				return d.errf(n, path, "must be more than 0")
			}
			set(&s.duration, v, n, path, origin)
		case "warmup":
			set(&s.warmup, v, n, path, origin)
		default:
			set(&s.slack, v, n, path, origin)
		}
	case "repetitions":
		v, err := value(d, n, path, "a whole number", parseInt)
		if err != nil {
			return err
		}
		if v < 1 {
			return d.errf(n, path, "%d: want at least 1 repetition", v)
		}
		set(&s.repetitions, v, n, path, origin)
	case "mtu":
		v, err := value(d, n, path, "a whole number of bytes", parseInt)
		if err != nil {
			return err
		}
		if v < minMTU || v > maxMTU {
			return d.errf(n, path, "%d is out of range: want %d to %d bytes", v, minMTU, maxMTU)
		}
		set(&s.mtu, v, n, path, origin)
	case "seed":
		v, err := value(d, n, path, "a whole number", func(s string) (uint64, error) {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%q is not a seed (want a whole number from 0 to 2^64-1)", s)
			}
			return v, nil
		})
		if err != nil {
			return err
		}
		set(&s.seed, v, n, path, origin)
	case "transports":
		v, err := d.transports(n, path)
		if err != nil {
			return err
		}
		set(&s.transports, v, n, path, origin)
	default:
		return d.workSetting(&s.work, key, n, path, origin)
	}
	return nil
}

// transports decodes a non-empty list of distinct known transports.
func (d *decoder) transports(n *yaml.Node, path string) ([]string, error) {
	var ts []string
	err := d.sequence(n, path, "transports", func(i int, item *yaml.Node) error {
		p := fmt.Sprintf("%s[%d]", path, i)
		t, err := d.transport(item, p)
		if err != nil {
			return err
		}
		if slices.Contains(ts, t) {
			return d.errf(item, p, "%q is listed twice", t)
		}
		ts = append(ts, t)
		return nil
	})
	if err == nil && len(ts) == 0 {
		err = d.errf(n, path, "empty: want at least one of %s", strings.Join(KnownTransports, ", "))
	}
	return ts, err
}

// transport decodes one name of KnownTransports.
func (d *decoder) transport(n *yaml.Node, path string) (string, error) {
	t, err := d.scalar(n, path, "a transport name")
	if err == nil && !slices.Contains(KnownTransports, t) {
		err = d.errf(n, path, "unknown transport %q%s (want one of %s)", t, suggest(t, KnownTransports), strings.Join(KnownTransports, ", "))
	}
	return t, err
}

// merge returns base with every setting that over sets replaced.
func (base settings) merge(over settings) settings {
	return settings{
		duration:    pick(base.duration, over.duration),
		warmup:      pick(base.warmup, over.warmup),
		slack:       pick(base.slack, over.slack),
		repetitions: pick(base.repetitions, over.repetitions),
		mtu:         pick(base.mtu, over.mtu),
		seed:        pick(base.seed, over.seed),
		transports:  pick(base.transports, over.transports),
		work:        base.work.merge(over.work),
	}
}

// pick returns the setting of the stronger origin, base on a tie.
func pick[T any](base, over setting[T]) setting[T] {
	if over.origin > base.origin {
		return over
	}
	return base
}

// checkWarmup rejects a warm-up that leaves nothing to measure. It blames
// the more specific of the two settings (a scenario's over the defaults'),
// the warm-up when they are equal.
func (d *decoder) checkWarmup(s settings, scenario *yaml.Node, path string) error {
	if s.warmup.v < s.duration.v {
		return nil
	}
	blame := s.warmup.node
	bpath := s.warmup.path
	if s.duration.origin > s.warmup.origin {
		blame, bpath = s.duration.node, s.duration.path
	}
	if blame == nil {
		blame, bpath = scenario, path
	}
	return d.errf(blame, bpath, "warmup %v must be shorter than duration %v: goodput is measured after the warm-up",
		s.warmup.v, s.duration.v)
}
