package carrier

import (
	"net"
	"net/netip"
)

// PacketConn is a Carrier over any net.PacketConn, one datagram per call:
// for in-memory links and platforms without batch calls.
type PacketConn struct {
	pc  net.PacketConn
	max int
}

// NewPacketConn wraps pc. maxDatagram is the largest datagram pc carries.
func NewPacketConn(pc net.PacketConn, maxDatagram int) *PacketConn {
	return &PacketConn{pc: pc, max: maxDatagram}
}

// Recv implements Carrier; it returns one datagram per call.
func (c *PacketConn) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	n, from, err := c.pc.ReadFrom(bufs[0])
	if err != nil {
		return 0, err
	}
	sizes[0], addrs[0] = n, AddrPort(from)
	return 1, nil
}

// Send implements Carrier.
func (c *PacketConn) Send(bufs [][]byte, addr netip.AddrPort) error {
	to := net.UDPAddrFromAddrPort(addr)
	var first error
	for _, b := range bufs {
		if _, err := c.pc.WriteTo(b, to); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// MaxDatagram implements Carrier.
func (c *PacketConn) MaxDatagram() int { return c.max }

// Reliable implements Carrier: a datagram link is not.
func (c *PacketConn) Reliable() bool { return false }

// LocalAddr implements Carrier.
func (c *PacketConn) LocalAddr() net.Addr { return c.pc.LocalAddr() }

// Close implements Carrier.
func (c *PacketConn) Close() error { return c.pc.Close() }
