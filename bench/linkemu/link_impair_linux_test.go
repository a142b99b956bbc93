package linkemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// probePayload is probe seq's payload of size bytes: the sequence number,
// then bytes derived from it, so the receiver can tell any damage.
func probePayload(seq uint64, size int) []byte {
	p := make([]byte, 0, size+sha256.Size)
	p = binary.BigEndian.AppendUint64(p, seq)
	for len(p) < size {
		h := sha256.Sum256(p)
		p = append(p, h[:]...)
	}
	return p[:size]
}

// TestLinkCorrupt checks corruption against the kernel: a flipped bit in
// the payload with the checksum left alone makes the receiving kernel drop
// the datagram and count it in Udp InCsumErrors, so the application never
// sees damage (research/linkemu.md, pitfall 8).
func TestLinkCorrupt(t *testing.T) {
	const (
		seed   = 3
		probes = 2000
		size   = 128 // IP packet of 156 bytes
		burst  = 20  // probes per 10 ms pause: about 2000/s, 1 s
	)
	cfg := LinkConfig{AB: Spec{Corrupt: 0.05}, Seed: seed}
	l := newTestLink(t, cfg)
	a, b := udpOn(t, l, 'A'), udpOn(t, l, 'B')
	to := b.LocalAddr().(*net.UDPAddr).AddrPort()
	done := make(chan map[uint64]bool)
	go func() {
		seen := make(map[uint64]bool)
		err := readAll(b, func(p []byte) {
			seq := binary.BigEndian.Uint64(p)
			if len(p) != size || seq >= probes || !bytes.Equal(p, probePayload(seq, size)) || seen[seq] {
				t.Errorf("damaged or repeated datagram delivered: %d bytes, seq %d", len(p), seq)
				return
			}
			seen[seq] = true
		})
		if err != nil {
			t.Error(err)
		}
		done <- seen
	}()
	for i := range probes {
		if i%burst == 0 {
			// A pause after each burst, not a schedule: a sender that
			// caught up after a stall would flood the receiver.
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := a.WriteToUDPAddrPort(probePayload(uint64(i), size), to); err != nil {
			t.Fatal(err)
		}
	}
	b.SetReadDeadline(time.Now().Add(200 * time.Millisecond)) // the last ones
	seen := <-done

	m := NewModel(cfg.AB, seed)
	var corrupted int
	for i := range probes {
		f := m.Plan(20+8+size, t0)
		if f.Corrupt {
			corrupted++
		}
		if f.Corrupt == seen[uint64(i)] {
			t.Errorf("probe %d: corrupted %v by the model, delivered %v", i, f.Corrupt, seen[uint64(i)])
		}
	}
	st := l.Stats()
	t.Logf("%d probes, %d corrupted by the emulator, %d Udp InCsumErrors in B, %d delivered intact; emulator CPU %v",
		probes, st.AB.Corrupted, st.UDPInCsumErrorsB, len(seen), st.EmulatorCPU)
	if st.AB.Corrupted != uint64(corrupted) || st.UDPInCsumErrorsB != uint64(corrupted) || len(seen) != probes-corrupted {
		t.Errorf("model predicts %d corrupted; link stats %+v", corrupted, st)
	}
	within5SE(t, seed, "share of datagrams dropped for their checksum", float64(st.UDPInCsumErrorsB)/probes, 0.05, probes)
	if err := st.Check(); err != nil {
		t.Error(err)
	}
}

// TestLinkOutage blackholes A->B for 500 ms in the middle of a stream of
// probes with SetSpec, then restores it: every probe sent during the
// outage is lost, none before or after.
func TestLinkOutage(t *testing.T) {
	const (
		probes = 150
		gap    = 10 * time.Millisecond // 100 probes/s: 1.5 s
		from   = 50                    // the first probe of the outage
		to     = 100                   // the first probe after it
	)
	normal := Spec{Delay: 10 * time.Millisecond}
	l := newTestLink(t, LinkConfig{AB: normal, BA: normal, Seed: 4})
	a, b := udpOn(t, l, 'A'), udpOn(t, l, 'B')
	dst := b.LocalAddr().(*net.UDPAddr).AddrPort()
	done := make(chan map[uint64]bool)
	go func() {
		seen := make(map[uint64]bool)
		if err := readAll(b, func(p []byte) { seen[binary.BigEndian.Uint64(p)] = true }); err != nil {
			t.Error(err)
		}
		done <- seen
	}()
	start := time.Now()
	for i := range probes {
		// Switch once the emulator has read the probes before, and not
		// this one, whatever the timing.
		switch i {
		case from:
			waitPlanned(t, l, from)
			l.SetSpec(Spec{Delay: normal.Delay, Loss: 1}, normal)
		case to:
			waitPlanned(t, l, to)
			l.SetSpec(normal, normal)
		}
		sleepUntil(start.Add(time.Duration(i) * gap))
		if _, err := a.WriteToUDPAddrPort(probePayload(uint64(i), 32), dst); err != nil {
			t.Fatal(err)
		}
	}
	b.SetReadDeadline(time.Now().Add(200 * time.Millisecond)) // the last ones, 10 ms away
	seen := <-done
	for i := range probes {
		if out := i >= from && i < to; seen[uint64(i)] == out {
			t.Errorf("probe %d (outage %v): delivered %v", i, out, seen[uint64(i)])
		}
	}
	st := l.Stats()
	if st.AB.Packets != probes || st.AB.Lost != to-from {
		t.Errorf("A->B model: %+v, want %d packets, %d lost", st.AB, probes, to-from)
	}

	// An invalid Spec panics and changes neither direction.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("SetSpec with Loss 2: no panic")
			}
		}()
		l.SetSpec(Spec{Loss: 1}, Spec{Loss: 2})
	}()
	if s := l.dirs[0].model.Spec(); s.Loss != 0 {
		t.Errorf("A->B after a refused SetSpec: %+v", s)
	}
}
