package linkemu

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// linkDir is one direction of a Link: the sender's TUN, the model, the
// packets in flight and the receiver's TUN.
//
//	src TUN ══► reader ─► Model.Plan ─► flight (min-heap by time, seq) ─► writer ══► dst TUN
//	                          │ arms when a packet is due first              ▲
//	                          └─────────────► timerfd (netpoller) ───────────┘ wakes
//
// Two goroutines, never one: a write to a TUN runs the receiving kernel's
// whole network stack in the writer's context, and a reader that also
// wrote was 30 % slower (0.89-0.96 against 1.27-1.32 Gbit/s of kernel
// TCP, research/linkemu.md, pitfall 3). The writer sleeps on a timerfd
// registered with the netpoller, not on a Go timer: in an idle process the
// netpoller waits in epoll_wait with a millisecond timeout, and a 10 ms
// delay through time.Timer came out at p50 10.71 ms and p99 28.4 ms,
// against p50 10.17 ms with a timerfd, whose expiry ends epoll_wait at the
// hrtimer's time (pitfall 1).
//
// mu guards model, flight, seq, armed, armedAt, armSpec and armErr; the
// reader, the writer, SetSpec and Stats take it, each briefly. The TUN and timer fds are only
// used through their RawConns, which hold the fd open during a call, so a
// concurrent Close cannot make them name another file.
type linkDir struct {
	mu      sync.Mutex
	model   *Model
	flight  packetHeap
	seq     uint64    // next send sequence number, the heap's tie-break
	armed   bool      // the timer is set to expire at armedAt
	armedAt time.Time //

	src, dst syscall.RawConn // the sending namespace's TUN (read), the receiving one's (written)
	timer    *os.File        // the writer's timerfd
	timerRC  syscall.RawConn
	setTimer func(fd uintptr) // arms the timer for armSpec, result in armErr; made once, not per packet
	armSpec  unix.ItimerSpec
	armErr   error
	clock    monoClock
	mtu      int
	slack    time.Duration
	cpu      *atomic.Int64  // the Link's emulator CPU, in nanoseconds
	ioErrs   *atomic.Uint64 // the Link's TUN read and write errors
}

// maxBurst is how many packets the reader takes in one go before it lets
// the scheduler run others. Each packet is planned and queued as it is
// read, so the bound costs no latency; it keeps one busy direction from
// holding its thread indefinitely, and bounds each CPU-timed stretch.
const maxBurst = 64

// initTimer gives d its timer: a non-blocking CLOCK_MONOTONIC timerfd on
// the netpoller.
func (d *linkDir) initTimer() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("linkemu: timerfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("linkemu: timerfd: %w", err)
	}
	d.timer, d.timerRC = f, rc
	d.setTimer = func(fd uintptr) {
		d.armErr = unix.TimerfdSettime(int(fd), unix.TFD_TIMER_ABSTIME, &d.armSpec, nil)
	}
	return nil
}

// readLoop is the reader goroutine. It returns when the TUN is closed, or
// after a read error that is not transient (counted in TunIOErrors).
func (d *linkDir) readLoop() {
	var readErr error
	burst := func(fd uintptr) bool { return d.readBurst(fd, &readErr) }
	for readErr == nil {
		if err := d.src.Read(burst); err != nil {
			return // closed
		}
	}
	d.ioErrs.Add(1)
}

// readBurst reads packets from the TUN until it has none (false: wait for
// more), maxBurst were read (true: come back at once) or a read failed
// (true, with *readErr set). Each packet goes to the model as it is read,
// with its own time.
func (d *linkDir) readBurst(fd uintptr, readErr *error) bool {
	defer d.account(threadCPU(), time.Now())
	for range maxBurst {
		pk := getPacket(d.mtu)
		n, err := unix.Read(int(fd), pk.data)
		switch {
		case err == nil:
			pk.data = pk.data[:n]
			d.plan(pk, time.Now())
			continue
		case errors.Is(err, unix.EINTR):
			pk.free()
			continue
		}
		pk.free()
		if errors.Is(err, unix.EAGAIN) {
			return false
		}
		*readErr = err
		return true
	}
	return true
}

// plan gives pk, read at now, to the model, and queues its copies.
func (d *linkDir) plan(pk *packet, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.model.Plan(len(pk.data), now)
	if f.Copies == 0 {
		pk.free()
		return
	}
	if f.Corrupt {
		flipPayloadBit(pk.data, f.Bit) // before the copy: both copies carry it
	}
	if f.Copies == 2 {
		d.enqueue(newPacket(pk.data), f.At[1])
	}
	d.enqueue(pk, f.At[0])
	if head := d.flight[0].at; !d.armed || head.Before(d.armedAt) {
		d.arm(head)
	}
}

// enqueue puts pk in flight, to be delivered at at. d.mu is held.
func (d *linkDir) enqueue(pk *packet, at time.Time) {
	pk.at, pk.seq = at, d.seq
	d.seq++
	d.flight.push(pk)
}

