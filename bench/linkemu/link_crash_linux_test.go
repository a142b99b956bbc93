package linkemu

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu/linkemutest"
)

// crashReport is what crashHelper tells the test: the commands it started
// in A and B, and its link's namespaces A and B, as "net:[inode]".
type crashReport struct {
	Children [2]int
	Netns    [2]string
}

// crashHelper builds a link, starts a command in each namespace, sends a
// datagram across, reports on stdout, and waits for its SIGKILL. It never
// closes the link: nothing but the kernel cleans up after it. It exits by
// itself only when its stdin closes, that is when the test is gone, so
// that a test killed by its timeout does not leave it running.
func crashHelper() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	l, err := NewLink(LinkConfig{AB: Spec{Delay: time.Millisecond}})
	if err != nil {
		fail(err)
	}
	var rep crashReport
	for i, side := range []byte{'A', 'B'} {
		c := helper(l, side, "sleep")
		if err := c.Start(); err != nil {
			fail(err)
		}
		rep.Children[i] = c.Process.Pid
		if rep.Netns[i], err = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", l.ns[i])); err != nil {
			fail(err)
		}
	}
	// Sockets on the link, and the pumps busy with a packet.
	var a, b *net.UDPConn
	if err := l.InA(func() (err error) { a, err = net.ListenUDP("udp4", &net.UDPAddr{IP: l.AddrA().AsSlice()}); return }); err != nil {
		fail(err)
	}
	if err := l.InB(func() (err error) { b, err = net.ListenUDP("udp4", &net.UDPAddr{IP: l.AddrB().AsSlice()}); return }); err != nil {
		fail(err)
	}
	a.WriteTo([]byte("x"), b.LocalAddr())
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := b.ReadFrom(make([]byte, 8)); err != nil {
		fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fail(err)
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

// TestLinkCrashLeavesNothing checks the promise of NewLink that even a
// crash leaves nothing behind. A helper process builds a link, starts a
// command in each namespace and opens a socket in each, then gets SIGKILL,
// so that no Close and no deferred function runs. Afterwards the commands
// must have exited (Pdeathsig), no process may have a thread in or an fd
// on either namespace (so the anonymous namespaces, and the TUN devices
// in them, are gone), and the host namespace must have no device named
// like the link's.
func TestLinkCrashLeavesNothing(t *testing.T) {
	requireLink(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLinkHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=crash")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	helperPid := cmd.Process.Pid
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			stdin.Close()
			cmd.Wait()
		}
	})
	var rep crashReport
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &rep)
	}
	if err != nil {
		t.Fatalf("helper's report %q: %v; its stderr: %s", line, err, stderr.String())
	}

	// Before the crash: the checks below can see what they look for.
	var procs []*linkemutest.Proc
	for i, pid := range rep.Children {
		procs = append(procs, linkemutest.Watch(t, pid, helperPid))
		if ns, err := linkemutest.Netns(pid); err != nil || ns != rep.Netns[i] {
			t.Fatalf("command %c (pid %d) is in %q (%v), want the link's %s", sideName(i), pid, ns, err, rep.Netns[i])
		}
		if users := linkemutest.NetnsUsers(rep.Netns[i]); !slices.Contains(users, fmt.Sprintf("/proc/%d/task/%d/ns/net", pid, pid)) ||
			!slices.ContainsFunc(users, func(u string) bool { return strings.HasPrefix(u, fmt.Sprintf("/proc/%d/fd/", helperPid)) }) {
			t.Fatalf("namespace %c %s: users %q, want command %d's thread and an fd of the helper %d", sideName(i), rep.Netns[i], users, pid, helperPid)
		}
	}
	if kids := linkemutest.Children(helperPid); !slices.Equal(kids, procs2pids(procs)) {
		t.Fatalf("helper's children %v, want the two it reported, %v", kids, rep.Children)
	}
	if rep.Netns[0] == rep.Netns[1] {
		t.Fatalf("A and B share namespace %s", rep.Netns[0])
	}

	// The crash.
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	waited = true
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper: Wait = %v, want killed by SIGKILL; its stderr: %s", err, stderr.String())
	}

	// The commands die of their parent-death signal; the namespaces go
	// with the last thread and fd in them.
	if err := linkemutest.WaitGone(30*time.Second, procs, rep.Netns[:]); err != nil {
		t.Error(err)
	}
	if ifi, err := net.InterfaceByName(tunName); err == nil {
		t.Errorf("the host namespace has a device %s (index %d)", tunName, ifi.Index)
	}
}

func procs2pids(ps []*linkemutest.Proc) []int {
	var pids []int
	for _, p := range ps {
		pids = append(pids, p.Pid)
	}
	slices.Sort(pids)
	return pids
}
