package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
)

// peerMsg is one line a peer process writes on stdout.
type peerMsg struct {
	Ready  *serverInfo   `json:"ready,omitempty"`
	Bulk   bool          `json:"bulk,omitempty"`
	Server *serverReport `json:"server,omitempty"`
	Client *clientReport `json:"client,omitempty"`
	Idle   *idleReport   `json:"idle,omitempty"` // either side's, for the idle workload
}

// Peer is the body of `pydevts bench-peer`, the process that runs one side
// of a run so that each side's CPU and memory are its own: it reads its
// peerConfig as one JSON line from in, runs, and reports JSON lines on out.
func Peer(in io.Reader, out io.Writer) error {
	var cfg peerConfig
	if err := json.NewDecoder(in).Decode(&cfg); err != nil {
		return fmt.Errorf("bench-peer: reading the run's configuration: %w", err)
	}
	if prefix := os.Getenv("PYDEVTS_BENCH_CPUPROFILE"); prefix != "" {
		// A developer's aid: each peer writes PREFIX.<role>.<pid>.pprof.
		f, err := os.Create(fmt.Sprintf("%s.%s.%d.pprof", prefix, cfg.Role, os.Getpid()))
		if err != nil {
			return fmt.Errorf("bench-peer: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench-peer: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	enc := json.NewEncoder(out)
	ctx := context.Background()
	e := &env{bind: cfg.Bind}
	if cfg.Workload == scenario.WorkloadIdle {
		return idlePeer(ctx, cfg, e, enc)
	}
	switch cfg.Role {
	case "server":
		rep := runServer(ctx, cfg, e, func(info serverInfo) { enc.Encode(peerMsg{Ready: &info}) })
		rep.CPU, rep.MaxRSS = selfUsage()
		return enc.Encode(peerMsg{Server: &rep})
	case "client":
		rep := runClient(ctx, cfg, e, func() { enc.Encode(peerMsg{Bulk: true}) })
		rep.CPU, rep.MaxRSS = selfUsage()
		return enc.Encode(peerMsg{Client: &rep})
	}
	return fmt.Errorf("bench-peer: unknown role %q", cfg.Role)
}

// peerProc is a running peer process.
type peerProc struct {
	cmd    *exec.Cmd
	msgs   chan peerMsg
	stderr bytes.Buffer
	done   chan error
}

// startPeer starts cmd (`pydevts bench-peer`, possibly inside a network
// namespace: start is what starts it there) with cfg.
func startPeer(cmd *exec.Cmd, cfg peerConfig, start func() error) (*peerProc, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	p := &peerProc{cmd: cmd, msgs: make(chan peerMsg, 4), done: make(chan error, 1)}
	cmd.Stdin = bytes.NewReader(append(b, '\n'))
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setDeathSignal(cmd.SysProcAttr) // a peer never outlives the bench
	if err := start(); err != nil {
		return nil, fmt.Errorf("bench: starting a peer process: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var m peerMsg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.msgs <- m
			}
		}
		close(p.msgs)
		p.done <- cmd.Wait()
	}()
	return p, nil
}

// next waits for the peer's next message, up to timeout.
func (p *peerProc) next(ctx context.Context, timeout time.Duration) (peerMsg, error) {
	select {
	case <-ctx.Done():
		return peerMsg{}, ctx.Err()
	case m, ok := <-p.msgs:
		if !ok {
			return peerMsg{}, p.failure()
		}
		return m, nil
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		return peerMsg{}, errors.New("peer process timed out")
	}
}

// failure explains why the peer ended without its report.
func (p *peerProc) failure() error {
	err := <-p.done
	p.done <- err
	msg := strings.TrimSpace(p.stderr.String())
	if msg == "" && err != nil {
		msg = err.Error()
	}
	if msg == "" {
		msg = "peer process ended without a report"
	}
	return errors.New(shorten(msg, 300))
}

// stop ends the process if it still runs and reaps it.
func (p *peerProc) stop() {
	p.cmd.Process.Kill()
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(5 * time.Second):
	}
}
