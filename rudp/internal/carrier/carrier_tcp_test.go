package carrier

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func listenTCP(t *testing.T) *TCP {
	t.Helper()
	c, err := ListenTCP("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tcpAddr(c *TCP) netip.AddrPort { return AddrPort(c.LocalAddr()) }

// recvTCP receives want datagrams (failing after 10 s).
func recvTCP(t *testing.T, c *TCP, want, bufSize int) (got [][]byte, from []netip.AddrPort) {
	t.Helper()
	type batch struct {
		got  [][]byte
		from []netip.AddrPort
		err  error
	}
	done := make(chan batch, 1)
	go func() {
		var b batch
		bufs := make([][]byte, 8)
		for i := range bufs {
			bufs[i] = make([]byte, bufSize)
		}
		sizes, addrs := make([]int, 8), make([]netip.AddrPort, 8)
		for len(b.got) < want {
			n, err := c.Recv(bufs, sizes, addrs)
			if err != nil {
				b.err = err
				break
			}
			for i := range n {
				b.got = append(b.got, bytes.Clone(bufs[i][:sizes[i]]))
				b.from = append(b.from, addrs[i])
			}
		}
		done <- b
	}()
	select {
	case b := <-done:
		if b.err != nil {
			t.Fatalf("Recv after %d datagrams: %v", len(b.got), b.err)
		}
		return b.got, b.from
	case <-time.After(10 * time.Second):
		t.Fatalf("fewer than %d datagrams in 10 s", want)
		return nil, nil
	}
}

// TestTCPCarrier: datagrams of every size from 1 byte to the largest
// cross a TCP connection intact and in order, both ways; the listener
// sees them from the dialer's address and answers there, over the same
// connection.
func TestTCPCarrier(t *testing.T) {
	a := listenTCP(t)
	b := DialTCP()
	t.Cleanup(func() { b.Close() })
	var sent [][]byte
	for _, n := range []int{1, 2, 100, 1200, 1472, 9000, MaxTCPDatagram} {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(i*7 + n)
		}
		sent = append(sent, d)
	}
	if err := b.Send(sent, tcpAddr(a)); err != nil {
		t.Fatal(err)
	}
	got, from := recvTCP(t, a, len(sent), MaxTCPDatagram)
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("datagram %d: %d bytes arrived, %d sent, or different", i, len(got[i]), len(sent[i]))
		}
	}
	// The reply goes back on the dialer's connection: b accepts none.
	if err := a.Send([][]byte{[]byte("reply")}, from[0]); err != nil {
		t.Fatal(err)
	}
	got, from = recvTCP(t, b, 1, 2048)
	if string(got[0]) != "reply" || from[0] != tcpAddr(a) {
		t.Fatalf("reply %q from %v, want \"reply\" from %v", got[0], from[0], tcpAddr(a))
	}
	if st := a.Stats(); st.Links != 1 || !st.Accepted || b.Stats().Accepted {
		t.Errorf("stats %+v / %+v", st, b.Stats())
	}
	if !a.Reliable() || a.MaxDatagram() != MaxTCPDatagram {
		t.Error("a TCP carrier is reliable and carries 65535-byte datagrams")
	}
}

// TestTCPCarrierDropsWhatDoesNotFit: empty and oversized datagrams are not
// sent, and one longer than the receive buffer is dropped, not cut short;
// the next still arrives.
func TestTCPCarrierDropsWhatDoesNotFit(t *testing.T) {
	a := listenTCP(t)
	b := DialTCP()
	t.Cleanup(func() { b.Close() })
	b.Send([][]byte{{}, make([]byte, MaxTCPDatagram+1)}, tcpAddr(a))
	if b.Stats().Dropped != 2 {
		t.Fatalf("dropped %d, want the empty and the oversized datagram", b.Stats().Dropped)
	}
	if err := b.Send([][]byte{make([]byte, 3000), []byte("fits")}, tcpAddr(a)); err != nil {
		t.Fatal(err)
	}
	got, _ := recvTCP(t, a, 1, 2048)
	if string(got[0]) != "fits" || a.Stats().TooLong != 1 {
		t.Fatalf("got %q, %d too long", got[0], a.Stats().TooLong)
	}
}

// TestTCPCarrierClosesBadStreams: a connection whose stream is not our
// framing (a zero length) is closed; the listener goes on serving others.
func TestTCPCarrierClosesBadStreams(t *testing.T) {
	a := listenTCP(t)
	raw, err := net.Dial("tcp", a.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.Write([]byte{0, 0, 'x'})
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := raw.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("after a zero-length frame: read %v, want the connection closed", err)
	}
	// A well-framed raw client still gets through.
	good, err := net.Dial("tcp", a.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	good.Write(binary.BigEndian.AppendUint16(nil, 2))
	good.Write([]byte("ok"))
	got, _ := recvTCP(t, a, 1, 2048)
	if string(got[0]) != "ok" {
		t.Fatalf("got %q", got[0])
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// TestTCPCarrierQueueFull: a peer that stops reading fills the kernel's
// buffers, then the connection's queue; Send then drops and says so
// instead of blocking.
func TestTCPCarrierQueueFull(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			<-stop // never reads
			c.Close()
		}
	}()
	b := DialTCP()
	defer b.Close()
	to := AddrPort(ln.Addr())
	d := make([]byte, 1400)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := b.Send([][]byte{d, d, d, d, d, d, d, d}, to)
		if errors.Is(err, ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("Send never reported a full queue to a peer that does not read")
		}
	}
	if b.Stats().Dropped == 0 {
		t.Error("a full queue dropped nothing")
	}
}

