package carrier

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// groBufSize holds any message GRO hands up: a GSO message that
	// loopback passes up whole is bounded by maxGSOBytes, and a device's
	// GRO stops coalescing at gro_max_size, 65 536 bytes with headers by
	// default (skb_gro_receive, net/core/gro.c). Should an administrator
	// raise it, a longer message comes truncated (MSG_TRUNC) and fill
	// keeps its whole segments.
	groBufSize = 64 << 10
	// groBatch is how many messages one recvmmsg may return with GRO:
	// coalesced, 16 messages are up to 16 × 46 datagrams of 1 400 bytes;
	// not coalesced (mixed flows, sparse traffic), 16 is still more than
	// the 3-10 datagrams a recvmmsg typically finds here (limits.md §4).
	// It costs 1 MiB per socket.
	groBatch = 16
	// recvCtrlSpace is the control buffer per received message: the
	// UDP_GRO cmsg is an int (CMSG_SPACE(4) = 24 bytes on 64-bit), with
	// room for one more in case the socket's owner turned on another.
	recvCtrlSpace = 64
)

// recvState is the reusable recvmmsg batch, and with GRO the messages
// received but not yet handed out. Only the reader goroutine touches it.
type recvState struct {
	gro   bool
	hs    []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for sockaddr_in too
	ctrl  []byte                  // recvCtrlSpace per message, with GRO

	own  []byte               // with GRO: groBatch buffers of groBufSize
	pend [groBatch]groMessage // with GRO: pend[pi:pn] not handed out yet
	pi   int
	pn   int

	zones     map[uint32]string // IPv6 scope ID to zone, as Recv meets them
	coalesced uint64            // messages that held several datagrams, for tests

	// One call of recvmmsg through the RawConn: fn is built once so that
	// Recv does not allocate a closure; it fills hs[:cnt] and leaves the
	// result in n and errno.
	cnt   int
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// groMessage is a received message's datagrams not yet handed out.
type groMessage struct {
	data []byte // the rest of the message
	seg  int    // the datagram size; the last one may be shorter
	from netip.AddrPort
}

func (r *recvState) init(gro bool) {
	r.gro = gro
	if gro {
		r.own = make([]byte, groBatch*groBufSize)
		r.grow(groBatch)
	}
	r.fn = func(fd uintptr) bool {
		// false: EAGAIN, the poller waits until a datagram arrives.
		return mmsgRetry(int(fd), sysRecvmmsg, r.hs[:r.cnt], &r.n, &r.errno)
	}
}

// sysRecvmmsg is recvmmsg(2) with no flags: the socket is non-blocking,
// so the kernel returns what is queued after the first datagram instead
// of waiting for more.
func sysRecvmmsg(fd int, hs []unix.Mmsghdr) (int, syscall.Errno) {
	return sysMmsg(unix.SYS_RECVMMSG, fd, hs)
}

func (r *recvState) grow(n int) {
	if len(r.hs) >= n {
		return
	}
	r.hs = make([]unix.Mmsghdr, n)
	r.iovs = make([]unix.Iovec, n)
	r.names = make([]unix.RawSockaddrInet6, n)
	if r.gro {
		r.ctrl = alignedBytes(n * recvCtrlSpace)
	}
}

func (u *UDP) recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	s := &u.sys
	if s.rc == nil {
		return 0, errClosed
	}
	r := &s.r
	if !r.gro {
		return r.direct(s.rc, bufs, sizes, addrs)
	}
	for r.pi == r.pn {
		if err := r.fill(s.rc); err != nil {
			return 0, err
		}
	}
	return r.split(bufs, sizes, addrs), nil
}

// direct reads datagrams straight into the caller's buffers: without GRO
// each message is one datagram, and no copy is needed.
func (r *recvState) direct(rc syscall.RawConn, bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	r.grow(len(bufs))
	for i, b := range bufs {
		r.prep(i, b)
	}
	n, err := r.read(rc, len(bufs))
	if err != nil {
		return 0, err
	}
	for i := range n {
		sizes[i] = int(r.hs[i].Len)
		addrs[i] = r.from(&r.names[i])
	}
	return n, nil
}

