package linkemu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Link is a point-to-point IPv4 link between two network namespaces of
// this process, A (10.77.0.1) and B (10.77.0.2), each with a TUN device,
// and two goroutines per direction that forward the packets between the
// TUNs through a [Model]. Anything that uses the kernel's sockets crosses
// it unmodified: kernel TCP, UDP, quic-go, the project's transport.
// Create sockets inside a namespace with [Link.InA] and [Link.InB], or
// start programs there with [Link.CommandA] and [Link.CommandB].
//
// Its methods are safe for concurrent use.
//
// mu guards closed, final and finalCPU. It is held for reading while a
// thread enters a namespace through its fd, and for writing by Close, so
// Close never closes an fd that a setns is using. cmu guards children.
type Link struct {
	mu       sync.RWMutex
	closed   bool
	final    [2]nsCounters // the namespaces' counters, read by Close
	finalCPU time.Duration // the process's CPU at Close
	ns       [2]int        // fds on the namespaces, A then B
	tun      [2]*os.File   // the TUN devices, A's then B's
	dirs     [2]*linkDir   // A->B, B->A
	pumps    sync.WaitGroup

	cmu      sync.Mutex
	children map[*Cmd]chan struct{} // commands running, and closed when each exits

	cpu    atomic.Int64  // emulator CPU, in nanoseconds
	ioErrs atomic.Uint64 // TUN read and write errors
	cpu0   time.Duration // the process's CPU at NewLink
}

// NewLink builds the link cfg describes: two anonymous network namespaces,
// a TUN device in each, and the pumps between them. Everything it creates
// belongs to the Link and goes with Close, or with the process: the
// namespaces have no name and the TUN devices are not persistent, so even
// a crash leaves nothing behind.
//
// It needs root (CAP_SYS_ADMIN for the namespaces, CAP_NET_ADMIN for the
// TUN devices) and /dev/net/tun; [Probe] checks both cheaply. An invalid
// cfg gets an error that names the field.
func NewLink(cfg LinkConfig) (*Link, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	clock, err := newMonoClock()
	if err != nil {
		return nil, err
	}
	l := &Link{ns: [2]int{-1, -1}, children: make(map[*Cmd]chan struct{}), cpu0: processCPU()}
	addrs := [2]netip.Addr{linkAddrA, linkAddrB}
	for i := range 2 {
		var nsfd, tunfd int
		err := onThread(func() (err error) {
			if nsfd, err = newNetns(); err != nil {
				return err
			}
			if err = disableIPv6(); err == nil {
				if tunfd, err = openTun(tunName); err == nil {
					if err = ifconfig(tunName, addrs[i], addrs[1-i], cfg.MTU); err != nil {
						unix.Close(tunfd)
					}
				}
			}
			if err != nil {
				unix.Close(nsfd)
			}
			return err
		})
		if err != nil {
			l.closeFiles()
			return nil, fmt.Errorf("linkemu: side %c: %w", sideName(i), err)
		}
		l.ns[i] = nsfd
		l.tun[i] = os.NewFile(uintptr(tunfd), "/dev/net/tun:"+string(sideName(i)))
	}
	// The two directions start the PCG from different second state words,
	// exactly as MemPair does: A->B is NewModel(AB, Seed).
	models := [2]*Model{newModel(cfg.AB, cfg.Seed, pcgLow), newModel(cfg.BA, cfg.Seed, pcgLow+2)}
	for i := range 2 {
		d := &linkDir{model: models[i], clock: clock, mtu: cfg.MTU, slack: cfg.Slack, cpu: &l.cpu, ioErrs: &l.ioErrs}
		if d.src, err = l.tun[i].SyscallConn(); err == nil {
			if d.dst, err = l.tun[1-i].SyscallConn(); err == nil {
				err = d.initTimer()
			}
		}
		if err != nil {
			l.closeFiles()
			return nil, fmt.Errorf("linkemu: new link: %w", err)
		}
		l.dirs[i] = d
	}
	for _, d := range l.dirs {
		l.pumps.Add(2)
		go func() { defer l.pumps.Done(); d.readLoop() }()
		go func() { defer l.pumps.Done(); d.writeLoop() }()
	}
	return l, nil
}

// AddrA returns A's address on the link, 10.77.0.1.
func (l *Link) AddrA() netip.Addr { return linkAddrA }

// AddrB returns B's address on the link, 10.77.0.2.
func (l *Link) AddrB() netip.Addr { return linkAddrB }

// InA runs f on an OS thread inside namespace A and returns its error.
// Sockets f creates (net.ListenUDP, net.Dial, ...) belong to A for good and
// may be used from any goroutine afterwards; goroutines f starts do not
// run in A. f's thread leaves A when f returns. InA fails with an
// error wrapping net.ErrClosed once the link is closed.
func (l *Link) InA(f func() error) error { return l.in(0, f) }

// InB is [Link.InA] for namespace B.
func (l *Link) InB(f func() error) error { return l.in(1, f) }

