package linkemu

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Cmd is a program to run inside one of a [Link]'s namespaces: an
// exec.Cmd whose Start (and so Run, Output and CombinedOutput) forks it
// from a thread inside that namespace, so that it and its children live
// there, with no "ip netns exec". Set its fields (Stdout, Env, ...) as for
// any exec.Cmd before starting it, and call Wait as usual.
//
// The process gets SIGKILL if this process dies (SysProcAttr.Pdeathsig,
// which Start sets unless it is already set), and [Link.Close] kills it if
// it still runs then, so a command never outlives its link. Pdeathsig
// fires when the thread that forked the child ends, not the process
// (golang.org/issue/27505): Start forks from a thread that it keeps
// locked, blocked in waitid(2), until the child exits.
type Cmd struct {
	*exec.Cmd
	link *Link
	side int
}

// CommandA returns a [Cmd] that runs the program name with args inside
// namespace A, as exec.Command would.
func (l *Link) CommandA(name string, args ...string) *Cmd { return l.command(0, name, args) }

// CommandB returns a [Cmd] that runs the program name with args inside
// namespace B, as exec.Command would.
func (l *Link) CommandB(name string, args ...string) *Cmd { return l.command(1, name, args) }

func (l *Link) command(side int, name string, args []string) *Cmd {
	c := exec.Command(name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return &Cmd{Cmd: c, link: l, side: side}
}

// Start starts the command inside its namespace and returns without
// waiting for it, like exec.Cmd's Start. It fails with an error wrapping
// net.ErrClosed once the link is closed.
func (c *Cmd) Start() error {
	if c.SysProcAttr == nil {
		c.SysProcAttr = &syscall.SysProcAttr{}
	}
	if c.SysProcAttr.Pdeathsig == 0 {
		c.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	// The pidfd lets the starting thread wait for the exit without
	// reaping (WNOWAIT), so the caller's Wait still gets the status, and
	// with no risk of waiting for a recycled pid.
	pidfd, own := -1, c.SysProcAttr.PidFD == nil
	if own {
		c.SysProcAttr.PidFD = &pidfd
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := openHome()
		if err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		done, err := c.startIn()
		// Back home at once, but locked until the child exits: the
		// thread must not end before it (Pdeathsig), and the runtime ends
		// a thread whose goroutine ends locked.
		back := unix.Setns(home, unix.CLONE_NEWNET) == nil
		unix.Close(home)
		started <- err
		if err == nil {
			waitExit(*c.SysProcAttr.PidFD, c.Process.Pid)
			c.link.cmu.Lock()
			delete(c.link.children, c)
			c.link.cmu.Unlock()
			close(done)
		}
		if own && pidfd >= 0 {
			unix.Close(pidfd)
		}
		if back {
			runtime.UnlockOSThread()
		}
	}()
	return <-started
}

// startIn enters the namespace and starts the process from the calling
// locked thread, and registers it with the link so that Close kills it.
// The link's lock is held throughout, so Close cannot miss it.
func (c *Cmd) startIn() (chan struct{}, error) {
	l := c.link
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, fmt.Errorf("linkemu: start %s: link closed: %w", c.Path, net.ErrClosed)
	}
	if err := enterNetns(l.ns[c.side], c.side); err != nil {
		return nil, err
	}
	if err := c.Cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	l.cmu.Lock()
	l.children[c] = done
	l.cmu.Unlock()
	return done, nil
}

// waitExit blocks until the child exits, without reaping it. A pidfd below
// 0 (a kernel without CLONE_PIDFD) falls back to the pid.
func waitExit(pidfd, pid int) {
	var info unix.Siginfo
	for {
		var err error
		if pidfd >= 0 {
			err = unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED|unix.WNOWAIT, nil)
		} else {
			err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		}
		// ECHILD: the caller's Wait reaped it first, so it has exited.
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// Run starts the command inside its namespace and waits for it, like
// exec.Cmd's Run.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the command inside its namespace and returns its standard
// output, like exec.Cmd's Output: if Stderr is nil, an *exec.ExitError
// carries the standard error.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	var stdout, stderr bytes.Buffer
	c.Stdout = &stdout
	capture := c.Stderr == nil
	if capture {
		c.Stderr = &stderr
	}
	err := c.Run()
	var ee *exec.ExitError
	if capture && errors.As(err, &ee) {
		ee.Stderr = stderr.Bytes()
	}
	return stdout.Bytes(), err
}

// CombinedOutput runs the command inside its namespace and returns its
// standard output and standard error together, like exec.Cmd's.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	if c.Stderr != nil {
		return nil, errors.New("exec: Stderr already set")
	}
	var b bytes.Buffer
	c.Stdout, c.Stderr = &b, &b
	err := c.Run()
	return b.Bytes(), err
}

// killChildren kills the commands still running and waits until they have
// exited (not reaped: that is their Wait's job), so that none keeps a
// namespace alive after Close.
func (l *Link) killChildren() {
	l.cmu.Lock()
	var exits []chan struct{}
	for c, done := range l.children {
		c.Process.Kill()
		exits = append(exits, done)
	}
	l.cmu.Unlock()
	for _, done := range exits {
		<-done
	}
}
