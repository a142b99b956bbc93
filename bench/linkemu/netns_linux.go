package linkemu

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// A network namespace belongs to a thread, not to a process: unshare(2) and
// setns(2) with CLONE_NEWNET move only the calling thread. So everything
// that must happen inside a namespace runs on a goroutine locked to its OS
// thread, which first keeps an fd on the thread's own namespace and, when
// done, moves back into it before unlocking, so that the thread goes back
// to the runtime's pool as it came. Letting the locked goroutine end
// instead, so that the runtime ends the thread, is not enough: on the main
// thread the runtime cannot, and wedges it for good, still in the foreign
// namespace (TestLinkCloseLeavesNothing caught it: after Close, the main
// thread's namespace differed from every other thread's). If the way back
// fails, the goroutine ends locked: the runtime then discards the thread,
// which is all it can do.
// (Threads the runtime starts while one is locked are cloned by its
// template thread, from the process's namespace.)

// onThread runs f on a goroutine locked to its OS thread, on which f may
// move the thread into another network namespace (newNetns, enterNetns),
// and returns f's error; afterwards the thread returns to its namespace. A
// panic in f is raised again in the caller, and a runtime.Goexit in f
// (t.FailNow in a test) ends the caller too, so f behaves as if it had been
// called directly.
func onThread(f func() error) error {
	type result struct {
		err    error
		panic  any
		goexit bool
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := openHome()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: err}
			return
		}
		r := result{goexit: true}
		defer func() {
			if r.goexit {
				if p := recover(); p != nil {
					r = result{panic: p}
				}
			}
			goHome(home)
			done <- r
		}()
		r.err = f()
		r.goexit = false
	}()
	r := <-done
	switch {
	case r.panic != nil:
		panic(r.panic)
	case r.goexit:
		runtime.Goexit()
	}
	return r.err
}

// openHome returns an fd on the calling locked thread's network namespace,
// for goHome.
func openHome() (int, error) {
	// thread-self, not self: /proc/self/ns/net is the main thread's.
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("linkemu: open this thread's network namespace: %w", err)
	}
	return fd, nil
}

// goHome moves the calling locked thread back into namespace home and
// unlocks it, or, if it cannot, leaves it locked, so that the runtime
// discards it when its goroutine ends. It closes home.
func goHome(home int) {
	if unix.Setns(home, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	unix.Close(home)
}

// newNetns moves the calling locked thread into a new, anonymous network
// namespace and returns an fd on it. The namespace has no name in
// /run/netns, so nothing outlives the process: it goes when its last fd,
// thread, process and socket have gone (research/linkemu.md, section 2,
// "Namespaces").
func newNetns() (int, error) {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return -1, unavailable("unshare(CLONE_NEWNET)", err, "needs root, or CAP_SYS_ADMIN")
	}
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("linkemu: open the new namespace: %w", err)
	}
	return fd, nil
}

// enterNetns moves the calling locked thread into the namespace of fd.
func enterNetns(fd int, side int) error {
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("linkemu: enter namespace %c: setns: %w", sideName(side), err)
	}
	return nil
}

// unavailable is the error of a missing privilege or device, worded for
// Probe's callers, who print it when they skip: what failed, and what it
// needs.
func unavailable(op string, err error, need string) error {
	return fmt.Errorf("linkemu: link emulation unavailable: %s: %w (%s)", op, err, need)
}

// sysctlPath turns a net.* sysctl key into its file under /proc/sys. Keys
// outside net.* are refused: only the network sysctls belong to a network
// namespace, and writing any other from inside one would change the
// host's. A key may use dots or slashes, as sysctl(8) allows.
func sysctlPath(key string) (string, error) {
	k := strings.ReplaceAll(key, ".", "/")
	if !strings.HasPrefix(k, "net/") {
		return "", fmt.Errorf("linkemu: sysctl %q: only net.* keys belong to a network namespace", key)
	}
	for _, part := range strings.Split(k, "/") {
		if part == "" {
			return "", fmt.Errorf("linkemu: sysctl %q: empty path element", key)
		}
	}
	return "/proc/sys/" + k, nil
}

// writeSysctl writes value to the sysctl file path. It must run on a thread
// inside the namespace: /proc/sys/net shows the network namespace of the
// thread that opens the file.
func writeSysctl(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// disableIPv6 makes interfaces created from now on in the calling thread's
// namespace IPv4-only. Otherwise the kernel sends IPv6 router
// solicitations, duplicate address detection and MLD reports over the TUN
// of its own accord, and each would take a draw of the link's model, so a
// test could no longer predict which of its packets are lost. lo keeps
// IPv6 (only "default" changes, which lo, created with the namespace, does
// not read). A kernel without IPv6 has no such file and nothing to do.
func disableIPv6() error {
	err := writeSysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("linkemu: disable IPv6 on the TUN: %w", err)
	}
	return nil
}