// in runs f on a locked thread inside namespace side.
func (l *Link) in(side int, f func() error) error {
	return onThread(func() error {
		if err := l.enter(side); err != nil {
			return err
		}
		return f()
	})
}

// enter moves the calling locked thread into namespace side, unless the
// link is closed. Once inside, the thread keeps the namespace alive by
// itself, so the lock is held only for the setns.
func (l *Link) enter(side int) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return fmt.Errorf("linkemu: link closed: %w", net.ErrClosed)
	}
	return enterNetns(l.ns[side], side)
}

// Sysctl writes value to the network sysctl key (such as
// "net.ipv4.tcp_rmem", dots or slashes) inside namespace side, 'A' or 'B':
// /proc/sys/<key with dots as slashes>, as seen from there. Only net.*
// keys are accepted, since only they belong to a network namespace; some
// of them are still global and refuse writes from a new namespace
// (net.core.rmem_max does, research/linkemu.md, pitfall 7).
func (l *Link) Sysctl(side byte, key, value string) error {
	i, err := sideIndex(side)
	if err != nil {
		return err
	}
	path, err := sysctlPath(key)
	if err != nil {
		return err
	}
	return l.in(i, func() error {
		if err := writeSysctl(path, value); err != nil {
			return fmt.Errorf("linkemu: sysctl %s=%q in %c: %w", key, value, sideName(i), err)
		}
		return nil
	})
}

// SetSpec changes the impairments of both directions for packets the
// emulator reads from now on: Spec{Loss: 1} is an outage, and the old
// Specs restore the link. Packets in flight keep their fates, and each
// model's state (burst, bottleneck backlog) carries over, as in
// [Model.SetSpec]. It panics if either Spec is invalid, before changing
// anything.
func (l *Link) SetSpec(ab, ba Spec) {
	for _, c := range []struct {
		s    Spec
		name string
	}{{ab, "SetSpec ab."}, {ba, "SetSpec ba."}} {
		if err := c.s.check(c.name); err != nil {
			panic(fmt.Errorf("linkemu: %w", err))
		}
	}
	for i, s := range [2]Spec{ab, ba} {
		d := l.dirs[i]
		d.mu.Lock()
		d.model.SetSpec(s)
		d.mu.Unlock()
	}
}

// Stats returns the link's counters: the models', the kernels' in each
// namespace, and the emulator's CPU. After Close, the kernel counters are
// those Close read just before it removed the TUN devices. A namespace
// whose counters cannot be read leaves them 0.
func (l *Link) Stats() LinkStats {
	s := LinkStats{AB: l.dirs[0].stats(), BA: l.dirs[1].stats()}
	s.EmulatorCPU = time.Duration(l.cpu.Load())
	now := processCPU()
	l.mu.RLock()
	if l.closed {
		now = l.finalCPU
	}
	l.mu.RUnlock()
	s.ProcessCPU = now - l.cpu0
	s.TunIOErrors = l.ioErrs.Load()
	for i := range 2 {
		c, err := l.counters(i)
		if err != nil {
			continue
		}
		s.setSide(i, c)
	}
	return s
}

// counters reads namespace side's kernel counters, or Close's last
// reading of them once the link is closed.
func (l *Link) counters(side int) (nsCounters, error) {
	var c nsCounters
	err := l.in(side, func() (err error) {
		c, err = readCounters()
		return err
	})
	if errors.Is(err, net.ErrClosed) {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return l.final[side], nil
	}
	return c, err
}

// Close takes the link down: it kills the commands still running in its
// namespaces (their sockets are on a link that is going away), stops the
// pumps, and closes the TUN devices, the timers and its fds on the
// namespaces, which then vanish once the caller's sockets in them are
// closed too. Packets in flight are dropped. Close is idempotent; it
// returns the errors from closing its fds, which should never happen.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.finalCPU = processCPU()
	// The TUNs' counters go with them: read them while they exist. No
	// one else can enter a namespace now, and entering needs only the fd.
	for i := range 2 {
		onThread(func() error {
			if enterNetns(l.ns[i], i) == nil {
				if c, err := readCounters(); err == nil {
					l.final[i] = c
				}
			}
			return nil
		})
	}
	l.mu.Unlock()
	l.killChildren()
	err := l.closeFiles()
	l.pumps.Wait()
	for _, d := range l.dirs {
		d.drain()
	}
	return err
}

// processCPU is the CPU time this process has used, user and system, or 0
// if it cannot be read.
func processCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closeFiles closes the TUNs, the timers and the namespace fds that exist.
// Closing the TUN and timer files ends the pumps, whose RawConn calls then
// fail; the kernel removes each TUN device when its fd closes.
func (l *Link) closeFiles() error {
	var errs []error
	for _, d := range l.dirs {
		if d != nil && d.timer != nil {
			errs = append(errs, d.timer.Close())
		}
	}
	for i, f := range l.tun {
		if f != nil {
			errs = append(errs, f.Close())
		}
		if l.ns[i] >= 0 {
			errs = append(errs, unix.Close(l.ns[i]))
			l.ns[i] = -1
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("linkemu: close: %w", err)
	}
	return nil
}
