//go:build !linux

package carrier

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpSys is the portable half of UDP: x/net's batch calls (one datagram
// per system call where the system has no recvmmsg/sendmmsg) and no
// offloads.
type udpSys struct {
	bc    batchConn
	rmsgs []ipv4.Message // owned by the one reader goroutine
	// wmu guards wmsgs, the reusable write batch.
	wmu   sync.Mutex
	wmsgs []ipv4.Message
}

func (s *udpSys) init(u *UDP, _ udpOptions) {
	if u.v6 {
		s.bc = ipv6.NewPacketConn(u.conn)
	} else {
		s.bc = ipv4.NewPacketConn(u.conn)
	}
}

func (u *UDP) offload() (gso, gro bool) { return false, false }

func (u *UDP) recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	s := &u.sys
	if len(s.rmsgs) < len(bufs) {
		s.rmsgs = make([]ipv4.Message, len(bufs))
		for i := range s.rmsgs {
			s.rmsgs[i].Buffers = make([][]byte, 1)
		}
	}
	ms := s.rmsgs[:len(bufs)]
	for i := range ms {
		ms[i].Buffers[0] = bufs[i]
		ms[i].N, ms[i].Addr = 0, nil
	}
	n, err := s.bc.ReadBatch(ms, 0)
	if err != nil {
		return 0, err
	}
	for i := range n {
		sizes[i] = ms[i].N
		addrs[i] = AddrPort(ms[i].Addr)
	}
	return n, nil
}

func (u *UDP) send(bufs [][]byte, addr netip.AddrPort) error {
	return u.writeBatch(len(bufs), func(i int) ([]byte, netip.AddrPort) { return bufs[i], addr })
}

func (u *UDP) sendEach(bufs [][]byte, addrs []netip.AddrPort) error {
	return u.writeBatch(len(bufs), func(i int) ([]byte, netip.AddrPort) { return bufs[i], addrs[i] })
}

// writeBatch sends n datagrams, the i-th of which datagram(i) gives, with
// WriteBatch; a datagram refused is dropped and the rest go on.
func (u *UDP) writeBatch(n int, datagram func(i int) ([]byte, netip.AddrPort)) error {
	s := &u.sys
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if len(s.wmsgs) < n {
		s.wmsgs = make([]ipv4.Message, n)
		for i := range s.wmsgs {
			s.wmsgs[i].Buffers = make([][]byte, 1)
		}
	}
	ms := s.wmsgs[:n]
	var last netip.AddrPort
	var to *net.UDPAddr
	for i := range ms {
		b, addr := datagram(i)
		if u.v6 && addr.Addr().Is4() {
			addr = netip.AddrPortFrom(netip.AddrFrom16(addr.Addr().As16()), addr.Port())
		}
		if to == nil || addr != last {
			last, to = addr, net.UDPAddrFromAddrPort(addr)
		}
		ms[i].Buffers[0], ms[i].Addr = b, to
	}
	var first error
	for len(ms) > 0 {
		n, err := s.bc.WriteBatch(ms, 0)
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

// setBuffers asks for size-byte socket buffers; what the system grants is
// not reported here.
func setBuffers(conn *net.UDPConn, size int) (recv, send int) {
	conn.SetReadBuffer(size)
	conn.SetWriteBuffer(size)
	return 0, 0
}
