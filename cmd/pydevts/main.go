// Command pydevts is the pydevts node binary. Each subcommand is a file of
// its own; this one dispatches and holds what they share.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
)

// A command is one subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(args []string, io stdio) error
}

// stdio is a command's standard streams.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

var commands = map[string]command{
	"keygen":  {"write a new identity to a key file", runKeygen},
	"id":      {"print the public identity (or fingerprint) of a key file", runID},
	"listen":  {"accept one connection and copy its stream (or messages) to stdout", runListen},
	"dial":    {"connect to a peer and copy stdin into a stream (or messages)", runDial},
	"bench":   {"compare pydevts with kernel TCP and quic-go over emulated lossy links", runBench},
	"relay":   {"run a Tox-compatible TCP relay", runRelay},
	"node":    {"init or run an SDMP node (node init|run --data DIR)", runNode},
	"publish": {"publish a resource through the running node", runPublish},
	"get":     {"print a resource the running node holds", runGet},
	"journal": {"print the running node's journal", runJournal},
	"peers":   {"show the running node's peers and their sessions", runPeers},
	"status":  {"show the running node's connections: each session's paths, RTT and loss", runStatus},
	"sign":    {"sign an SDMP document (Signed YAML) with an RSA key", runSign},
	"verify":  {"verify a signed SDMP document and print its resource identifier", runVerify},
	// bench-peer is one side of a bench run, started by bench itself.
	"bench-peer": {"", runBenchPeer},
}

func main() {
	os.Exit(run(os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr}))
}

// errUsage marks an error in how the command was called; it exits 2.
var errUsage = errors.New("usage")

// run runs the command line args and returns the exit status: 0 on success,
// 1 on failure, 2 on a usage error. Every error is one line on stderr.
func run(args []string, std stdio) int {
	stderr := std.errOut
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pydevts: unknown command %q (run pydevts help)\n", args[0])
		return 2
	}
	err := cmd.run(args[1:], std)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "pydevts %s: %v\n", args[0], err)
		return 2
	}
	fmt.Fprintf(stderr, "pydevts %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "pydevts: an encrypted reliable transport over UDP")
	fmt.Fprintln(w, "\nUsage: pydevts COMMAND [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if commands[n].summary != "" { // internal commands have none
			fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
		}
	}
	fmt.Fprintln(w, "\nRun pydevts COMMAND -h for the flags of a command.")
}

// newFlags returns a FlagSet for a subcommand that writes its help to
// stderr and reports errors instead of exiting.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pydevts %s [flags] %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags that may come before, between or after the
// positional arguments (`keygen node.key --force` as well as `keygen
// --force node.key`), and returns the positional arguments; everything
// after "--" is positional. Flag errors are printed by the FlagSet with
// its usage.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args() // starts at the first positional argument, if any
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(pos []string, n int, what string) error {
	if len(pos) != n {
		return fmt.Errorf("%w: want %s, got %d argument(s)", errUsage, what, len(pos))
	}
	return nil
}
