package handshake

import (
	"fmt"
	"testing"
	"time"
)

// Run with: go test -run '^$' -bench . -benchmem -cpu 1 ./handshake
// (-cpu 1 makes "per second" mean per core).

// BenchmarkHandshake is one whole handshake, both sides, in one goroutine.
func BenchmarkHandshake(b *testing.B) {
	p := newTestPair(b, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = 1e12 })
	now := t0
	for b.Loop() {
		now = now.Add(time.Microsecond)
		p.ini.done = false
		p.run(b, now)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkResponder is the responder's share only: reading an initiation
// and answering it, which is what bounds how many handshakes a server
// completes per core.
func BenchmarkResponder(b *testing.B) {
	res, err := NewResponder(ResponderConfig{Identity: newTestIdentity(b, 2), HandshakeRate: 1e12})
	if err != nil {
		b.Fatal(err)
	}
	// Initiations cannot be replayed, so each iteration needs its own;
	// a pool of initiators makes them ahead of time.
	const pool = 512
	var msgs [][]byte
	now := t0
	for i := range pool {
		ini, err := NewInitiator(InitiatorConfig{Identity: newTestIdentity(b, uint64(1000+i)), Peer: res.cfg.Identity.Card()})
		if err != nil {
			b.Fatal(err)
		}
		m, _ := ini.Initiation(now)
		msgs = append(msgs, m)
	}
	i := 0
	for b.Loop() {
		if i == pool {
			b.StopTimer()
			res.lastStamp = map[[32]byte]*stamps{} // a fresh table lets the pool be reused
			i = 0
			b.StartTimer()
		}
		got, _, err := res.ConsumeInitiation(msgs[i], srcA, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := got.Respond(uint64(i), now); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkCookieReply is what a flood costs a responder under load: mac1,
// and a cookie reply instead of any Diffie-Hellman.
func BenchmarkCookieReply(b *testing.B) {
	p := newTestPair(b, func(_ *InitiatorConfig, rc *ResponderConfig) { rc.HandshakeRate = -1 })
	msg1, _ := p.ini.Initiation(t0)
	for b.Loop() {
		if _, reply, _ := p.res.ConsumeInitiation(msg1, srcA, t0); reply == nil {
			b.Fatal("no cookie reply")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "replies/s")
}

func BenchmarkSeal(b *testing.B) {
	for _, suite := range []Suite{AES128GCM, ChaCha20Poly1305} {
		for _, size := range []int{1200, 1400} {
			b.Run(fmt.Sprintf("%v/%d", suite, size), func(b *testing.B) {
				s, _ := newSessionPair(suite)
				msg := make([]byte, size)
				buf := make([]byte, 0, size+TagSize)
				hdr := make([]byte, 16)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				pn := uint64(0)
				for b.Loop() {
					pn++
					s.Send.Seal(buf[:0], msg, pn, hdr)
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, suite := range []Suite{AES128GCM, ChaCha20Poly1305} {
		for _, size := range []int{1200, 1400} {
			b.Run(fmt.Sprintf("%v/%d", suite, size), func(b *testing.B) {
				a, r := newSessionPair(suite)
				hdr := make([]byte, 16)
				ct := a.Send.Seal(nil, make([]byte, size), 1, hdr)
				buf := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				pn := uint64(1)
				for b.Loop() {
					// Opening one packet again and again would hit the
					// replay window; forget its bit instead, so each
					// iteration does the full check, AEAD and mark.
					r.Recv.window.ring[0] = 0
					if _, err := r.Recv.Open(buf[:0], ct, pn, 0, hdr, t0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
