package linkemutest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Proc is a process that a test watches through a pidfd, which stays
// with the process it was opened on, so that a recycled pid is never
// taken for it.
type Proc struct {
	Pid int
	fd  int
}

// Watch starts watching pid, a child of parent, and kills it when the
// test ends, if it still runs then. It fails the test if pid is not a
// child of parent once the pidfd is open: then the pidfd may be on
// another process that reused the pid.
func Watch(t testing.TB, pid, parent int) *Proc {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	t.Cleanup(func() {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) // ESRCH once it has exited
		unix.Close(fd)
	})
	if !slices.Contains(Children(parent), pid) {
		t.Fatalf("process %d is not a child of %d", pid, parent)
	}
	return &Proc{Pid: pid, fd: fd}
}

// Exited reports whether the process has exited, reaped or not: its
// pidfd then polls readable.
func (p *Proc) Exited() bool {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// Children lists the processes whose parent is pid, from the children
// file of each of pid's threads (a child belongs to the thread that
// forked it); none if pid is gone.
func Children(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []int
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(data)) {
			if k, err := strconv.Atoi(s); err == nil {
				kids = append(kids, k)
			}
		}
	}
	slices.Sort(kids)
	return kids
}

// Netns names the network namespace of process pid as its ns link does,
// "net:[inode]": the same text as an fd open on that namespace shows in
// /proc/<pid>/fd.
func Netns(pid int) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
}

// NetnsUsers lists what keeps the network namespace ns ("net:[inode]")
// alive among the processes visible here: the threads in it
// (/proc/<pid>/task/<tid>/ns/net) and the fds open on it
// (/proc/<pid>/fd/<n>). A socket keeps its namespace too, but only while
// an fd holds the socket, and such an fd belongs to a process found
// through its threads.
func NetnsUsers(ns string) []string {
	var users []string
	for _, pattern := range []string{"/proc/[0-9]*/task/[0-9]*/ns/net", "/proc/[0-9]*/fd/[0-9]*"} {
		links, _ := filepath.Glob(pattern)
		for _, l := range links {
			if target, err := os.Readlink(l); err == nil && target == ns {
				users = append(users, l)
			}
		}
	}
	return users
}

// WaitGone polls until every one of procs has exited and nothing uses
// any of the network namespaces netns, and returns what is left if that
// has not happened within timeout. The kernel ends an orphan that got its
// parent-death signal, and init reaps it, on their own schedule; timeout
// only bounds the wait for a test that would otherwise hang, so make it
// generous.
func WaitGone(timeout time.Duration, procs []*Proc, netns []string) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, p := range procs {
			if !p.Exited() {
				left = append(left, fmt.Sprintf("process %d runs", p.Pid))
			}
		}
		for _, ns := range netns {
			if users := NetnsUsers(ns); len(users) > 0 {
				left = append(left, fmt.Sprintf("%s is used by %s", ns, strings.Join(users, ", ")))
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %s", timeout, strings.Join(left, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
