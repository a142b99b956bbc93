package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu/linkemutest"
)

// interruptEnv makes TestInterruptHelperProcess the benchmark that
// TestInterruptLeavesNothing interrupts.
const interruptEnv = "BENCH_TEST_INTERRUPT"

// interruptReport is what the interrupted benchmark returned.
type interruptReport struct {
	Results int    // results Run returned
	Err     string // Run's error
	RunErr  string // the interrupted run's error
}

// TestInterruptHelperProcess is not a test: with interruptEnv set it is
// `pydevts bench` as cmd/pydevts runs it, with signal.NotifyContext, on
// two 10-minute runs across TUN links, and reports what Run returned on
// stdout. Without interruptEnv it does nothing. It exits by itself when
// its stdin closes, that is when the test is gone.
func TestInterruptHelperProcess(t *testing.T) {
	if os.Getenv(interruptEnv) == "" {
		return
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	// As cmd/pydevts's interrupted().
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ss := parse(t, `
defaults:
  duration: 10m
  warmup: 1s
  repetitions: 2
  transports: [tcp-cubic]
scenarios:
  - name: long
    link: {delay: 5ms, rate: 20mbit}
`)
	results, err := Run(ctx, Options{Scenarios: ss, Progress: NewProgress(os.Stderr, false), Notes: os.Stderr})
	rep := interruptReport{Results: len(results), Err: fmt.Sprint(err)}
	if len(results) > 0 {
		rep.RunErr = results[0].Err
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	os.Exit(0)
}

// TestInterruptLeavesNothing interrupts a benchmark while the first of two
// long runs has its peer processes up in the link's namespaces: with SIGINT
// to its whole process group, as a terminal's Ctrl-C sends it, and with
// SIGINT to the benchmark's process alone, as `kill -INT` or a supervisor
// sends it. The benchmark must stop (Run returns the interrupted run and
// the context's error, without starting the second), its peers must have
// exited, no process may have a thread in or an fd on either namespace,
// and the host namespace must have no TUN device of the link's.
func TestInterruptLeavesNothing(t *testing.T) {
	requireLink(t)
	t.Run("Ctrl-C", func(t *testing.T) { interruptBench(t, true) })
	t.Run("kill -INT", func(t *testing.T) { interruptBench(t, false) })
}

// interruptBench is TestInterruptLeavesNothing with SIGINT to the
// benchmark's process group (group) or to its process alone.
func interruptBench(t *testing.T, group bool) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptHelperProcess$")
	cmd.Env = append(os.Environ(), interruptEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, to signal it and its peers alone
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	done := false
	t.Cleanup(func() {
		if !done {
			cmd.Process.Kill() // its peers die with it (Pdeathsig), or by Watch's cleanup
			stdin.Close()
			<-exited
		}
	})

	// Wait for both peers, each in its namespace.
	var peers []*linkemutest.Proc
	var netns []string
	own, err := linkemutest.Netns(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); len(peers) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no two bench-peer processes after 60 s; bench's stderr: %s", stderr.String())
		}
		peers, netns = nil, nil
		for _, pid := range linkemutest.Children(cmd.Process.Pid) {
			args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			ns, err := linkemutest.Netns(pid)
			if strings.Contains(string(args), "bench-peer") && err == nil && ns != own {
				peers = append(peers, &linkemutest.Proc{Pid: pid})
				netns = append(netns, ns)
			}
		}
	}
	for i, p := range peers {
		peers[i] = linkemutest.Watch(t, p.Pid, cmd.Process.Pid)
	}
	if netns[0] == netns[1] {
		t.Fatalf("both peers in %s", netns[0])
	}

	pid := cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
		done = true
	case <-time.After(60 * time.Second):
		t.Fatalf("bench still runs 60 s after SIGINT; its stderr: %s", stderr.String())
	}
	var rep interruptReport
	if err != nil || json.Unmarshal(stdout.Bytes(), &rep) != nil {
		t.Fatalf("bench: %v, stdout %q; its stderr: %s", err, stdout.String(), stderr.String())
	}
	if rep.Results != 1 || rep.Err != context.Canceled.Error() || rep.RunErr == "" {
		t.Errorf("Run returned %d results (the first's error %q) and %q; want the interrupted run, failed, and %q",
			rep.Results, rep.RunErr, rep.Err, context.Canceled)
	}
	if err := linkemutest.WaitGone(30*time.Second, peers, netns); err != nil {
		t.Error(err)
	}
	if ifi, err := net.InterfaceByName("lemu0"); err == nil { // linkemu's TUN name
		t.Errorf("the host namespace has a device %s (index %d)", ifi.Name, ifi.Index)
	}
}
