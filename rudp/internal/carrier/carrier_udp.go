package carrier

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// MaxUDPPayload is the largest UDP payload over IPv4.
const MaxUDPPayload = 65507

// SocketBuffer is the send and receive buffer a UDP carrier asks for. UDP
// has no back-pressure, so the receive buffer must hold a burst arriving
// while the reader is descheduled: 8 MiB is what quic-go's and udpbench's
// measurements here settled on (limits.md). Without privileges the kernel
// caps it at net.core.rmem_max (4 MiB on these machines).
const SocketBuffer = 8 << 20

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// UDP is a Carrier over a UDP socket, with recvmmsg and sendmmsg on Linux
// (through x/net; elsewhere one datagram per call).
type UDP struct {
	conn  *net.UDPConn
	bc    batchConn
	v6    bool // the socket is IPv6: IPv4 peers need mapped addresses
	rmsgs []ipv4.Message
	// wmu guards wmsgs, the reusable write batch.
	wmu   sync.Mutex
	wmsgs []ipv4.Message
	// Buffers are the socket buffer sizes obtained, for stats and warnings.
	RecvBuffer, SendBuffer int
}

// NewUDP wraps conn, enlarging its buffers as far as allowed.
func NewUDP(conn *net.UDPConn) *UDP {
	u := &UDP{conn: conn}
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	if la != nil && la.IP.To4() == nil {
		u.v6 = true
		u.bc = ipv6.NewPacketConn(conn)
	} else {
		u.bc = ipv4.NewPacketConn(conn)
	}
	u.RecvBuffer, u.SendBuffer = setBuffers(conn, SocketBuffer)
	return u
}

// Recv implements Carrier.
func (u *UDP) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	if len(u.rmsgs) < len(bufs) {
		u.rmsgs = make([]ipv4.Message, len(bufs))
		for i := range u.rmsgs {
			u.rmsgs[i].Buffers = make([][]byte, 1)
		}
	}
	ms := u.rmsgs[:len(bufs)]
	for i := range ms {
		ms[i].Buffers[0] = bufs[i]
		ms[i].N, ms[i].Addr = 0, nil
	}
	n, err := u.bc.ReadBatch(ms, 0)
	if err != nil {
		return 0, err
	}
	for i := range n {
		sizes[i] = ms[i].N
		addrs[i] = AddrPort(ms[i].Addr)
	}
	return n, nil
}

// Send implements Carrier.
func (u *UDP) Send(bufs [][]byte, addr netip.AddrPort) error {
	if u.v6 && addr.Addr().Is4() {
		addr = netip.AddrPortFrom(netip.AddrFrom16(addr.Addr().As16()), addr.Port())
	}
	to := net.UDPAddrFromAddrPort(addr)
	u.wmu.Lock()
	defer u.wmu.Unlock()
	if len(u.wmsgs) < len(bufs) {
		u.wmsgs = make([]ipv4.Message, len(bufs))
		for i := range u.wmsgs {
			u.wmsgs[i].Buffers = make([][]byte, 1)
		}
	}
	ms := u.wmsgs[:len(bufs)]
	for i := range ms {
		ms[i].Buffers[0], ms[i].Addr = bufs[i], to
	}
	var first error
	for len(ms) > 0 {
		n, err := u.bc.WriteBatch(ms, 0)
		n = max(n, 0) // x/net reports -1 when the first datagram fails
		if err != nil {
			// The datagram after the n sent was refused (ENOBUFS,
			// EMSGSIZE...): drop it and go on with the rest; loss
			// recovery resends.
			if first == nil {
				first = err
			}
			n++
		}
		ms = ms[min(n, len(ms)):]
	}
	return first
}

// MaxDatagram implements Carrier.
func (u *UDP) MaxDatagram() int { return MaxUDPPayload }

// Reliable implements Carrier.
func (u *UDP) Reliable() bool { return false }

// LocalAddr implements Carrier.
func (u *UDP) LocalAddr() net.Addr { return u.conn.LocalAddr() }

// Close implements Carrier.
func (u *UDP) Close() error { return u.conn.Close() }
