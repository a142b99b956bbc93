package bench

import (
	"context"
	"os/exec"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// sides says where a run's two peer processes go.
type sides struct {
	serverBind, clientBind string
	// command makes a `pydevts bench-peer` process for side 'A' (client)
	// or 'B' (server), and the function that starts it there.
	command func(side byte) (cmd *exec.Cmd, start func() error)
	setSpec func(ab, ba linkemu.Spec) // the link's, for the timeline; nil: no link
}

// runPeers runs a run's sides as two `pydevts bench-peer` processes, so
// that each side's CPU and peak memory are measured alone.
func runPeers(ctx context.Context, r run, exe string, res *Result, sd sides) {
	cfg := peerConfigFor(r)
	scfg := cfg
	scfg.Role, scfg.Bind = "server", sd.serverBind
	cmd, start := sd.command('B')
	srv, err := startPeer(cmd, scfg, start)
	if err != nil {
		res.Err = err.Error()
		return
	}
	defer srv.stop()
	m, err := srv.next(15 * time.Second)
	if err != nil || m.Ready == nil {
		if m.Server != nil {
			fill(res, *m.Server, clientReport{Lost: -1})
		} else {
			res.Err = "server: " + errText(err, "no ready line")
		}
		return
	}
	ccfg := cfg
	ccfg.Role, ccfg.Bind, ccfg.Server = "client", sd.clientBind, *m.Ready
	cmd, start = sd.command('A')
	cli, err := startPeer(cmd, ccfg, start)
	if err != nil {
		res.Err = err.Error()
		return
	}
	defer cli.stop()
	tl := startTimeline(r.s.Timeline, func(ab, ba linkemu.Spec) {
		if sd.setSpec != nil {
			sd.setSpec(ab, ba)
		}
	})
	defer tl.stop()
	wait := r.s.Duration + runSlack
	var cl clientReport
	for {
		m, err := cli.next(wait)
		if err != nil {
			res.Err = "client: " + err.Error()
			return
		}
		if m.Bulk {
			tl.start()
		}
		if m.Client != nil {
			cl = *m.Client
			break
		}
	}
	m, err = srv.next(wait)
	if err != nil || m.Server == nil {
		res.Err = "server: " + errText(err, "no report")
		return
	}
	fill(res, *m.Server, cl)
}

func errText(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

// runLoopback runs the ceiling: both sides on this host's loopback with
// no emulator, the most a transport can move here and its CPU per side.
func runLoopback(ctx context.Context, r run, exe string, res *Result) {
	command := func(byte) (*exec.Cmd, func() error) {
		c := exec.CommandContext(ctx, exe, "bench-peer")
		return c, c.Start
	}
	runPeers(ctx, r, exe, res, sides{serverBind: "127.0.0.1:0", clientBind: "127.0.0.1:0", command: command})
}