// arm sets the timer to expire at at (at once if at has passed). d.mu is
// held.
func (d *linkDir) arm(at time.Time) {
	d.armSpec = unix.ItimerSpec{Value: d.clock.timespec(at)}
	if err := d.timerRC.Control(d.setTimer); err != nil {
		return // closed: the writer is leaving too
	}
	if d.armErr != nil {
		d.ioErrs.Add(1)
		return
	}
	d.armed, d.armedAt = true, at
}

// writeLoop is the writer goroutine: it waits for the timer, takes every
// packet due within the slack, re-arms for the next one and writes the
// batch to the receiving TUN. The timer is set for the first packet's own
// time, not a slack before it: the slack lets the packets due just after
// it leave in the same wakeup, but never makes the first one early. It
// returns when the timer or the TUN is closed.
func (d *linkDir) writeLoop() {
	var (
		batch []*packet
		next  int // the first packet of batch not yet written
	)
	write := func(fd uintptr) bool { return d.writeBatch(fd, batch, &next) }
	defer func() {
		for _, pk := range batch {
			pk.free()
		}
	}()
	for {
		if err := d.timerRC.Read(consumeTicks); err != nil {
			return // closed
		}
		cpu0, wall0 := threadCPU(), time.Now()
		d.mu.Lock()
		due := wall0.Add(d.slack)
		for len(d.flight) > 0 && !d.flight[0].at.After(due) {
			batch = append(batch, d.flight.pop())
		}
		d.armed = false // it expired: a timerfd without interval is one-shot
		if len(d.flight) > 0 {
			d.arm(d.flight[0].at)
		}
		d.mu.Unlock()
		next = 0
		closed := len(batch) > 0 && d.dst.Write(write) != nil
		for i, pk := range batch {
			pk.free()
			batch[i] = nil
		}
		batch = batch[:0]
		d.account(cpu0, wall0)
		if closed {
			return
		}
	}
}

// consumeTicks reads a timerfd's expiry count, which clears its
// readiness; false (not ready yet) makes RawConn.Read wait on the
// netpoller.
func consumeTicks(fd uintptr) bool {
	var ticks [8]byte
	for {
		_, err := unix.Read(int(fd), ticks[:])
		if !errors.Is(err, unix.EINTR) {
			return !errors.Is(err, unix.EAGAIN)
		}
	}
}

// writeBatch writes batch[*next:] to the receiving TUN (fd), in order,
// advancing *next: true when all are written, false to wait until the TUN
// takes more. A packet whose write fails is dropped and counted.
func (d *linkDir) writeBatch(fd uintptr, batch []*packet, next *int) bool {
	for *next < len(batch) {
		_, err := unix.Write(int(fd), batch[*next].data)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return false
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			d.ioErrs.Add(1)
		}
		*next++
	}
	return true
}

// account adds the CPU the calling thread used since cpu0 (its CPU clock
// then, wall0 the time) to the link's emulator CPU. A goroutine may be
// preempted and resumed on another thread in between, which would compare
// two threads' clocks; the difference is then clamped to the wall time
// that passed, which bounds the error by the stretch's length.
func (d *linkDir) account(cpu0 time.Duration, wall0 time.Time) {
	used := min(max(threadCPU()-cpu0, 0), time.Since(wall0))
	d.cpu.Add(int64(used))
}

// threadCPU is the calling thread's CPU time, or 0 if the clock cannot be
// read.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// getPacket returns a pooled packet whose data can hold mtu bytes, with
// len mtu.
func getPacket(mtu int) *packet {
	pk := packetPool.Get().(*packet)
	if cap(pk.data) < mtu {
		pk.data = make([]byte, mtu)
	}
	pk.data = pk.data[:mtu]
	return pk
}

// stats returns the model's counters.
func (d *linkDir) stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.model.Stats()
}

// drain frees the packets still in flight, once the pumps have stopped.
func (d *linkDir) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.flight) > 0 {
		d.flight.pop().free()
	}
}

// monoClock converts time.Time values to CLOCK_MONOTONIC, the clock of
// the timerfds. A time.Time's monotonic reading is relative to the
// process's start, so the two are tied once, by reading both together:
// after that, at.Sub(base) is exact (both monotonic), and the conversion
// is off only by the few nanoseconds between the two readings.
type monoClock struct {
	base time.Time
	mono int64 // CLOCK_MONOTONIC at base, in nanoseconds
}

func newMonoClock() (monoClock, error) {
	var ts unix.Timespec
	base := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return monoClock{}, fmt.Errorf("linkemu: clock_gettime(CLOCK_MONOTONIC): %w", err)
	}
	return monoClock{base: base, mono: ts.Nano()}, nil
}

// timespec is at on CLOCK_MONOTONIC, never zero: a zero it_value would
// disarm the timer instead of firing it.
func (c monoClock) timespec(at time.Time) unix.Timespec {
	return unix.NsecToTimespec(max(c.mono+int64(at.Sub(c.base)), 1))
}
