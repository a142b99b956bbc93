package rudp

import (
	"context"
	"io"
	"testing"
	"time"
)

// BenchmarkLoopbackStream moves b.N × 1 MiB through one stream over real
// loopback sockets; its MB/s is the engine's ceiling on this machine.
func BenchmarkLoopbackStream(b *testing.B) {
	l := listenLoopback(b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			got <- -1
			return
		}
		s, err := c.AcceptStream(ctx)
		if err != nil {
			got <- -1
			return
		}
		n, _ := io.Copy(io.Discard, s)
		got <- n
	}()
	c, err := Dial(ctx, "udp4", l.Addr().String(), l.Endpoint().Identity().Card(), nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	s.CloseWrite()
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	if n := <-got; n != int64(b.N)*int64(len(buf)) {
		b.Fatalf("received %d bytes, want %d", n, int64(b.N)*int64(len(buf)))
	}
	b.StopTimer()
}
