package linkemu

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// Every test of the pair but the race test runs in a synctest bubble:
// time.Since measures virtual time, exact to the nanosecond, and the bubble
// fails the test if a goroutine or a blocked read is left behind.

// pair returns a MemPair for cfg, closed when the test ends.
func pair(t *testing.T, cfg MemConfig) (a, b *MemConn) {
	t.Helper()
	a, b, err := MemPair(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// read reads one datagram into a fresh buffer.
func read(t *testing.T, c *MemConn) []byte {
	t.Helper()
	buf := make([]byte, 65536)
	n, addr, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if addr.String() != c.RemoteAddr().String() {
		t.Fatalf("ReadFrom: from %v, want %v", addr, c.RemoteAddr())
	}
	return buf[:n]
}

func write(t *testing.T, c *MemConn, p []byte) {
	t.Helper()
	if n, err := c.WriteTo(p, c.RemoteAddr()); n != len(p) || err != nil {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
}

func TestMemDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: Spec{Delay: 50 * time.Millisecond}})
		start := time.Now()
		msg := []byte("hello")
		write(t, a, msg)
		msg[0] = 'j' // WriteTo copied it
		if got := read(t, b); string(got) != "hello" {
			t.Fatalf("got %q", got)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Fatalf("arrived after %v, want 50ms", d)
		}
	})
}

func TestMemPingPong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rounds = 10
		a, b := pair(t, MemConfig{AB: Spec{Delay: 100 * time.Millisecond}, BA: Spec{Delay: 200 * time.Millisecond}})
		done := make(chan error)
		go func() { // echo
			buf := make([]byte, 100)
			for range rounds {
				n, addr, err := b.ReadFrom(buf)
				if err == nil {
					_, err = b.WriteTo(buf[:n], addr)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		start := time.Now()
		for i := range rounds {
			write(t, a, []byte{byte(i)})
			if got := read(t, a); !bytes.Equal(got, []byte{byte(i)}) {
				t.Fatalf("round %d: got %v", i, got)
			}
			if d := time.Since(start); d != time.Duration(i+1)*300*time.Millisecond {
				t.Fatalf("round %d ended after %v, want %v", i, d, time.Duration(i+1)*300*time.Millisecond)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestMemEqualTimesKeepSendOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, delay := range []time.Duration{0, 10 * time.Millisecond} {
			a, b := pair(t, MemConfig{AB: Spec{Delay: delay}})
			start := time.Now()
			for i := range 200 {
				write(t, a, []byte{byte(i)})
			}
			for i := range 200 {
				if got := read(t, b); got[0] != byte(i) {
					t.Fatalf("delay %v: datagram %d arrived in place %d", delay, got[0], i)
				}
				if d := time.Since(start); d != delay {
					t.Fatalf("delay %v: datagram %d after %v", delay, i, d)
				}
			}
		}
	})
}

func TestMemReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: Spec{Delay: 100 * time.Millisecond}})
		start := time.Now()
		b.SetReadDeadline(start.Add(75 * time.Millisecond))
		write(t, a, []byte("late"))
		buf := make([]byte, 10)
		_, _, err := b.ReadFrom(buf)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom = %v, want a timeout wrapping os.ErrDeadlineExceeded", err)
		}
		if d := time.Since(start); d != 75*time.Millisecond {
			t.Fatalf("timed out after %v, want 75ms", d)
		}
		// A passed deadline fails even with a datagram waiting, as net does.
		time.Sleep(50 * time.Millisecond)
		if _, _, err := b.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom after the deadline = %v", err)
		}
		// Clearing it gets the datagram, which arrived at 100 ms.
		b.SetReadDeadline(time.Time{})
		if got := read(t, b); string(got) != "late" {
			t.Fatalf("got %q", got)
		}
		// Moving the deadline of a blocked reader: earlier fires then.
		go func() {
			time.Sleep(10 * time.Millisecond)
			b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		}()
		start = time.Now()
		if _, _, err := b.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom = %v", err)
		}
		if d := time.Since(start); d != 30*time.Millisecond {
			t.Fatalf("timed out after %v, want 30ms", d)
		}
	})
}

func TestMemWriteDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := pair(t, MemConfig{})
		a.SetWriteDeadline(time.Now().Add(time.Second))
		write(t, a, []byte("x"))
		time.Sleep(time.Second)
		if _, err := a.WriteTo([]byte("x"), a.RemoteAddr()); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WriteTo after its deadline = %v", err)
		}
	})
}

func TestMemClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: Spec{Delay: 10 * time.Millisecond}, BA: Spec{Delay: 10 * time.Millisecond}})
		errc := make(chan error)
		go func() {
			_, _, err := b.ReadFrom(make([]byte, 10))
			errc <- err
		}()
		time.Sleep(time.Second)
		// Sent to b just before it closes: discarded in flight.
		write(t, a, []byte("lost"))
		start := time.Now()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked ReadFrom = %v, want net.ErrClosed", err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("Close took %v to unblock the reader", time.Since(start))
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		if _, _, err := b.ReadFrom(nil); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadFrom after Close = %v", err)
		}
		if _, err := b.WriteTo([]byte("x"), b.RemoteAddr()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("WriteTo after Close = %v", err)
		}
		if err := b.SetDeadline(time.Now()); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("SetDeadline after Close = %v", err)
		}
		// Writing to a closed peer succeeds, as UDP does, and is counted.
		write(t, a, []byte("to nobody"))
		time.Sleep(time.Second)
		if st := a.Stats(); st.Delivered != 2 || st.ClosedDrops != 2 || st.InboxDrops != 0 {
			t.Fatalf("stats %+v, want 2 delivered and 2 drops at a closed end (none for a full inbox)", st)
		}
	})
}

func TestMemInFlightFromClosedEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: Spec{Delay: 10 * time.Millisecond}})
		write(t, a, []byte("after close"))
		a.Close()
		if got := read(t, b); string(got) != "after close" {
			t.Fatalf("got %q", got)
		}
	})
}

// TestMemMatchesModel checks the pair against its model: the A->B model
// is NewModel(cfg.AB, cfg.Seed), so planning the same sends predicts every
// arrival, its virtual time, its order among equal times, and its bits.
func TestMemMatchesModel(t *testing.T) {
	const seed, count = 41, 1000
	spec := Spec{Delay: 30 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.05, Reorder: 0.05,
		Duplicate: 0.1, Corrupt: 0.1, Rate: 1_500_000, Queue: 3000}
	type want struct {
		at   time.Duration
		seq  int
		data string
	}
	var wants []want
	m := NewModel(spec, seed)
	seq := 0
	for i := range count {
		p := fmt.Appendf(nil, "%04d%0100d", i, 0) // 104 B every 0.5 ms, 1.7 Mbit/s: over the rate
		f := m.Plan(len(p), t0.Add(time.Duration(i)*500*time.Microsecond))
		if f.Corrupt {
			p[f.Bit/8] ^= 1 << (f.Bit % 8)
		}
		for _, at := range f.At[:f.Copies] {
			wants = append(wants, want{at.Sub(t0), seq, string(p)})
			seq++
		}
	}
	slices.SortFunc(wants, func(x, y want) int {
		if x.at != y.at {
			return int(x.at - y.at)
		}
		return x.seq - y.seq
	})

	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: spec, Seed: seed})
		start := time.Now()
		go func() {
			for i := range count {
				a.WriteTo(fmt.Appendf(nil, "%04d%0100d", i, 0), a.RemoteAddr())
				time.Sleep(500 * time.Microsecond)
			}
		}()
		for i, w := range wants {
			got := read(t, b)
			if d := time.Since(start); d != w.at || string(got) != w.data {
				t.Fatalf("seed %d: arrival %d: %q at %v, want %q at %v", seed, i, got[:4], d, w.data[:4], w.at)
			}
		}
		st := a.Stats()
		t.Logf("seed %d: %d arrivals as planned; %+v", seed, len(wants), st)
		if st.QueueDrops == 0 || st.Reordered == 0 || st.Duplicated == 0 || st.Corrupted == 0 || st.Lost == 0 {
			t.Errorf("seed %d: some impairment never happened: %+v", seed, st)
		}
	})
}

// arrival is one datagram as the receiver saw it.
type arrival struct {
	at   time.Duration
	data string
}

// traffic sends 2000 numbered datagrams from a, 1 ms apart, over an
// impaired link, and returns what b received and when.
func traffic(t *testing.T, seed uint64) (got []arrival) {
	synctest.Test(t, func(t *testing.T) {
		spec := Spec{Delay: 40 * time.Millisecond, Jitter: 10 * time.Millisecond, GE: Burst(0.05, 3),
			Reorder: 0.05, Duplicate: 0.05, Corrupt: 0.05, Rate: 10_000_000, Queue: 20_000}
		a, b := pair(t, MemConfig{AB: spec, BA: spec, Seed: seed})
		start := time.Now()
		go func() {
			for i := range 2000 {
				a.WriteTo(fmt.Appendf(nil, "datagram %d %0*d", i, i%1000, 0), a.RemoteAddr())
				time.Sleep(time.Millisecond)
			}
		}()
		b.SetReadDeadline(start.Add(10 * time.Second))
		buf := make([]byte, 2000)
		for {
			n, _, err := b.ReadFrom(buf)
			if err != nil {
				break
			}
			got = append(got, arrival{time.Since(start), string(buf[:n])})
		}
	})
	return got
}

