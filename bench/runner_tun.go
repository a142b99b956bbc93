package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// tcpBuffers are the per-namespace TCP buffer limits (min, default, max):
// the default maximum of 4 MiB caps TCP near 160 Mbit/s at 200 ms RTT
// (research/linkemu.md, pitfall 7), which would measure the buffer, not
// the congestion controller. 32 MiB is more than twice the largest
// bandwidth-delay product of the built-in scenarios (300 Mbit/s at
// 300 ms is 11 MB).
const tcpBuffers = "4096 131072 33554432"

// runTUN runs one run across a fresh TUN link between two namespaces,
// each side a process in its namespace.
func runTUN(ctx context.Context, r run, exe string, res *Result) {
	onLink(r, res, func(link *linkemu.Link) { runPeers(ctx, r, exe, res, tunSides(link, exe)) })
}

// onLink runs f on a fresh link for r, then records what the link did and
// flags the run if the link strayed from the scenario.
func onLink(r run, res *Result, f func(*linkemu.Link)) {
	link, err := openLink(r)
	if err != nil {
		res.Err = err.Error()
		return
	}
	defer link.Close()
	f(link)
	checkTUN(r, link, res)
}

// openLink builds a run's link and sets the TCP buffers of its two
// namespaces.
func openLink(r run) (*linkemu.Link, error) {
	link, err := linkemu.NewLink(linkemu.LinkConfig{
		AB: r.s.AB, BA: r.s.BA, Seed: r.s.Seed + uint64(r.rep), MTU: r.s.MTU, Slack: r.s.Slack,
	})
	if err != nil {
		return nil, err
	}
	for _, side := range []byte{'A', 'B'} {
		for _, key := range []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"} {
			if err := link.Sysctl(side, key, tcpBuffers); err != nil {
				link.Close()
				return nil, fmt.Errorf("sysctl %s: %v", key, err)
			}
		}
	}
	return link, nil
}

// tunSides puts a run's server in namespace B and its client in A.
func tunSides(link *linkemu.Link, exe string) sides {
	command := func(side byte) (*exec.Cmd, func() error) {
		c := link.CommandA(exe, "bench-peer")
		if side == 'B' {
			c = link.CommandB(exe, "bench-peer")
		}
		return c.Cmd, c.Start
	}
	return sides{
		serverBind: netip.AddrPortFrom(link.AddrB(), 0).String(),
		clientBind: netip.AddrPortFrom(link.AddrA(), 0).String(),
		command:    command,
		setSpec:    link.SetSpec,
	}
}

// checkTUN records what the link did during a run and flags the run if
// the link strayed from the scenario.
func checkTUN(r run, link *linkemu.Link, res *Result) {
	st := link.Stats()
	res.EmulatorCPU = st.ProcessCPU.Seconds()
	res.Link = linkReport(st.AB, st.BA)
	res.Problems = append(res.Problems, checkLink(r.s, st.AB, st.BA)...)
	if err := st.Check(); err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	res.Valid = res.Err == "" && len(res.Problems) == 0
}