// TestTCPCarrierDialFailure: datagrams to an address nobody listens on
// are dropped; once the dial has failed, Send says so at once.
func TestTCPCarrierDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	to := AddrPort(ln.Addr())
	ln.Close()
	b := DialTCP()
	defer b.Close()
	if err := b.Send([][]byte{[]byte("lost")}, to); err != nil {
		t.Fatalf("first Send: %v (the dial happens behind it)", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().Links != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failed dial was never forgotten")
		}
		time.Sleep(time.Millisecond)
	}
	if err := b.Send([][]byte{[]byte("lost")}, to); err == nil {
		t.Error("Send right after a failed dial reported nothing")
	}
	if b.Stats().Dropped != 2 {
		t.Errorf("dropped %d, want 2", b.Stats().Dropped)
	}
}

// TestTCPCarrierClose: Close ends a blocked Recv and every connection.
func TestTCPCarrierClose(t *testing.T) {
	a := listenTCP(t)
	b := DialTCP()
	b.Send([][]byte{[]byte("x")}, tcpAddr(a))
	recvTCP(t, a, 1, 2048)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Recv([][]byte{make([]byte, 10)}, []int{0}, []netip.AddrPort{{}})
		errc <- err
	}()
	a.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	b.Close()
	if err := b.Send([][]byte{[]byte("x")}, tcpAddr(a)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// TestTCPCarrierOnBreak: when a connection the carrier dialed breaks, it
// says so with the address; a connection it accepted does not (its peer
// reconnects on its own).
func TestTCPCarrierOnBreak(t *testing.T) {
	a := listenTCP(t)
	aBroke := make(chan netip.AddrPort, 1)
	a.OnBreak(func(addr netip.AddrPort) { aBroke <- addr })
	b := DialTCP()
	defer b.Close()
	bBroke := make(chan netip.AddrPort, 1)
	b.OnBreak(func(addr netip.AddrPort) { bBroke <- addr })
	// A dialer that goes away breaks a connection a accepted: a stays
	// silent.
	c := DialTCP()
	c.Send([][]byte{[]byte("x")}, tcpAddr(a))
	recvTCP(t, a, 1, 2048)
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); a.Stats().Links != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the accepted connection did not end with its dialer")
		}
	}
	// The listener that goes away breaks the connection b dialed: b says so.
	b.Send([][]byte{[]byte("x")}, tcpAddr(a))
	recvTCP(t, a, 1, 2048)
	a.Close()
	select {
	case addr := <-bBroke:
		if addr != tcpAddr(a) {
			t.Errorf("broke: %v, want %v", addr, tcpAddr(a))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dialer was not told its connection broke")
	}
	select {
	case addr := <-aBroke:
		t.Errorf("the listener reported its accepted connection from %v", addr)
	default:
	}
}

// FuzzTCPFrames feeds arbitrary bytes to a TCP carrier as an accepted
// connection's stream: whatever arrives, the carrier delivers exactly
// the well-framed datagrams before the first bad frame, in order, never
// panics, and ends the connection at a zero length or the stream's end.
func FuzzTCPFrames(f *testing.F) {
	frame := func(d string) []byte { return append(binary.BigEndian.AppendUint16(nil, uint16(len(d))), d...) }
	f.Add(frame("hello"))
	f.Add(append(frame("a"), frame("bc")...))
	f.Add(append(frame("a"), 0, 0, 'x'))
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		// What a correct reader delivers.
		var want [][]byte
		for rest := stream; len(rest) >= 2; {
			n := int(binary.BigEndian.Uint16(rest))
			if n == 0 || len(rest) < 2+n {
				break
			}
			want = append(want, rest[2:2+n])
			rest = rest[2+n:]
		}
		c := newTCP(nil, &net.TCPAddr{})
		defer c.Close()
		ours, theirs := net.Pipe()
		l := &tcpLink{addr: netip.MustParseAddrPort("192.0.2.1:1"), accepted: true, out: make(chan *[]byte, 1), done: make(chan struct{})}
		done := make(chan struct{})
		go func() {
			c.read(l, ours)
			close(done)
		}()
		go func() {
			theirs.Write(stream)
			theirs.Close()
		}()
		bufs := [][]byte{make([]byte, MaxTCPDatagram)}
		sizes, addrs := []int{0}, []netip.AddrPort{{}}
		for i, w := range want {
			n, err := c.Recv(bufs, sizes, addrs)
			if err != nil || n != 1 || !bytes.Equal(bufs[0][:sizes[0]], w) || addrs[0] != l.addr {
				t.Fatalf("datagram %d: %q from %v (%v), want %q", i, bufs[0][:sizes[0]], addrs[0], err, w)
			}
		}
		<-done
		select {
		case d := <-c.in:
			t.Fatalf("an extra datagram of %d bytes after the well-framed ones", d.n)
		default:
		}
	})
}
