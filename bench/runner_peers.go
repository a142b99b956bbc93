package bench

import (
	"context"
	"errors"
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
	// bulkStarted, if set, is called when the client starts its bulk
	// transfer.
	bulkStarted func()
}

// runPeers runs a run's sides as two `pydevts bench-peer` processes, so
// that each side's CPU and peak memory are measured alone.
func runPeers(ctx context.Context, r run, exe string, res *Result, sd sides) {
	srv, cli, m, err := startSides(ctx, peerConfigFor(r), sd)
	defer stopPeers(srv, cli)
	if err != nil {
		if m.Server != nil {
			fill(res, *m.Server, clientReport{Lost: -1})
		} else {
			res.Err = err.Error()
		}
		return
	}
	tl := startTimeline(r.s.Timeline, func(ab, ba linkemu.Spec) {
		if sd.setSpec != nil {
			sd.setSpec(ab, ba)
		}
	})
	defer tl.stop()
	wait := r.s.Duration + runSlack
	var cl clientReport
	for {
		m, err := cli.next(ctx, wait)
		if err != nil {
			res.Err = "client: " + err.Error()
			return
		}
		if m.Bulk {
			tl.start()
			if sd.bulkStarted != nil {
				sd.bulkStarted()
			}
		}
		if m.Client != nil {
			cl = *m.Client
			break
		}
	}
	m, err = srv.next(ctx, wait)
	if err != nil || m.Server == nil {
		res.Err = "server: " + errText(err, "no report")
		return
	}
	fill(res, *m.Server, cl)
}

// startSides starts a run's server process, waits until it is ready, and
// starts the client pointed at it. On failure, m is the server's last
// message (its report of why, if it sent one). Either process may be nil;
// stopPeers stops those that are not.
func startSides(ctx context.Context, cfg peerConfig, sd sides) (srv, cli *peerProc, m peerMsg, err error) {
	scfg := cfg
	scfg.Role, scfg.Bind = "server", sd.serverBind
	cmd, start := sd.command('B')
	if srv, err = startPeer(cmd, scfg, start); err != nil {
		return nil, nil, m, err
	}
	m, err = srv.next(ctx, 15*time.Second)
	if err != nil || m.Ready == nil {
		return srv, nil, m, errors.New("server: " + errText(err, "no ready line"))
	}
	ccfg := cfg
	ccfg.Role, ccfg.Bind, ccfg.Server = "client", sd.clientBind, *m.Ready
	cmd, start = sd.command('A')
	cli, err = startPeer(cmd, ccfg, start)
	return srv, cli, m, err
}

// stopPeers stops a run's peer processes, the client first.
func stopPeers(srv, cli *peerProc) {
	if cli != nil {
		cli.stop()
	}
	if srv != nil {
		srv.stop()
	}
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
	runPeers(ctx, r, exe, res, loopbackSides(ctx, exe))
}

// loopbackSides puts both of a run's processes on this host's loopback.
func loopbackSides(ctx context.Context, exe string) sides {
	command := func(byte) (*exec.Cmd, func() error) {
		c := exec.CommandContext(ctx, exe, "bench-peer")
		return c, c.Start
	}
	return sides{serverBind: "127.0.0.1:0", clientBind: "127.0.0.1:0", command: command}
}
