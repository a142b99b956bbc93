package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Workloads: what the client sends during a run.
const (
	// WorkloadBulk is one bulk transfer for the duration, with small
	// request/response probes beside it: goodput and latency under load.
	WorkloadBulk = "bulk"
	// WorkloadMessages is a message of MessageSize bytes every
	// 1/MessageRate seconds, each timed from send to delivery.
	WorkloadMessages = "messages"
)

// KnownWorkloads are the values of the workload key.
var KnownWorkloads = []string{WorkloadBulk, WorkloadMessages}

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

// workSettings are the keys that choose and shape the workload; they
// belong to settings, so defaults and every scenario share them.
type workSettings struct {
	workload    setting[string]
	messageSize setting[int]
	messageRate setting[float64]
}

// workKeys are the keys of workSettings, in the documented order.
var workKeys = []string{"workload", "message_size", "message_rate"}

func builtinWork() workSettings {
	return workSettings{
		workload:    setting[string]{v: WorkloadBulk},
		messageSize: setting[int]{v: 1 << 10},
		messageRate: setting[float64]{v: 200},
	}
}

// workSetting decodes one of workKeys into w.
func (d *decoder) workSetting(w *workSettings, key string, n *yaml.Node, path string, origin int) error {
	switch key {
	case "workload":
		v, err := d.scalar(n, path, "a workload")
		if err != nil {
			return err
		}
		if !slices.Contains(KnownWorkloads, v) {
			return d.errf(n, path, "unknown workload %q%s (want one of %s)", v, suggest(v, KnownWorkloads), strings.Join(KnownWorkloads, ", "))
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
	default:
		return d.errf(n, path, "unknown key") // unreachable: mapping checked the key
	}
	return nil
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
	}
}

// checkWork makes the checks that need the merged settings of a scenario:
// a scenario's own message keys need the messages workload (defaults may
// set them for the scenarios that have it), a ceiling run moves bulk
// only, and a messages run sends at least one measured message and at
// most MaxMessages.
func (d *decoder) checkWork(s settings, ceiling bool, name *yaml.Node, path string) error {
	w := s.work
	if w.workload.v != WorkloadMessages {
		for _, m := range []struct {
			origin int
			node   *yaml.Node
			path   string
		}{
			{w.messageSize.origin, w.messageSize.node, w.messageSize.path},
			{w.messageRate.origin, w.messageRate.node, w.messageRate.path},
		} {
			if m.origin == fromScenario {
				return d.errf(m.node, m.path, "applies to the messages workload only, and this scenario's workload is %s", w.workload.v)
			}
		}
		return nil
	}
	if ceiling {
		n, p := w.workload.node, w.workload.path
		if n == nil {
			n, p = name, path
		}
		return d.errf(n, p, "a ceiling scenario measures the most a transport moves on loopback, so its workload is bulk (write workload: bulk in it)")
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

// apply copies the workload into a Scenario; the message fields stay
// zero unless the workload is messages.
func (w workSettings) apply(s *Scenario) {
	s.Workload = w.workload.v
	if s.Workload == WorkloadMessages {
		s.MessageSize, s.MessageRate = w.messageSize.v, w.messageRate.v
	}
}
