package rudp

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

// scenario is one row of the two-node tests: a link, both directions.
type scenario struct {
	name   string
	spec   linkemu.Spec // both directions
	mtu    int
	cfg    Config
	scale  int // divides the amounts moved; 1 = the full amounts
	stream int // bytes over streams in all
}

// The rows the engine must survive. Delays are one-way: 10 ms gives a
// 20 ms RTT.
var scenarios = []scenario{
	{name: "clean", spec: linkemu.Spec{Delay: 10 * time.Millisecond}},
	{name: "loss 1%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Loss: 0.01}},
	{name: "loss 5%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Loss: 0.05}},
	{name: "loss 20%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Loss: 0.20}},
	{name: "loss 50%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Loss: 0.50}},
	{name: "bursts of 10", spec: linkemu.Spec{Delay: 10 * time.Millisecond, GE: linkemu.Burst(0.03, 10)}},
	{name: "reorder 30%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, Reorder: 0.30}},
	{name: "duplicate 10%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Duplicate: 0.10}},
	{name: "CUBIC, loss 5%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Loss: 0.05}, cfg: Config{CongestionControl: "cubic"}},
	{name: "corrupt 1%", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Corrupt: 0.01}},
	{name: "RTT 300ms", spec: linkemu.Spec{Delay: 150 * time.Millisecond}},
	{name: "1 Mbit/s", spec: linkemu.Spec{Delay: 10 * time.Millisecond, Rate: 1_000_000}},
	{name: "MTU 1200", spec: linkemu.Spec{Delay: 10 * time.Millisecond}, mtu: 1200},
}

// workload is what one scenario moves from the dialer to the listener:
// several concurrent streams, 10 MB in all; 10,000 messages of 1 byte to
// 4 KiB; 20 of up to 1 MiB.
type workload struct {
	streams  [][32]byte // SHA-256 of each stream's bytes
	sizes    []int      // per stream
	messages map[[32]byte]int
	msgList  [][]byte
}

func newWorkload(seed uint64, streamBytes, small, large int) *workload {
	r := rand.New(rand.NewPCG(seed, 17))
	w := &workload{messages: map[[32]byte]int{}}
	const nStreams = 5
	for i := range nStreams {
		w.sizes = append(w.sizes, streamBytes/nStreams)
		w.streams = append(w.streams, sha256.Sum256(streamData(seed, i, streamBytes/nStreams)))
	}
	add := func(size int) {
		m := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(len(w.msgList)), byte(len(w.msgList) >> 8), byte(seed)}).Read(m)
		w.msgList = append(w.msgList, m)
		w.messages[sha256.Sum256(m)]++
	}
	for range small {
		add(1 + r.IntN(4096))
	}
	for range large {
		add(1 + r.IntN(1<<20))
	}
	return w
}

func streamData(seed uint64, i, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{0xee, byte(i), byte(seed)}).Read(b)
	return b
}

// runScenario moves the workload over the scenario's link, inside a
// synctest bubble (virtual time), and checks every byte and message.
func runScenario(t *testing.T, sc scenario, w *workload, seed uint64) {
	synctest.Test(t, func(t *testing.T) {
		la, lb, err := linkemu.MemPair(linkemu.MemConfig{AB: sc.spec, BA: sc.spec, Seed: seed, MTU: sc.mtu})
		if err != nil {
			t.Fatal(err)
		}
		cfg := sc.cfg
		if cfg.IdleTimeout == 0 {
			// Half the packets lost each way can silence a path for
			// seconds; the rows test recovery, not the idle timeout.
			cfg.IdleTimeout = time.Minute
		}
		if cfg.HandshakeTimeout == 0 {
			// At 50 % loss each way a handshake attempt succeeds one
			// time in four: allow enough retries (as a user of such a
			// link would); five minutes is sixty attempts.
			cfg.HandshakeTimeout = 5 * time.Minute
		}
		ea, err := NewEndpoint(la, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ea.Close()
		eb, err := NewEndpoint(lb, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer eb.Close()
		ctx := context.Background()
		start := time.Now()

		// The listener: read every stream and every message.
		var wg sync.WaitGroup
		gotStreams := make(chan [32]byte, len(w.streams))
		gotMsgs := map[[32]byte]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := eb.Accept(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			for range w.streams {
				s, err := c.AcceptStream(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := sha256.New()
					if _, err := io.Copy(h, s); err != nil {
						t.Errorf("stream %d: %v", s.ID(), err)
					}
					var sum [32]byte
					h.Sum(sum[:0])
					gotStreams <- sum
					s.Close()
				}()
			}
			for range w.msgList {
				m, err := c.ReceiveMessage(ctx)
				if err != nil {
					t.Errorf("after %d messages: %v", len(gotMsgs), err)
					return
				}
				gotMsgs[sha256.Sum256(m)]++
			}
		}()

		c, err := ea.Dial(ctx, lb.LocalAddr().String(), eb.Identity().Card())
		if err != nil {
			t.Fatal(err)
		}
		var senders sync.WaitGroup
		for i := range w.streams {
			s, err := c.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			senders.Add(1)
			go func() {
				defer senders.Done()
				if _, err := s.Write(streamData(seed, i, w.sizes[i])); err != nil {
					t.Errorf("stream %d write: %v", i, err)
				}
				s.CloseWrite()
			}()
		}
		// Messages from 32 senders at once: SendMessage waits for the
		// acknowledgment, so that is 32 in flight.
		next := make(chan []byte)
		for range 32 {
			senders.Add(1)
			go func() {
				defer senders.Done()
				for m := range next {
					if err := c.SendMessage(ctx, m); err != nil {
						t.Errorf("message of %d bytes: %v", len(m), err)
					}
				}
			}()
		}
		for _, m := range w.msgList {
			next <- m
		}
		close(next)
		senders.Wait()
		wg.Wait()
		close(gotStreams)

		// Each stream sent must arrive once: its data is its own (the
		// seed and its index), so a stream delivered twice or another's
		// bytes show as a missing or surplus hash.
		want := map[[32]byte]int{}
		for _, h := range w.streams {
			want[h]++
		}
		n := 0
		for h := range gotStreams {
			if want[h] == 0 {
				t.Errorf("a stream arrived damaged, reordered or twice")
			}
			want[h]--
			n++
		}
		if n != len(w.streams) {
			t.Errorf("%d of %d streams arrived", n, len(w.streams))
		}
		for h, count := range w.messages {
			if gotMsgs[h] != count {
				t.Fatalf("a message was delivered %d times, sent %d times", gotMsgs[h], count)
			}
		}
		if len(gotMsgs) != len(w.messages) {
			t.Fatalf("%d distinct messages arrived, %d were sent", len(gotMsgs), len(w.messages))
		}
		st := c.Stats()
		elapsed := time.Since(start)
		total := 0
		for _, s := range w.sizes {
			total += s
		}
		for _, m := range w.msgList {
			total += len(m)
		}
		t.Logf("%s: %.1f MB in %v virtual (%.2f Mbit/s); sent %d packets, lost %d, resent %d bytes, %d requests, %d PTOs, RTT %v",
			sc.name, float64(total)/1e6, elapsed.Round(time.Millisecond), float64(total)*8/elapsed.Seconds()/1e6,
			st.PacketsSent, st.PacketsLost, st.Retransmitted, st.RequestsReceived, st.ProbeTimeouts, st.SmoothedRTT)
		if err := c.Close(); err != nil {
			t.Errorf("graceful close: %v", err)
		}
	})
}

// TestScenarios is the engine's main test: every row moves the full
// workload and checks it.
func TestScenarios(t *testing.T) {
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			seed := uint64(100 + i)
			w := newWorkload(seed, 10_000_000, 10_000, 20)
			runScenario(t, sc, w, seed)
		})
	}
}
