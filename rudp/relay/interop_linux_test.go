package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInteropToxBootstrapd runs exercise against toxcore's own relay:
// Debian's tox-bootstrapd (package toxcore-utils), started by
// startToxBootstrapd.
func TestInteropToxBootstrapd(t *testing.T) {
	tb := startToxBootstrapd(t)
	exercise(t, func(ctx context.Context, cfg *ClientConfig) (*Client, error) {
		nc, err := tb.dialTCP(ctx)
		if err != nil {
			return nil, err
		}
		return NewClient(ctx, nc, tb.key, cfg)
	})
}

// A toxBootstrapd is toxcore's relay, running for one test.
type toxBootstrapd struct {
	addr  string    // its TCP relay port, on 127.0.0.1 in netns
	key   PublicKey // its pinned long-term key
	netns string    // the path of its network namespace
}

// startToxBootstrapd runs Debian's tox-bootstrapd (package toxcore-utils)
// with a pinned key, in a network namespace of its own, until the test
// ends. tox-bootstrapd binds the wildcard address and has no option
// against it (research/tox.md, section 5, R1); inside the namespace only
// its loopback exists, so nothing outside this machine, or even outside
// the namespace, can reach it. The test's own sockets must be made inside
// that namespace too (inside: a thread enters it, makes the socket and
// leaves; a socket stays in the namespace it was made in).
//
// The binary and the namespace (root, or CAP_SYS_ADMIN) are needed; the
// test skips without them, and fails instead under PYDEVTS_REQUIRE_TOOLS
// (CI, whose .ci/run installs toxcore-utils).
func startToxBootstrapd(t *testing.T) *toxBootstrapd {
	t.Helper()
	bin, err := exec.LookPath("tox-bootstrapd")
	if err != nil {
		requireTool(t, "tox-bootstrapd is not installed (apt-get install toxcore-utils)")
	}
	relayKey := fixedKey(t, 0x42)
	dir := t.TempDir()
	// The keys file is the DHT key pair, public then secret; the TCP relay
	// uses the same key.
	keys := append(bytes.Clone(relayKey.Public[:]), relayKey.Secret[:]...)
	if err := os.WriteFile(filepath.Join(dir, "keys"), keys, 0o600); err != nil {
		t.Fatal(err)
	}
	const port = 33445 // free: the namespace is new
	conf := fmt.Sprintf(`port = %d
keys_file_path = "keys"
pid_file_path = "pid"
enable_ipv6 = false
enable_ipv4_fallback = true
enable_lan_discovery = false
enable_tcp_relay = true
tcp_relay_ports = [%d]
enable_motd = false
bootstrap_nodes = ()
`, port+1, port)
	if err := os.WriteFile(filepath.Join(dir, "relay.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	output := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	cmd := exec.Command(bin, "--config=relay.conf", "--foreground", "--log-backend=stdout")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) {
			requireTool(t, "cannot make a network namespace for tox-bootstrapd (needs root or CAP_SYS_ADMIN): "+err.Error())
		}
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The namespace has no name and no mount: it ends with its last
	// process, tox-bootstrapd, and the last socket made in it.
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		// Its log reaches the pipe when it exits (stdout is not a
		// terminal, so it is fully buffered).
		t.Logf("tox-bootstrapd output:\n%s", output())
		if !strings.Contains(output(), relayKey.Public.String()) {
			t.Errorf("tox-bootstrapd did not report the pinned key %s", relayKey.Public)
		}
	})
	tb := &toxBootstrapd{
		addr:  fmt.Sprintf("127.0.0.1:%d", port),
		key:   relayKey.Public,
		netns: fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid),
	}
	if err := tb.inside(loopbackUp); err != nil {
		t.Fatal(err)
	}
	// Wait until it listens.
	waitFor(t, "tox-bootstrapd to listen", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("tox-bootstrapd exited: %v\n%s", err, output())
		default:
		}
		nc, err := tb.dialTCP(context.Background())
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})
	return tb
}

// inside runs f in tox-bootstrapd's network namespace: the sockets f makes
// are made there.
func (tb *toxBootstrapd) inside(f func() error) error { return inNetns(tb.netns, f) }

// dialTCP connects to the relay port from inside the namespace.
func (tb *toxBootstrapd) dialTCP(ctx context.Context) (nc net.Conn, err error) {
	err = tb.inside(func() error {
		nc, err = (&net.Dialer{}).DialContext(ctx, "tcp", tb.addr)
		return err
	})
	return nc, err
}

// TestInteropOwnServer is the same test body against our server, so the
// two runs can be compared line by line.
func TestInteropOwnServer(t *testing.T) {
	s, addr := startServer(t, nil)
	exercise(t, tcpDialer(addr, s.PublicKey()))
}

// requireTool skips the test for want of what msg names, or fails it when
// PYDEVTS_REQUIRE_TOOLS is set (as in CI).
func requireTool(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("PYDEVTS_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s, and PYDEVTS_REQUIRE_TOOLS is set (as in CI)", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// inNetns runs f on a thread inside the network namespace at path, then
// moves the thread back. A namespace belongs to a thread, not a process,
// so the goroutine is locked to its thread throughout; if the way back
// fails, the goroutine ends still locked and the runtime discards the
// thread rather than reuse it in the wrong namespace.
func inNetns(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer home.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		err = f()
		if setns(home) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }

// loopbackUp sets lo up in the calling thread's namespace, as `ip link
// set lo up` does: a new namespace's lo is down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
