package carrier

import (
	"net/netip"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The modes compared: both offloads off (sendmmsg/recvmmsg only), GSO on
// the sender only, and GSO plus GRO.
var benchModes = []struct {
	name string
	s, r udpOptions
}{
	{"plain", udpOptions{noGSO: true, noGRO: true}, udpOptions{noGSO: true, noGRO: true}},
	{"gso", udpOptions{noGRO: true}, udpOptions{noGRO: true}},
	{"gso+gro", udpOptions{}, udpOptions{}},
}

// TestNoAllocs: in steady state neither Send nor Recv allocates, with or
// without offloads.
func TestNoAllocs(t *testing.T) {
	const batch, size, runs = 64, 1400, 20
	for _, m := range benchModes {
		t.Run(m.name, func(t *testing.T) {
			a := listenOpt(t, "udp4", "127.0.0.1:0", m.s)
			b := listenOpt(t, "udp4", "127.0.0.1:0", m.r)
			to := AddrPort(b.LocalAddr())
			msgs := make([][]byte, batch)
			for i := range msgs {
				msgs[i] = datagram(i, size)
			}
			bufs := make([][]byte, batch)
			for i := range bufs {
				bufs[i] = make([]byte, 2048)
			}
			sizes, addrs := make([]int, batch), make([]netip.AddrPort, batch)
			recv := func() int {
				n, err := b.Recv(bufs, sizes, addrs)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			drain := func(want int) {
				b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for got := 0; got < want; got += recv() {
				}
			}
			// Warm up: the batches grow to their size once.
			a.Send(msgs, to)
			drain(batch)

			if n := testing.AllocsPerRun(runs, func() { a.Send(msgs, to) }); n != 0 {
				t.Errorf("Send: %v allocations per call", n)
			}
			drain((runs + 1) * batch)

			for range runs + 1 {
				a.Send(msgs, to)
			}
			b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			// Each call gets at least one of the (runs+1)*batch queued
			// datagrams, so none blocks.
			if n := testing.AllocsPerRun(runs, func() { recv() }); n != 0 {
				t.Errorf("Recv: %v allocations per call", n)
			}
		})
	}
}

// BenchmarkUDP moves 1 400-byte datagrams from a sender to a receiver on
// loopback, one op per datagram, in batches of 64 (the engine's batch).
// The sender keeps at most benchWindow datagrams in flight, as a
// congestion window would, so that the figures are about moving datagrams
// and not about the socket dropping what the receiver cannot take.
// Reported: dgram/s received, cpu-µs/dgram (user + system CPU of the
// whole process, both ends, per datagram received; limits.md §4 measured
// 3.6 µs batched, 1.7 µs GSO, 0.4 µs GSO+GRO) and loss-% (normally 0).
//
//	go test -run '^$' -bench UDP -cpu 1,2 ./rudp/internal/carrier
func BenchmarkUDP(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) { benchUDP(b, m.s, m.r) })
	}
}

// benchWindow is 2.8 MB of payload in flight: below the 8 MiB receive
// buffer even at a few KiB of kernel overhead per datagram.
const benchWindow = 2048

func benchUDP(b *testing.B, so, ro udpOptions) {
	const batch, size = 64, 1400
	s := listenOpt(b, "udp4", "127.0.0.1:0", so)
	r := listenOpt(b, "udp4", "127.0.0.1:0", ro)
	gso, _ := s.Offload()
	_, gro := r.Offload()
	if so.noGSO == gso || ro.noGRO == gro {
		b.Skipf("offloads GSO %v GRO %v are not what this mode needs", gso, gro)
	}
	to := AddrPort(r.LocalAddr())
	msgs := make([][]byte, batch)
	for i := range msgs {
		msgs[i] = datagram(i, size)
	}

	var received atomic.Int64
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = make([]byte, 2048)
		}
		sizes, addrs := make([]int, batch), make([]netip.AddrPort, batch)
		for {
			n, err := r.Recv(bufs, sizes, addrs)
			if err != nil {
				return
			}
			received.Add(int64(n))
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}()

	b.SetBytes(size)
	b.ReportAllocs()
	timer := time.NewTimer(time.Hour)
	cpu0 := cpuTime()
	start := time.Now()
	b.ResetTimer()
	sent, lost := 0, int64(0)
	for sent < b.N {
	wait:
		for int64(sent)-lost-received.Load() > benchWindow {
			timer.Reset(20 * time.Millisecond)
			select {
			case <-wake:
			case <-timer.C:
				// No progress: what is in flight was dropped.
				lost = int64(sent) - received.Load()
				break wait
			}
		}
		k := min(batch, b.N-sent)
		s.Send(msgs[:k], to)
		sent += k
	}
	// Let the last ones arrive (or be found lost).
	for last, idle := received.Load(), 0; last < int64(b.N) && idle < 5; {
		time.Sleep(2 * time.Millisecond)
		if now := received.Load(); now == last {
			idle++
		} else {
			last, idle = now, 0
		}
	}
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	r.Close()
	<-done
	got := received.Load()
	if got == 0 {
		b.Fatal("nothing received")
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "dgram/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(got), "cpu-µs/dgram")
	b.ReportMetric(100*float64(int64(b.N)-got)/float64(b.N), "loss-%")
}

// cpuTime is the user and system CPU the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
