package linkemu

import (
	"net"
	"testing"
	"time"
)

// BenchmarkLinkUDP is the cost of one 1400-byte datagram from A to B
// through a perfect TUN link, written and read by one goroutine: the
// emulator's read, model, timer and write, and the kernels' work on both
// sides. Allocations are the process's, the emulator's pumps included,
// and should be 0 per datagram.
func BenchmarkLinkUDP(b *testing.B) {
	if err := Probe(); err != nil {
		b.Skipf("skipping: %v", err)
	}
	l, err := NewLink(LinkConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	x, y := udpOn(b, l, 'A'), udpOn(b, l, 'B')
	to := y.LocalAddr().(*net.UDPAddr).AddrPort()
	msg, buf := make([]byte, 1400), make([]byte, 2048)
	y.SetReadDeadline(time.Now().Add(time.Hour))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.WriteToUDPAddrPort(msg, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := y.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
	st := l.Stats()
	b.ReportMetric(float64(st.EmulatorCPU.Nanoseconds())/float64(st.AB.Packets), "emu-ns/pkt")
}