// fill reads a batch of messages into the carrier's own buffers; each may
// hold several datagrams of one source, all of one size but the last,
// which the kernel states in a UDP_GRO cmsg (udp(7) "UDP_GRO").
func (r *recvState) fill(rc syscall.RawConn) error {
	for i := range groBatch {
		r.prep(i, r.own[i*groBufSize:(i+1)*groBufSize])
	}
	n, err := r.read(rc, groBatch)
	if err != nil {
		return err
	}
	r.pi, r.pn = 0, 0
	for i := range n {
		h := &r.hs[i]
		length := int(h.Len)
		seg := groSegment(r.ctrl[i*recvCtrlSpace : i*recvCtrlSpace+int(h.Hdr.Controllen)])
		if seg <= 0 {
			seg = length // one datagram
		} else if seg < length {
			r.coalesced++
		}
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 && seg < length {
			// Hand out the whole segments, not a cut one.
			if length = length / seg * seg; length == 0 {
				continue
			}
		}
		r.pend[r.pn] = groMessage{
			data: r.own[i*groBufSize : i*groBufSize+length],
			seg:  seg,
			from: r.from(&r.names[i]),
		}
		r.pn++
	}
	return nil
}

// split hands out pending datagrams, one per caller buffer (a copy each:
// tens of nanoseconds next to the microseconds of a system call).
func (r *recvState) split(bufs [][]byte, sizes []int, addrs []netip.AddrPort) int {
	k := 0
	for k < len(bufs) && r.pi < r.pn {
		m := &r.pend[r.pi]
		l := min(m.seg, len(m.data))
		sizes[k] = copy(bufs[k], m.data[:l])
		addrs[k] = m.from
		k++
		if m.data = m.data[l:]; len(m.data) == 0 {
			r.pi++ // an empty datagram is handed out once, too
		}
	}
	return k
}

// prep points message i at buffer b, and resets what the kernel
// overwrites.
func (r *recvState) prep(i int, b []byte) {
	setIovec(&r.iovs[i], b)
	h := &r.hs[i]
	h.Len = 0
	h.Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
	h.Hdr.Namelen = unix.SizeofSockaddrInet6
	h.Hdr.Iov = &r.iovs[i]
	h.Hdr.SetIovlen(1)
	h.Hdr.Flags = 0
	if r.gro {
		h.Hdr.Control = &r.ctrl[i*recvCtrlSpace]
		h.Hdr.SetControllen(recvCtrlSpace)
	} else {
		h.Hdr.Control = nil
		h.Hdr.SetControllen(0)
	}
}

// read calls recvmmsg on hs[:cnt], waiting in the poller for the first
// datagram.
func (r *recvState) read(rc syscall.RawConn, cnt int) (int, error) {
	r.cnt = cnt
	if err := rc.Read(r.fn); err != nil {
		return 0, err // closed, or the read deadline passed
	}
	if r.errno != 0 {
		return 0, os.NewSyscallError("recvmmsg", r.errno)
	}
	return r.n, nil
}

// groSegment returns the segment size in a UDP_GRO control message, or 0
// when there is none (the message is one datagram).
func groSegment(c []byte) int {
	for len(c) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(c) {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(int32(binary.NativeEndian.Uint32(c[unix.CmsgLen(0):])))
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next >= len(c) {
			return 0
		}
		c = c[next:]
	}
	return 0
}

// from decodes a source address, IPv4-mapped addresses turned into IPv4
// ones as AddrPort does.
func (r *recvState) from(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), getPort(&sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if a.Is4In6() {
			a = a.Unmap()
		} else if sa.Scope_id != 0 {
			a = a.WithZone(r.zone(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// zone returns the IPv6 zone (interface name) of a scope ID, remembered
// so that link-local peers cost one lookup.
func (r *recvState) zone(id uint32) string {
	if z, ok := r.zones[id]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(id), 10)
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		z = ifi.Name
	}
	if r.zones == nil {
		r.zones = map[uint32]string{}
	}
	r.zones[id] = z
	return z
}
