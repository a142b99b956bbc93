package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pydevts/pydevts/bench/scenario"
)

// Workloads other than the bulk transfer (scenario.KnownWorkloads) have their
// own runner (workload_*.go), their own part of a Result and a Summary,
// and their own table, written after the bulk one.

// isBulk reports whether a result or summary is of the bulk workload;
// results written before workloads existed have none.
func isBulk(workload string) bool { return workload == "" || workload == scenario.WorkloadBulk }

// rowsOf lists a scenario's rows, each run once per repetition: its
// transports, or for the fairness workload its pairs of flows named
// "first+second", those whose transports are all still in Transports
// (which --transports may have narrowed).
func rowsOf(s scenario.Scenario) []string {
	if s.Workload != scenario.WorkloadFairness {
		return s.Transports
	}
	var rows []string
	for _, pair := range s.Flows {
		if !slices.ContainsFunc(pair, func(t string) bool { return !slices.Contains(s.Transports, t) }) {
			rows = append(rows, strings.Join(pair, flowSep))
		}
	}
	return rows
}

// summarizeWorkload fills the part of a summary that belongs to its
// workload from the row's valid runs.
func summarizeWorkload(s *Summary, valid []Result) {
	switch s.Workload {
	case scenario.WorkloadIdle:
		s.Idle = summarizeIdle(valid)
	case scenario.WorkloadFairness:
		s.Fairness = summarizeFairness(s.Transport, valid)
	}
}

// workloadTables are the tables WriteTable writes, in order, each of
// the summaries of one workload.
var workloadTables = []struct {
	workload string
	write    func(w io.Writer, sums []Summary)
}{
	{scenario.WorkloadBulk, writeBulkTable},
	{scenario.WorkloadMessages, writeMessagesTable},
	{scenario.WorkloadIdle, writeIdleTable},
	{scenario.WorkloadFairness, writeFairnessTable},
}

// workloadRows returns the summaries of one workload, in their order.
func workloadRows(sums []Summary, workload string) []Summary {
	var out []Summary
	for _, s := range sums {
		if s.Workload == workload || workload == scenario.WorkloadBulk && isBulk(s.Workload) {
			out = append(out, s)
		}
	}
	return out
}

// writeRows writes a Markdown table: the header, then cells(s) for each
// summary, or for a skipped one its scenario and row, "n/a", and why in
// the last column. A fairness row's name reads "pydevts vs tcp-cubic".
func writeRows(w io.Writer, header []string, sums []Summary, cells func(Summary) []string) {
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, s := range sums {
		s.Transport = strings.ReplaceAll(s.Transport, flowSep, " vs ")
		row := make([]string, len(header))
		if s.Skipped != "" {
			row[0], row[1], row[2], row[len(row)-1] = s.Scenario, s.Transport, "n/a", s.Skipped
		} else {
			row = cells(s)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}
