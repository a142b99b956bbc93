package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pydevts/pydevts/internal/metrics"
	"github.com/pydevts/pydevts/sdmp/node"
)

// dataFlag is the --data flag of the node commands: the node's data
// directory, by default $PYDEVTS_DATA or ~/.pydevts.
func dataFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("PYDEVTS_DATA")
	if def == "" {
		if home, err := os.UserHomeDir(); err == nil {
			def = filepath.Join(home, ".pydevts")
		}
	}
	return fs.String("data", def, "the node's data `DIR` (default $PYDEVTS_DATA, else ~/.pydevts)")
}

// runNode: pydevts node init|run [--data DIR]
func runNode(args []string, std stdio) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want init or run (pydevts node init --data DIR; pydevts node run --data DIR)", errUsage)
	}
	switch args[0] {
	case "init":
		fl := newFlags("node init", "", std.errOut)
		dir := dataFlag(fl)
		user := fl.String("user", "user", "the user's `NAME`, in its user information")
		name := fl.String("name", "node", "the node's `NAME`")
		pos, err := parseFlags(fl, args[1:])
		if err != nil {
			return err
		}
		if err := wantArgs(pos, 0, "no arguments"); err != nil {
			return err
		}
		if err := node.Init(*dir, &node.InitOptions{UserName: *user, NodeName: *name}); err != nil {
			return err
		}
		n, err := node.Open(*dir, nil)
		if err != nil {
			return err
		}
		u, nf := n.Fingerprints()
		n.Close()
		fmt.Fprintf(std.out, "data:      %s\nuser:      %s\nnode:      %s\n", *dir, u, nf)
		fmt.Fprintf(std.out, "give peers %s and %s; edit %s\n",
			filepath.Join(*dir, node.UserPubFile), filepath.Join(*dir, node.NodePubFile), filepath.Join(*dir, node.ConfigFile))
		return nil
	case "run":
		ctx, stop := interrupted()
		defer stop()
		return serveNode(ctx, args[1:], std)
	}
	return fmt.Errorf("%w: node %q: want init or run", errUsage, args[0])
}

// serveNode is `pydevts node run [--data DIR] [--metrics ADDR]
// [--log-format text|json] [--log-level LEVEL]` until ctx ends.
func serveNode(ctx context.Context, args []string, std stdio) error {
	fl := newFlags("node run", "", std.errOut)
	dir := dataFlag(fl)
	metricsAddr := fl.String("metrics", "", "serve Prometheus metrics on http://`ADDR`/metrics (host:port)")
	lf := addLogFlags(fl)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 0, "no arguments"); err != nil {
		return err
	}
	log, err := lf.logger(std.errOut)
	if err != nil {
		return err
	}
	n, err := node.Open(*dir, log)
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		ms, err := metrics.Serve(*metricsAddr, log, metrics.NewNodeCollector(n.Stats))
		if err != nil {
			n.Close()
			return err
		}
		defer ms.Close()
		log.Info("node: metrics", "url", "http://"+ms.Addr().String()+"/metrics")
	}
	u, nf := n.Fingerprints()
	log.Info("node: running", "data", *dir, "user", u, "node", nf)
	return n.Run(ctx)
}

// controlCtx bounds a control request.
func controlCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// publishMax bounds what publish reads: a resource's limit.
const publishMax = 1 << 20

// runPublish: pydevts publish [--data DIR] FILE
func runPublish(args []string, std stdio) error {
	fl := newFlags("publish", "FILE", std.errOut)
	dir := dataFlag(fl)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the FILE to publish (a YAML mapping; - for stdin)"); err != nil {
		return err
	}
	in := std.in
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	// A resource is at most 1 MiB; a larger file is refused here rather
	// than read whole.
	b, err := io.ReadAll(io.LimitReader(in, publishMax+1))
	if err != nil {
		return err
	}
	if len(b) > publishMax {
		return fmt.Errorf("%s: over %d bytes, larger than a resource may be", pos[0], publishMax)
	}
	ctx, cancel := controlCtx()
	defer cancel()
	id, err := node.Publish(ctx, *dir, b)
	if err != nil {
		return err
	}
	fmt.Fprintln(std.out, id)
	return nil
}

