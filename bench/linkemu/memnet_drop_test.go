package linkemu

import (
	"bytes"
	"errors"
	"math/bits"
	"net"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// Tests of what the pair drops, refuses or changes: a full inbox, the MTU,
// short buffers, wrong addresses, a blackhole, corruption.

func TestMemAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{})
		for _, c := range []struct {
			got  net.Addr
			want string
		}{{a.LocalAddr(), "10.99.0.1:4000"}, {a.RemoteAddr(), "10.99.0.2:4000"},
			{b.LocalAddr(), "10.99.0.2:4000"}, {b.RemoteAddr(), "10.99.0.1:4000"}} {
			if ua, ok := c.got.(*net.UDPAddr); !ok || ua.String() != c.want {
				t.Errorf("address %#v, want *net.UDPAddr %s", c.got, c.want)
			}
		}
	})
}

func TestMemInbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: Spec{Delay: time.Millisecond}, Inbox: 8})
		for i := range 20 {
			write(t, a, []byte{byte(i)})
		}
		time.Sleep(time.Second)
		for i := range 8 {
			if got := read(t, b); got[0] != byte(i) {
				t.Fatalf("read %d, want %d", got[0], i)
			}
		}
		if st := a.Stats(); st.InboxDrops != 12 || st.Delivered != 20 {
			t.Fatalf("stats %+v, want 12 inbox drops of 20 delivered", st)
		}
		// Room again.
		write(t, a, []byte{99})
		if got := read(t, b); got[0] != 99 {
			t.Fatalf("read %d", got[0])
		}
	})
}

func TestMemMTU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{MTU: 1000})
		write(t, a, make([]byte, 1001)) // silently dropped
		write(t, a, make([]byte, 1000))
		if got := read(t, b); len(got) != 1000 {
			t.Fatalf("read %d bytes, want 1000", len(got))
		}
		if st := a.Stats(); st.MTUDrops != 1 || st.Packets != 1 {
			t.Fatalf("stats %+v, want 1 MTU drop and 1 packet", st)
		}
		// The default MTU.
		a2, b2 := pair(t, MemConfig{})
		write(t, a2, make([]byte, DefaultMTU+1))
		write(t, a2, make([]byte, DefaultMTU))
		if got := read(t, b2); len(got) != DefaultMTU {
			t.Fatalf("read %d bytes, want %d", len(got), DefaultMTU)
		}
	})
}

func TestMemTruncate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{})
		write(t, a, []byte("0123456789"))
		buf := make([]byte, 4)
		if n, _, err := b.ReadFrom(buf); n != 4 || err != nil || string(buf) != "0123" {
			t.Fatalf("ReadFrom = %d, %v, %q", n, err, buf)
		}
	})
}

func TestMemAddressCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{})
		ok := []net.Addr{
			a.RemoteAddr(),
			net.UDPAddrFromAddrPort(addrB),
			&net.UDPAddr{IP: net.ParseIP("::ffff:10.99.0.2"), Port: 4000},
			stringAddr("10.99.0.2:4000"),
		}
		for _, addr := range ok {
			if _, err := a.WriteTo([]byte("x"), addr); err != nil {
				t.Errorf("WriteTo(%v) = %v", addr, err)
			}
		}
		bad := []net.Addr{nil, (*net.UDPAddr)(nil), a.LocalAddr(),
			&net.UDPAddr{IP: net.ParseIP("10.99.0.2"), Port: 4001}, stringAddr("nonsense")}
		for _, addr := range bad {
			if _, err := a.WriteTo([]byte("x"), addr); err == nil {
				t.Errorf("WriteTo(%v) succeeded", addr)
			}
		}
		for range ok {
			read(t, b)
		}
		if st := a.Stats(); st.Packets != uint64(len(ok)) {
			t.Errorf("%d packets sent, want %d", st.Packets, len(ok))
		}
	})
}

// stringAddr is a net.Addr of another type than *net.UDPAddr.
type stringAddr string

func (s stringAddr) Network() string { return "udp" }
func (s stringAddr) String() string  { return string(s) }

func TestMemBlackhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		normal := Spec{Delay: 20 * time.Millisecond}
		a, b := pair(t, MemConfig{AB: normal})
		write(t, a, []byte("before"))
		a.SetSpec(Spec{Loss: 1})
		write(t, a, []byte("during"))
		write(t, a, []byte("during"))
		if got := read(t, b); string(got) != "before" {
			t.Fatalf("got %q", got)
		}
		b.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := b.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom during the blackhole = %v", err)
		}
		a.SetSpec(normal)
		b.SetReadDeadline(time.Time{})
		write(t, a, []byte("after"))
		if got := read(t, b); string(got) != "after" {
			t.Fatalf("got %q", got)
		}
		if st := a.Stats(); st.Lost != 2 || st.Delivered != 2 {
			t.Fatalf("stats %+v, want 2 lost and 2 delivered", st)
		}
		defer func() {
			if recover() == nil {
				t.Fatal("SetSpec of an invalid spec did not panic")
			}
		}()
		a.SetSpec(Spec{Jitter: time.Second})
	})
}

func TestMemCorrupt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, MemConfig{AB: Spec{Corrupt: 1, Duplicate: 1}, Seed: 11})
		sent := bytes.Repeat([]byte{0x5a}, 100)
		orig := slices.Clone(sent)
		for range 50 {
			write(t, a, sent)
			if !bytes.Equal(sent, orig) {
				t.Fatal("WriteTo changed the caller's buffer")
			}
			first, second := read(t, b), read(t, b)
			if !bytes.Equal(first, second) {
				t.Fatal("the two copies of a corrupted duplicate differ")
			}
			if d := bitDiff(first, sent); d != 1 {
				t.Fatalf("seed 11: %d bits differ, want 1", d)
			}
		}
	})
}

func bitDiff(x, y []byte) int {
	d := 0
	for i := range x {
		d += bits.OnesCount8(x[i] ^ y[i])
	}
	return d
}
