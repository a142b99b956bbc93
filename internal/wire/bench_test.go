package wire

import (
	"testing"
	"time"
)

// benchPacket is a typical packet of a bulk transfer: the header, an ACK
// with two ranges and a STREAM frame filling 1200 bytes.
func benchPacket(b []byte, data []byte) []byte {
	b = AppendHeader(b, Header{ConnID: 0x1122334455667788, PN: 1 << 20})
	b = AppendAck(b, []AckRange{{Smallest: 900, Largest: 1000}, {Smallest: 10, Largest: 800}}, 3*time.Millisecond)
	return AppendStream(b, 4, 1<<30, data, false, false)
}

// BenchmarkPack writes a packet's header and frames into a reused buffer;
// the hot path must not allocate.
func BenchmarkPack(b *testing.B) {
	buf := make([]byte, 0, 1500)
	data := make([]byte, 1100)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = benchPacket(buf[:0], data)
	}
}

// BenchmarkUnpack parses that packet back into one reused Frame.
func BenchmarkUnpack(b *testing.B) {
	data := make([]byte, 1100)
	p := benchPacket(nil, data)
	var f Frame
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHeader(p); err != nil {
			b.Fatal(err)
		}
		rest := p[HeaderLen:]
		for len(rest) > 0 {
			n, err := ParseFrame(rest, &f)
			if err != nil {
				b.Fatal(err)
			}
			rest = rest[n:]
		}
	}
	if f.Type != FrameStream || len(f.Stream.Data) != len(data) {
		b.Fatalf("last frame %v with %d bytes", f.Type, len(f.Stream.Data))
	}
}

// TestPackUnpackDoNotAllocate holds the benchmarks' 0 allocs/op in a test,
// so a regression fails CI rather than a figure in a table.
func TestPackUnpackDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 1500)
	data := make([]byte, 1100)
	if n := testing.AllocsPerRun(100, func() { buf = benchPacket(buf[:0], data) }); n != 0 {
		t.Errorf("pack: %v allocs", n)
	}
	var f Frame
	n := testing.AllocsPerRun(100, func() {
		for rest := buf[HeaderLen:]; len(rest) > 0; {
			k, err := ParseFrame(rest, &f)
			if err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
	})
	if n != 0 {
		t.Errorf("unpack: %v allocs", n)
	}
}
