package carrier

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpSys is the Linux half of UDP. It calls sendmmsg(2) and recvmmsg(2)
// through the socket's syscall.RawConn, so that Go's poller still waits
// for readiness and honours deadlines and Close, but with message headers,
// socket addresses and control messages that live here and are reused:
// x/net's batch calls allocate a *net.UDPAddr per received datagram and do
// not expose GSO.
//
// Offloads, as negotiated by init:
//
//	GSO (UDP_SEGMENT, Linux 4.18): on if getsockopt(UDP_SEGMENT) works on
//	    the socket, unless PYDEVTS_DISABLE_GSO. Off for good after a
//	    segmented send fails with EIO or EINVAL (see send).
//	GRO (UDP_GRO, Linux 5.0): on if setsockopt(UDP_GRO, 1) works,
//	    unless PYDEVTS_DISABLE_GRO. Fixed for the socket's life.
type udpSys struct {
	rc  syscall.RawConn
	gso atomic.Bool // read by Offload from any goroutine, cleared by send
	gro bool

	wmu sync.Mutex // guards w: Send may be called by several goroutines
	w   sendState
	r   recvState // owned by the one reader goroutine
}

func (s *udpSys) init(u *UDP, opt udpOptions) {
	rc, err := u.conn.SyscallConn()
	if err != nil {
		// Only a closed conn gets here; recv and send then report
		// errClosed.
		return
	}
	s.rc = rc
	rc.Control(func(fd uintptr) {
		f := int(fd)
		// The family decides the sockaddr we send to; SO_DOMAIN is more
		// reliable than guessing from the bound address ([::] versus
		// 0.0.0.0 on a "udp" socket).
		if d, err := unix.GetsockoptInt(f, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil {
			u.v6 = d == unix.AF_INET6
		}
		// Only read UDP_SEGMENT: setting it would segment every send of
		// the socket; a control message per sendmsg sets it per message
		// (udp(7), "UDP_SEGMENT").
		if !opt.noGSO {
			if _, err := unix.GetsockoptInt(f, unix.IPPROTO_UDP, unix.UDP_SEGMENT); err == nil {
				s.gso.Store(true)
			}
		}
		if !opt.noGRO {
			s.gro = unix.SetsockoptInt(f, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
		}
		// Don't fragment: the engine's path MTU probes must be dropped
		// where a link is too small, not fragmented. PMTUDISC_PROBE sets
		// DF and ignores the kernel's own path MTU estimate (ip(7)), so
		// the engine's search decides, as quic-go does. Best effort: a
		// socket that refuses still works, it only probes less truly.
		unix.SetsockoptInt(f, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		if u.v6 {
			unix.SetsockoptInt(f, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		}
	})
	s.w.init()
	s.r.init(s.gro)
}

func (u *UDP) offload() (gso, gro bool) { return u.sys.gso.Load(), u.sys.gro }

// setBuffers asks for size-byte socket buffers. SO_RCVBUFFORCE and
// SO_SNDBUFFORCE go past net.core.rmem_max when the process has
// CAP_NET_ADMIN (as quic-go does); otherwise the plain options give what the
// limit allows. It returns what the kernel granted (Linux reports double
// the useful size, socket(7) "SO_RCVBUF"; halved here).
func setBuffers(conn *net.UDPConn, size int) (recv, send int) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, 0
	}
	rc.Control(func(fd uintptr) {
		f := int(fd)
		if unix.SetsockoptInt(f, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			unix.SetsockoptInt(f, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if unix.SetsockoptInt(f, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
			unix.SetsockoptInt(f, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
		}
		recv, _ = unix.GetsockoptInt(f, unix.SOL_SOCKET, unix.SO_RCVBUF)
		send, _ = unix.GetsockoptInt(f, unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	return recv / 2, send / 2
}

// setIovec points v at b.
func setIovec(v *unix.Iovec, b []byte) {
	if len(b) == 0 {
		v.Base = nil
		v.SetLen(0)
		return
	}
	v.Base = &b[0]
	v.SetLen(len(b))
}

// alignedBytes returns n zero bytes aligned for a unix.Cmsghdr, which is
// what control message buffers are cast to.
func alignedBytes(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)[:n]
}

// Ports in socket addresses are in network byte order (ip(7)).

func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// sysMmsg makes the system call trap (SYS_SENDMMSG or SYS_RECVMMSG) on fd
// for the messages hs, without flags.
func sysMmsg(trap uintptr, fd int, hs []unix.Mmsghdr) (int, syscall.Errno) {
	n, _, errno := unix.Syscall6(trap, uintptr(fd), uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// mmsgRetry runs call on fd and hs again while it is interrupted (EINTR).
// It reports false on EAGAIN, for RawConn.Read or Write to wait on the
// poller and call again; otherwise it stores the outcome in n and errno.
// Both the send and the receive path use it through a function value made
// once, so nothing allocates per call.
func mmsgRetry(fd int, call func(int, []unix.Mmsghdr) (int, syscall.Errno), hs []unix.Mmsghdr, n *int, errno *syscall.Errno) bool {
	for {
		k, e := call(fd, hs)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		*n, *errno = k, e
		return true
	}
}
