// Package carrier moves batches of datagrams to and from peers. A Carrier
// may be a UDP socket, a TCP connection, a relay client or an in-memory test
// link; the engine sees only this interface, which is batched from the
// start because on these machines a syscall costs ten times the crypto of a
// packet (see limits.md: 9 µs per datagram with WriteTo/ReadFrom, 3.6 µs
// with WriteBatch/ReadBatch). On Linux the UDP carrier goes further with
// the kernel's UDP offloads, GSO on send and GRO on receive (1.7 µs and
// 0.4 µs per datagram there), behind the same interface: the engine still
// sends a batch of datagrams to one address and receives one datagram per
// buffer.
package carrier

import (
	"net"
	"net/netip"
)

// A Carrier moves datagrams. Recv is called by one reader goroutine; Send
// may be called by several goroutines at once.
type Carrier interface {
	// Recv blocks until at least one datagram arrives, then fills bufs[i]
	// with datagram i, sizes[i] with its length and addrs[i] with its
	// source, and returns how many it filled. It returns net.ErrClosed
	// after Close.
	Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (n int, err error)
	// Send sends every buffer as one datagram to addr. It does not block
	// for long: a datagram the carrier cannot take is dropped (and an
	// error reported), since recovering from loss is the engine's job.
	Send(bufs [][]byte, addr netip.AddrPort) error
	// MaxDatagram is the largest datagram the carrier carries.
	MaxDatagram() int
	// Reliable reports whether the carrier itself never loses or reorders
	// (TCP, relays): then the engine needs no FEC on it.
	Reliable() bool
	// LocalAddr is the carrier's own address.
	LocalAddr() net.Addr
	// Close stops the carrier; a blocked Recv returns net.ErrClosed.
	Close() error
}

// AddrPort converts a net.Addr of the UDP kind to a netip.AddrPort, with
// IPv4-mapped IPv6 addresses turned back into IPv4 ones, so that one peer
// has one address however it reached a dual-stack socket.
func AddrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
