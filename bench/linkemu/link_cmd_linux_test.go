package linkemu

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv selects what TestLinkHelperProcess does when this test binary
// is started as a command inside a namespace.
const helperEnv = "LINKEMU_TEST_HELPER"

// TestLinkHelperProcess is not a test: it is the program the command tests
// run inside a namespace (this test binary again, so they need nothing
// installed). Without helperEnv it does nothing.
func TestLinkHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "netdev": // the interfaces of its namespace
		data, err := os.ReadFile("/proc/self/net/dev")
		if err != nil {
			os.Exit(2)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if name, _, ok := strings.Cut(line, ":"); ok {
				fmt.Println(strings.TrimSpace(name))
			}
		}
	case "echo": // a UDP echo server on B's address, which exists only in B
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2)})
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println(c.LocalAddr().(*net.UDPAddr).Port)
		echo(c)
	case "sleep":
		time.Sleep(time.Minute)
	case "crash": // a link with commands in it, until SIGKILL; see crashHelper
		crashHelper()
	}
	os.Exit(0)
}

// helper returns a command that runs TestLinkHelperProcess in mode inside
// namespace side.
func helper(l *Link, side byte, mode string) *Cmd {
	args := []string{"-test.run=^TestLinkHelperProcess$"}
	c := l.CommandA(os.Args[0], args...)
	if side == 'B' {
		c = l.CommandB(os.Args[0], args...)
	}
	c.Env = append(os.Environ(), helperEnv+"="+mode)
	return c
}

func TestLinkCommand(t *testing.T) {
	l := newTestLink(t, LinkConfig{AB: Spec{Delay: time.Millisecond}})

	// A child started in A sees A's interfaces, not the host's.
	out, err := helper(l, 'A', "netdev").Output()
	if err != nil {
		t.Fatalf("helper in A: %v: %s", err, out)
	}
	var ifs []string
	for _, f := range strings.Fields(string(out)) {
		if f != "Inter-|" && f != "face" {
			ifs = append(ifs, f)
		}
	}
	slices.Sort(ifs)
	if !slices.Equal(ifs, []string{tunName, "lo"}) {
		t.Errorf("interfaces seen by a command in A: %q, want %s and lo", ifs, tunName)
	}

	// A server started in B answers a client in A across the link.
	srv := helper(l, 'B', "echo")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		srv.Process.Kill()
		srv.Wait()
		t.Fatalf("echo helper in B said %q (%v)", line, err)
	}
	cli := udpOn(t, l, 'A')
	cli.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := cli.WriteToUDPAddrPort([]byte("ping"), netip.AddrPortFrom(l.AddrB(), uint16(port))); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := cli.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Errorf("echo from the command in B: %q, %v", buf[:n], err)
	}
	srv.Process.Kill()
	if err := srv.Wait(); err == nil {
		t.Error("killed helper exited cleanly")
	}
}

func TestLinkSysctlAndIn(t *testing.T) {
	l := newTestLink(t, LinkConfig{})
	const rmem = "4096 77777 7777777"
	if err := l.Sysctl('B', "net.ipv4.tcp_rmem", rmem); err != nil {
		t.Fatal(err)
	}
	read := func(in func(func() error) error) string {
		var data []byte
		if err := in(func() (err error) {
			data, err = os.ReadFile("/proc/sys/net/ipv4/tcp_rmem")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(data)), " ")
	}
	if got := read(l.InB); got != rmem {
		t.Errorf("tcp_rmem in B = %q, want %q", got, rmem)
	}
	if got := read(l.InA); got == rmem {
		t.Errorf("tcp_rmem in A changed with B's: %q", got)
	}
	for _, c := range []struct {
		side      byte
		key, want string
	}{
		{'C', "net.ipv4.tcp_rmem", "'A' or 'B'"},
		{'A', "kernel.hostname", "only net.*"},
		{'A', "net..ipv4", "empty path element"},
		{'A', "net.ipv4.no_such_sysctl", "no such file"},
	} {
		if err := l.Sysctl(c.side, c.key, "1"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Sysctl(%q, %q) = %v, want an error containing %q", c.side, c.key, err, c.want)
		}
	}

	// In runs f as if called directly: its error, its panic.
	sentinel := errors.New("sentinel")
	if err := l.InA(func() error { return sentinel }); err != sentinel {
		t.Errorf("InA returned %v, want f's error", err)
	}
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("panic in InB: recovered %v", p)
			}
		}()
		l.InB(func() error { panic("boom") })
	}()
}

// TestLinkCloseLeavesNothing checks that Close takes everything with it:
// the TUN, timer and namespace fds (the namespaces are anonymous, so with
// their fds, threads, processes and sockets gone they are gone), the
// commands still running, and the threads that entered a namespace.
func TestLinkCloseLeavesNothing(t *testing.T) {
	requireLink(t)
	// Make what Go creates once per process before the baseline: the
	// netpoller's fds.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before := openFDs(t)

	l, err := NewLink(LinkConfig{AB: Spec{Delay: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var a, b *net.UDPConn
	if err := l.InA(func() (err error) { a, err = net.ListenUDP("udp4", &net.UDPAddr{IP: l.AddrA().AsSlice()}); return }); err != nil {
		t.Fatal(err)
	}
	if err := l.InB(func() (err error) { b, err = net.ListenUDP("udp4", &net.UDPAddr{IP: l.AddrB().AsSlice()}); return }); err != nil {
		t.Fatal(err)
	}
	a.WriteTo([]byte("x"), b.LocalAddr())
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := b.ReadFrom(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	sleeper := helper(l, 'B', "sleep")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	if during := openFDs(t); during <= before {
		t.Errorf("%d fds open with the link up, %d before: the count misses it", during, before)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := sleeper.Wait(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("command running at Close: Wait = %v, want killed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.InA(func() error { return nil }); !errors.Is(err, net.ErrClosed) {
		t.Errorf("InA after Close = %v, want net.ErrClosed", err)
	}
	if err := helper(l, 'A', "netdev").Run(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("command after Close = %v, want net.ErrClosed", err)
	}
	if st := l.Stats(); st.AB.Packets != 1 || st.Check() != nil {
		t.Errorf("Stats after Close: %+v", st)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d fds open after Close, %d before", after, before)
	}
	// Threads that entered a namespace die with their goroutine; the
	// runtime ends them just after, so give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		foreign := threadsInForeignNetns(t)
		if foreign == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d threads still in another network namespace after Close", foreign)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requireLink skips the test unless a link can be built here; see
// newTestLink.
func requireLink(t *testing.T) {
	t.Helper()
	if err := Probe(); err != nil {
		if os.Getenv("PYDEVTS_REQUIRE_TOOLS") != "" {
			t.Fatalf("%v, and PYDEVTS_REQUIRE_TOOLS is set (as in CI)", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// openFDs counts this process's open fds.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// threadsInForeignNetns counts this process's threads whose network
// namespace is not the main thread's.
func threadsInForeignNetns(t *testing.T) int {
	t.Helper()
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	n := 0
	for _, p := range tasks {
		if ns, err := os.Readlink(p); err == nil && ns != own {
			n++
		}
	}
	return n
}
