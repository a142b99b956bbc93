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
	link, err := linkemu.NewLink(linkemu.LinkConfig{
		AB: r.s.AB, BA: r.s.BA, Seed: r.s.Seed + uint64(r.rep), MTU: r.s.MTU, Slack: r.s.Slack,
	})
	if err != nil {
		res.Err = err.Error()
		return
	}
	defer link.Close()
	for _, side := range []byte{'A', 'B'} {
		for _, key := range []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"} {
			if err := link.Sysctl(side, key, tcpBuffers); err != nil {
				res.Err = fmt.Sprintf("sysctl %s: %v", key, err)
				return
			}
		}
	}
	command := func(side byte) (*exec.Cmd, func() error) {
		c := link.CommandA(exe, "bench-peer")
		if side == 'B' {
			c = link.CommandB(exe, "bench-peer")
		}
		return c.Cmd, c.Start
	}
	runPeers(ctx, r, exe, res, sides{
		serverBind: netip.AddrPortFrom(link.AddrB(), 0).String(),
		clientBind: netip.AddrPortFrom(link.AddrA(), 0).String(),
		command:    command,
		setSpec:    link.SetSpec,
	})
	st := link.Stats()
	res.EmulatorCPU = st.ProcessCPU.Seconds()
	res.Link = linkReport(st.AB, st.BA)
	res.Problems = append(res.Problems, checkLink(r.s, st.AB, st.BA)...)
	if err := st.Check(); err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	res.Valid = res.Err == "" && len(res.Problems) == 0
}