func TestMemDeterminism(t *testing.T) {
	x, y, z := traffic(t, 21), traffic(t, 21), traffic(t, 22)
	if len(x) < 1500 {
		t.Fatalf("seed 21: only %d of 2000 datagrams arrived", len(x))
	}
	if !slices.Equal(x, y) {
		for i := range min(len(x), len(y)) {
			if x[i] != y[i] {
				t.Fatalf("seed 21: arrival %d: %v, then %v", i, x[i], y[i])
			}
		}
		t.Fatalf("seed 21: %d arrivals, then %d", len(x), len(y))
	}
	if slices.Equal(x, z) {
		t.Fatal("seeds 21 and 22 gave the same arrivals")
	}
	t.Logf("seed 21: %d arrivals of 2000 datagrams, last at %v", len(x), x[len(x)-1].at)
}

// TestMemConcurrent hammers both ends from several goroutines in real time,
// for the race detector: writers, readers, Stats, SetSpec and deadlines at
// once, then Close while readers block.
func TestMemConcurrent(t *testing.T) {
	spec := Spec{Delay: 200 * time.Microsecond, Jitter: 100 * time.Microsecond, Loss: 0.05, Duplicate: 0.05}
	a, b, err := MemPair(MemConfig{AB: spec, BA: spec, Seed: 31})
	if err != nil {
		t.Fatal(err)
	}
	const writers, perWriter = 3, 300
	type result struct {
		n   int
		err error
	}
	results := make(chan result, 4)
	var reads atomic.Uint64
	for _, c := range []*MemConn{a, b} {
		for range 2 {
			go func() {
				buf := make([]byte, 64)
				n := 0
				for {
					m, _, err := c.ReadFrom(buf)
					if err != nil {
						if errors.Is(err, os.ErrDeadlineExceeded) {
							continue // a SetReadDeadline below
						}
						results <- result{n, err}
						return
					}
					if m != 8 || string(buf[:4]) != "ping" {
						results <- result{n, fmt.Errorf("seed 31: damaged datagram %q", buf[:m])}
						return
					}
					n++
					reads.Add(1)
				}
			}()
		}
	}
	done := make(chan struct{})
	for _, c := range []*MemConn{a, b} {
		for w := range writers {
			go func() {
				defer func() { done <- struct{}{} }()
				msg := []byte("ping0000")
				for i := range perWriter {
					msg[4], msg[5] = byte(w), byte(i)
					c.WriteTo(msg, c.RemoteAddr())
					if i%50 == 0 {
						c.Stats()
						c.SetSpec(spec)
						c.SetReadDeadline(time.Now().Add(time.Millisecond))
						c.SetReadDeadline(time.Time{})
					}
				}
			}()
		}
	}
	for range 2 * writers {
		<-done
	}
	// Let the datagrams in flight land (200-300 µs of delay), so that the
	// readers have run against the timers, then close while they block.
	// The wait is bounded and asserts nothing about time.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if st := a.Stats(); a.inboxLen() == 0 && b.inboxLen() == 0 && st.Delivered > 0 && reads.Load() >= (st.Delivered+b.Stats().Delivered)/2 {
			break
		}
	}
	a.Close()
	b.Close()
	total := 0
	for range 4 {
		r := <-results
		if !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("reader ended with %v, want net.ErrClosed", r.err)
		}
		total += r.n
	}
	sa, sb := a.Stats(), b.Stats()
	for _, st := range []Stats{sa, sb} {
		if st.Packets != writers*perWriter {
			t.Errorf("seed 31: %d packets, want %d", st.Packets, writers*perWriter)
		}
	}
	if delivered := sa.Delivered + sb.Delivered; uint64(total) > delivered || total == 0 {
		t.Errorf("seed 31: read %d datagrams of the %d delivered", total, delivered)
	}
	t.Logf("read %d datagrams of %d delivered, %d sent", total, sa.Delivered+sb.Delivered, 2*writers*perWriter)
}
