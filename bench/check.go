package bench

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/bench/scenario"
)

// linkReport reads what the emulator measured.
func linkReport(ab, ba linkemu.Stats) LinkReport {
	frac := func(x, n uint64) float64 {
		if n == 0 {
			return 0
		}
		return float64(x) / float64(n)
	}
	return LinkReport{
		PacketsAB: ab.Packets, PacketsBA: ba.Packets,
		LossAB: frac(ab.Lost, ab.Packets), LossBA: frac(ba.Lost, ba.Packets),
		DuplicateAB: frac(ab.Duplicated, ab.Packets), ReorderAB: frac(ab.Reordered, ab.Packets),
		QueueDropsAB: ab.QueueDrops, QueueDropsBA: ba.QueueDrops,
	}
}

// checkLink compares what the link did with what the scenario asked for:
// a run whose link strayed from its spec measured something else, so it
// is flagged and left out of the medians. The tolerance is five standard
// errors of a binomial proportion plus half a percentage point (a few
// hundred packets make the statistics coarse), and twice that for
// Gilbert-Elliott loss, whose losses come in correlated bursts.
func checkLink(s scenario.Scenario, ab, ba linkemu.Stats) []string {
	if len(s.Timeline) > 0 {
		return nil // the spec changes during the run; there is no one target
	}
	var problems []string
	check := func(what string, want float64, got, n uint64, bursty bool) {
		if n == 0 || (want == 0 && got == 0) {
			return
		}
		tol := 5*math.Sqrt(max(want*(1-want), 1e-4)/float64(n)) + 0.005
		if bursty {
			tol *= 2
		}
		if measured := float64(got) / float64(n); math.Abs(measured-want) > tol {
			problems = append(problems, fmt.Sprintf("%s %.2f%%, spec %.2f%% (±%.2f)", what, 100*measured, 100*want, 100*tol))
		}
	}
	for _, d := range []struct {
		name string
		spec linkemu.Spec
		st   linkemu.Stats
	}{{"A->B", s.AB, ab}, {"B->A", s.BA, ba}} {
		loss, bursty := d.spec.Loss, false
		if d.spec.GE != nil {
			loss, bursty = d.spec.GE.MeanLoss(), true
		}
		check(d.name+" loss", loss, d.st.Lost, d.st.Packets, bursty)
		check(d.name+" duplication", d.spec.Duplicate, d.st.Duplicated, d.st.Packets, false)
		check(d.name+" reordering", d.spec.Reorder, d.st.Reordered, d.st.Packets, false)
		if d.st.InboxDrops > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d datagrams dropped at a full receiver inbox (not in the spec)", d.name, d.st.InboxDrops))
		}
	}
	return problems
}

// timeline applies a scenario's mid-run changes, timed from the start of
// the bulk transfer.
type timeline struct {
	events []scenario.Event
	set    func(ab, ba linkemu.Spec)
	once   sync.Once
	quit   chan struct{}
	done   chan struct{}
}

func startTimeline(events []scenario.Event, set func(ab, ba linkemu.Spec)) *timeline {
	return &timeline{events: events, set: set, quit: make(chan struct{}), done: make(chan struct{})}
}

// start is called when the bulk transfer begins.
func (t *timeline) start() {
	t.once.Do(func() {
		go func() {
			defer close(t.done)
			begin := time.Now()
			for _, e := range t.events {
				select {
				case <-time.After(time.Until(begin.Add(e.At))):
					t.set(e.AB, e.BA)
				case <-t.quit:
					return
				}
			}
		}()
	})
}

// stop ends the timeline and waits for its goroutine, if it started.
func (t *timeline) stop() {
	close(t.quit)
	t.once.Do(func() { close(t.done) }) // never started: nothing to wait for
	<-t.done
}
