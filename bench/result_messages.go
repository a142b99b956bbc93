package bench

import (
	"fmt"
	"io"

	"github.com/pydevts/pydevts/bench/scenario"
)

// MessageResult is what a run of the messages workload measured: how many
// of the messages sent after the warm-up arrived, and their one-way
// delivery latency.
type MessageResult struct {
	Size int     `json:"size"` // bytes per message
	Rate float64 `json:"rate"` // messages per second
	// Sent counts the messages the client handed to the transport after
	// the warm-up; Delivered, how many of them the server received
	// (first copies); Duplicates, the copies of a message received again
	// (warm-up included), which a correct transport never delivers.
	Sent       int64 `json:"sent"`
	Delivered  int64 `json:"delivered"`
	Duplicates int64 `json:"duplicates"`
	// Failed counts the messages the transport told the client it did
	// not deliver (pydevts: not acknowledged in time after the run).
	Failed int64 `json:"failed"`
	// Latency is the one-way delivery latency of the Delivered
	// messages: arrival at the server minus the send time they carry.
	Latency Percentiles `json:"latency_ms"`
	// BaseRTT is the link's round trip without queues, in ms: the
	// scenario's delay one way plus the other. P99RTTs is Latency.P99 in
	// units of it (0 without a base RTT), the form issue 5's target takes.
	BaseRTT float64 `json:"base_rtt_ms"`
	P99RTTs float64 `json:"p99_rtts,omitempty"`
}

// newMessageResult starts the MessageResult of a run of s, nil unless s
// runs the messages workload.
func newMessageResult(s scenario.Scenario) *MessageResult {
	if s.Workload != scenario.WorkloadMessages {
		return nil
	}
	return &MessageResult{Size: s.MessageSize, Rate: s.MessageRate, BaseRTT: ms(s.AB.Delay + s.BA.Delay)}
}

// fillMessages completes res.Messages from the two sides' reports. A
// duplicate, or more delivered than sent, means the run measured
// something broken: it is flagged.
func fillMessages(res *Result, srv serverReport, cl clientReport) {
	m := res.Messages
	if m == nil {
		return
	}
	if c := cl.Messages; c != nil {
		m.Sent, m.Failed = c.Sent, c.Failed
	}
	if s := srv.Messages; s != nil {
		m.Delivered, m.Duplicates = s.Received, s.Duplicates
		m.Latency = percentiles(s.Latency)
	}
	if m.BaseRTT > 0 {
		m.P99RTTs = m.Latency.P99 / m.BaseRTT
	}
	if m.Duplicates > 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("%d messages delivered more than once", m.Duplicates))
	}
	if m.Delivered > m.Sent {
		res.Problems = append(res.Problems, fmt.Sprintf("%d messages delivered of %d sent", m.Delivered, m.Sent))
	}
}

// MessageSummary is a messages scenario's summary for one transport over
// its valid runs.
type MessageSummary struct {
	Size               int     // bytes per message
	Rate               float64 // messages per second
	Sent, Delivered    int64   // summed over the valid runs
	P50, P90, P99, Max Spread  // delivery latency, ms
	BaseRTT            float64 // ms
	P99RTTs            Spread
	runs               []MessageResult // until done
}

// add counts one valid run.
func (s *MessageSummary) add(m MessageResult) { s.runs = append(s.runs, m) }

// done computes the spreads of the runs added.
func (s *MessageSummary) done() {
	var p50, p90, p99, top, rtts []float64
	for _, m := range s.runs {
		s.Sent += m.Sent
		s.Delivered += m.Delivered
		if m.Latency.N == 0 {
			continue
		}
		p50, p90, p99, top = append(p50, m.Latency.P50), append(p90, m.Latency.P90), append(p99, m.Latency.P99), append(top, m.Latency.Max)
		if m.BaseRTT > 0 {
			rtts = append(rtts, m.P99RTTs)
		}
	}
	s.P50, s.P90, s.P99, s.Max, s.P99RTTs = spread(p50), spread(p90), spread(p99), spread(top), spread(rtts)
	s.runs = nil
}

// isMessages reports whether a summary is of the messages workload.
func isMessages(s Summary) bool { return s.Workload == scenario.WorkloadMessages }

// writeMessagesTable writes the messages rows as a Markdown table:
// delivery latency against the link's round trip.
func writeMessagesTable(w io.Writer, sums []Summary) {
	header := []string{"scenario", "transport", "delivered/sent", "delivery p50 ms", "p90 ms", "p99 ms", "max ms", "base RTT ms", "p99 / RTT", "lost pkts", "FEC rebuilt", "valid runs"}
	writeRows(w, header, sums, func(s Summary) []string {
		m := s.Messages
		if m == nil {
			m = &MessageSummary{}
		}
		delivered := "–"
		if s.Valid > 0 {
			delivered = fmt.Sprintf("%d/%d", m.Delivered, m.Sent)
		}
		return []string{s.Scenario, s.Transport, delivered,
			fmtSpread(m.P50, 1), fmtSpread(m.P90, 1), fmtSpread(m.P99, 1), fmtSpread(m.Max, 1), fmt.Sprintf("%.0f", m.BaseRTT),
			fmtSpread(m.P99RTTs, 2), fmtSpread(s.Lost, 0), fmtSpread(s.Rebuilt, 0), s.validText()}
	})
}