// controlArgs parses the flags of a command that talks to the running
// node (its --data, and more that extra adds), checks that it got n
// positional arguments (what, for the message), and returns the data
// directory, the arguments and a context bounding the request.
func controlArgs(name, usage string, args []string, std stdio, n int, what string, extra func(*flag.FlagSet)) (dir string, pos []string, ctx context.Context, cancel context.CancelFunc, err error) {
	fl := newFlags(name, usage, std.errOut)
	d := dataFlag(fl)
	if extra != nil {
		extra(fl)
	}
	if pos, err = parseFlags(fl, args); err != nil {
		return "", nil, nil, nil, err
	}
	if err = wantArgs(pos, n, what); err != nil {
		return "", nil, nil, nil, err
	}
	ctx, cancel = controlCtx()
	return *d, pos, ctx, cancel, nil
}

// runGet: pydevts get [--data DIR] ID
func runGet(args []string, std stdio) error {
	dir, pos, ctx, cancel, err := controlArgs("get", "ID", args, std, 1, "the resource ID", nil)
	if err != nil {
		return err
	}
	defer cancel()
	b, err := node.Get(ctx, dir, pos[0])
	if err != nil {
		return err
	}
	_, err = std.out.Write(b)
	return err
}

// runJournal: pydevts journal [--data DIR]
func runJournal(args []string, std stdio) error {
	dir, _, ctx, cancel, err := controlArgs("journal", "", args, std, 0, "no arguments", nil)
	if err != nil {
		return err
	}
	defer cancel()
	lines, err := node.JournalLines(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Fprintln(std.out, strings.Join(lines, "\n"))
	return nil
}

// runPeers: pydevts peers [--data DIR] [--json]
func runPeers(args []string, std stdio) error {
	var asJSON *bool
	dir, _, ctx, cancel, err := controlArgs("peers", "", args, std, 0, "no arguments", func(fl *flag.FlagSet) {
		asJSON = fl.Bool("json", false, "print the peers as JSON")
	})
	if err != nil {
		return err
	}
	defer cancel()
	ps, err := node.Peers(ctx, dir)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(std.out).Encode(ps)
	}
	for _, p := range ps {
		state := "down"
		if p.Connected {
			state = "up via " + p.Via
			if p.Path != "" {
				state += fmt.Sprintf(" (%s, rtt %.1f ms)", p.Path, p.RTTMillis)
			}
		} else if p.LastError != "" {
			state += ": " + p.LastError
		}
		fmt.Fprintf(std.out, "%s  %s  %s\n", p.Name, p.Fingerprint[:16], state)
	}
	return nil
}

// runStatus: pydevts status [--data DIR] [--json]
func runStatus(args []string, std stdio) error {
	var asJSON *bool
	dir, _, ctx, cancel, err := controlArgs("status", "", args, std, 0, "no arguments", func(fl *flag.FlagSet) {
		asJSON = fl.Bool("json", false, "print the sessions as JSON")
	})
	if err != nil {
		return err
	}
	defer cancel()
	ss, err := node.Status(ctx, dir)
	if err != nil {
		return err
	}
	if *asJSON {
		if ss == nil {
			ss = []node.SessionStatus{}
		}
		return json.NewEncoder(std.out).Encode(ss)
	}
	printStatus(std.out, ss, time.Now())
	return nil
}

// printStatus prints one line per session, and under one over pydevts a
// line per path.
func printStatus(w io.Writer, ss []node.SessionStatus, now time.Time) {
	if len(ss) == 0 {
		fmt.Fprintln(w, "no sessions")
		return
	}
	for _, s := range ss {
		dir := "accepted"
		if s.Dialled {
			dir = "dialled"
		}
		fp := s.Fingerprint
		if len(fp) > 16 {
			fp = fp[:16]
		}
		line := fmt.Sprintf("%s  %s  %s, %s, up %v", s.Peer, fp, s.Via, dir, now.Sub(s.Since).Round(time.Second))
		if s.Via == "pydevts" {
			line += fmt.Sprintf(", rtt %.1f ms, %d packets lost, %d bytes retransmitted, %d recovered by FEC",
				s.RTTMillis, s.PacketsLost, s.RetransmittedBytes, s.Recovered)
		} else if s.Remote != "" {
			line += ", " + s.Remote
		}
		fmt.Fprintln(w, line)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range s.Paths {
			fmt.Fprintf(tw, "  %s\t%s\t%s\trtt %.1f ms\tsent %d\treceived %d\tlost %d\n",
				p.Kind, p.Addr, p.State, p.RTTMillis, p.PacketsSent, p.PacketsReceived, p.PacketsLost)
		}
		tw.Flush()
	}
}
