package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// The targets of issue 5 for 1,000 idle connections on one endpoint.
const (
	idleCPUTarget    = 5.0      // percent of one core
	idleMemoryTarget = 16 << 10 // bytes per connection
)

// runIdle runs one idle run: on loopback for a ceiling scenario, else
// across a TUN link. The in-memory link would put both sides in this
// process, where the server's CPU and memory are not its own.
func runIdle(ctx context.Context, r run, exe string, tunErr error, res *Result) {
	switch {
	case r.s.Ceiling:
		res.Emulator = "loopback"
		runIdlePeers(ctx, r, res, loopbackSides(ctx, exe))
	case tunErr == nil:
		res.Emulator = "tun"
		onLink(r, res, func(link *linkemu.Link) { runIdlePeers(ctx, r, res, tunSides(link, exe)) })
	default:
		res.Skipped = "needs root and /dev/net/tun (or ceiling: true, on loopback)"
	}
}

// runIdlePeers runs an idle run's two processes.
func runIdlePeers(ctx context.Context, r run, res *Result, sd sides) {
	srv, cli, m, err := startSides(ctx, peerConfigFor(r), sd)
	defer stopPeers(srv, cli)
	if err != nil {
		res.Err = err.Error()
		if m.Idle != nil && m.Idle.Err != "" {
			res.Err = "server: " + m.Idle.Err
		}
		return
	}
	var srep, crep idleReport
	m, err = srv.next(ctx, idleEstablish+r.s.Duration+idleVerify+runSlack)
	if err != nil || m.Idle == nil {
		srep.Err = errText(err, "no report")
	} else {
		srep = *m.Idle
	}
	// The client ends when the server has closed the connections.
	if m, err := cli.next(ctx, idleExchange); err == nil && m.Idle != nil {
		crep = *m.Idle
	}
	fillIdle(res, srep, crep)
}

// fillIdle completes an idle run's result from the two sides' reports.
func fillIdle(res *Result, srv, cl idleReport) {
	switch {
	case srv.Err != "" && cl.Err != "" && cl.Established < cl.Connections:
		res.Err = "client: " + cl.Err // the cause: the server waited for connections that never came
	case srv.Err != "":
		res.Err = "server: " + srv.Err
	}
	res.CPUServer, res.CPUClient, res.CPUTotal = srv.CPU, cl.CPU, srv.CPU+cl.CPU
	res.RSSServer, res.RSSClient = srv.MaxRSS, cl.MaxRSS
	ir := &IdleResult{Connections: srv.Connections, Established: srv.Established, Verified: srv.Verified,
		GoBefore: srv.GoBefore, GoIdle: srv.GoIdle, RSSBefore: srv.RSSBefore, RSSIdle: srv.RSSIdle, WindowSeconds: srv.WindowSeconds}
	if n := float64(srv.Established); n > 0 && srv.GoIdle > 0 {
		ir.GoPerConn = float64(srv.GoIdle-srv.GoBefore) / n
		ir.RSSPerConn = float64(srv.RSSIdle-srv.RSSBefore) / n
		if srv.PacketSeconds > 0 {
			ir.PacketsPerConnMinute = float64(srv.Packets) / n / (srv.PacketSeconds / 60)
		}
	}
	if srv.WindowSeconds > 0 {
		ir.CPUPercent = 100 * srv.WindowCPU / srv.WindowSeconds
	}
	res.Idle = ir
	res.Valid = res.Err == "" && len(res.Problems) == 0
}

// IdleResult is what an idle run measured in the server process.
type IdleResult struct {
	Connections int `json:"connections"`
	Established int `json:"established"`
	Verified    int `json:"open_at_end"` // answered once more after the window
	// CPUPercent is the server's CPU time over the window, as a share of
	// one core.
	CPUPercent    float64 `json:"server_cpu_pct"`
	WindowSeconds float64 `json:"window_s"`
	// GoPerConn and RSSPerConn are the growth of the server's Go memory
	// (heap objects and stacks) and of its resident set from before the
	// connections to when they are idle, per connection.
	GoPerConn  float64 `json:"go_bytes_per_conn"`
	RSSPerConn float64 `json:"rss_bytes_per_conn"`
	GoBefore   int64   `json:"go_before_bytes"`
	GoIdle     int64   `json:"go_idle_bytes"`
	RSSBefore  int64   `json:"rss_before_bytes"`
	RSSIdle    int64   `json:"rss_idle_bytes"`
	// PacketsPerConnMinute counts what the server's connections sent and
	// received while idle (keepalives and their acknowledgments).
	PacketsPerConnMinute float64 `json:"packets_per_conn_min"`
}

// IdleSummary is the median and range of an idle row's valid runs.
type IdleSummary struct {
	Connections                                          int
	CPUPercent, GoPerConn, RSSPerConn, PacketsPerConnMin Spread
}

func summarizeIdle(valid []Result) *IdleSummary {
	s := &IdleSummary{}
	var v [4][]float64
	for _, r := range valid {
		if r.Idle == nil {
			continue
		}
		s.Connections = r.Idle.Connections
		v[0] = append(v[0], r.Idle.CPUPercent)
		v[1] = append(v[1], r.Idle.GoPerConn)
		v[2] = append(v[2], r.Idle.RSSPerConn)
		v[3] = append(v[3], r.Idle.PacketsPerConnMinute)
	}
	s.CPUPercent, s.GoPerConn, s.RSSPerConn, s.PacketsPerConnMin = spread(v[0]), spread(v[1]), spread(v[2]), spread(v[3])
	return s
}

// idleVerdict says whether a pydevts row meets issue 5's targets, on its
// medians; other transports are the comparison and have none. A failed
// run (connections that died, say) fails the row.
func idleVerdict(s Summary) string {
	is := s.Idle
	switch {
	case s.Transport != "pydevts":
		return "–"
	case len(s.Errors) > 0:
		return "no: a run failed"
	case is == nil || is.CPUPercent.N == 0:
		return "–"
	}
	var missed []string
	if is.CPUPercent.Median >= idleCPUTarget {
		missed = append(missed, "CPU")
	}
	if is.GoPerConn.Median >= idleMemoryTarget {
		missed = append(missed, "memory")
	}
	if len(missed) > 0 {
		return "no: " + strings.Join(missed, ", ")
	}
	return "yes"
}

// writeIdleTable writes the idle rows as a Markdown table.
func writeIdleTable(w io.Writer, sums []Summary) {
	header := []string{"scenario", "transport", "connections", "server CPU % of a core", "Go memory KiB/conn", "RSS KiB/conn",
		"packets/conn/min", "target", "met?", "valid runs"}
	writeRows(w, header, sums, func(s Summary) []string {
		is := s.Idle
		if is == nil {
			is = &IdleSummary{}
		}
		target := "–"
		if s.Transport == "pydevts" {
			target = fmt.Sprintf("< %.0f %% CPU, < %d KiB", idleCPUTarget, idleMemoryTarget>>10)
		}
		return []string{s.Scenario, s.Transport, strconv.Itoa(is.Connections),
			fmtSpread(is.CPUPercent, 2), fmtSpread(scaleSpread(is.GoPerConn, 1.0/1024), 1), fmtSpread(scaleSpread(is.RSSPerConn, 1.0/1024), 1),
			fmtSpread(is.PacketsPerConnMin, 1), target, idleVerdict(s), s.validText()}
	})
}

// scaleSpread multiplies a spread's values by f.
func scaleSpread(s Spread, f float64) Spread {
	return Spread{Median: s.Median * f, Min: s.Min * f, Max: s.Max * f, N: s.N}
}
