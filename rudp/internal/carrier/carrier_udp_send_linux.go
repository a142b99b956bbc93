package carrier

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Limits of one GSO message (udp(7) "UDP_SEGMENT"; net/ipv4/udp.c
// udp_send_skb and net/ipv6/udp.c udp_v6_send_skb).
const (
	// maxSegments is UDP_MAX_SEGMENTS of include/linux/udp.h: 64 (1 << 6)
	// from Linux 4.18, raised to 128 in 6.11 (commit 1382e3b6a350, also
	// in the stable kernels). A message with more segments than that
	// fails with EINVAL, so 64 works on every kernel that has GSO. With
	// 1 400-byte datagrams the byte limit binds first anyway (46).
	maxSegments = 64
	// maxGSOBytes bounds the payload of one message: before it is cut, a
	// GSO message is one UDP datagram, so its length must fit the IP
	// length field; udp_sendmsg refuses more with EMSGSIZE. IPv4 allows
	// 65 507 payload bytes (65 535 - 20 - 8) and IPv6 65 527 (65 535 - 8);
	// one limit for both, because a dual-stack socket sends IPv4 too.
	maxGSOBytes = MaxUDPPayload
)

// sendCtrlSpace is the control buffer of one message: a UDP_SEGMENT
// cmsg carrying a uint16 segment size (udp_cmsg_send insists on exactly
// CMSG_LEN(2)).
var sendCtrlSpace = unix.CmsgSpace(2)

// sendState is the reusable sendmmsg batch. Message m sends buffers
// runs[m].first ... runs[m].first+runs[m].count-1, whose iovecs are
// iovs[runs[m].first:], all to the one address in sa4 or sa6.
type sendState struct {
	hs   []unix.Mmsghdr
	iovs []unix.Iovec // one per buffer, in buffer order
	runs []run        // one per message
	ctrl []byte       // sendCtrlSpace bytes per message

	sa      unix.RawSockaddrInet6 // a sockaddr_in or sockaddr_in6 (see sockaddr)
	name    *byte                 // &sa
	namelen uint32
	names   []unix.RawSockaddrInet6 // one per message, for sendEach
	zones   map[string]uint32       // IPv6 zone to scope ID, as Send meets them

	// One call of sendmmsg through the RawConn: fn is built once so that
	// Send does not allocate a closure; it sends msgs and leaves the
	// result in n and errno.
	msgs  []unix.Mmsghdr
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
	// sendmmsg is the system call; tests put a fake kernel in front of it.
	sendmmsg func(fd int, hs []unix.Mmsghdr) (int, syscall.Errno)

	segmented uint64 // messages sent with GSO, for tests
}

// run is the buffers one message carries.
type run struct{ first, count int }

func (w *sendState) init() {
	w.sendmmsg = sysSendmmsg
	w.fn = func(fd uintptr) bool {
		// false: EAGAIN, the poller waits until the socket is writable.
		return mmsgRetry(int(fd), w.sendmmsg, w.msgs, &w.n, &w.errno)
	}
}

func sysSendmmsg(fd int, hs []unix.Mmsghdr) (int, syscall.Errno) {
	return sysMmsg(unix.SYS_SENDMMSG, fd, hs)
}

func (w *sendState) grow(n int) {
	if len(w.hs) >= n {
		return
	}
	w.hs = make([]unix.Mmsghdr, n)
	w.iovs = make([]unix.Iovec, n)
	w.runs = make([]run, n)
	w.ctrl = alignedBytes(n * sendCtrlSpace)
}

// send sends bufs to addr, in as few sendmmsg calls as the kernel allows.
//
// sendmmsg stops at the first message the kernel refuses and reports how
// many went before it; the next call starting there reports the error.
// What happens to the refused message:
//
//	a GSO run, EIO or EINVAL: the device cannot offload (EIO: no
//	    checksum offload, an xfrm path; quic-go and udp(7) say the same)
//	    or the kernel objects to the segmentation (EINVAL); GSO goes off
//	    for this socket for good and the run and everything after it are
//	    laid out again one datagram per message and sent: the detection
//	    loses nothing. (Kernels before commit 235174b2bed8, 2025, also
//	    report a segment above the path MTU as EINVAL: GSO then goes off
//	    although the device could do it; slower, never wrong.)
//	a GSO run, EMSGSIZE: a segment is larger than the path MTU allows
//	    (GSO never fragments); the run goes again one datagram per
//	    message, which the kernel may fragment, and GSO stays on.
//	anything else: the message is dropped (loss recovery is the engine's
//	    job) and the rest goes on; the first error is returned.
func (u *UDP) send(bufs [][]byte, addr netip.AddrPort) error {
	s := &u.sys
	if s.rc == nil {
		return errClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	w := &s.w
	if err := w.setAddr(addr, u.v6); err != nil {
		return err
	}
	w.grow(len(bufs))
	for i, b := range bufs {
		setIovec(&w.iovs[i], b)
	}
	gso := s.gso.Load()
	nm := w.layout(bufs, 0, 0, gso, 0)
	var first error
	for m := 0; m < nm; {
		w.msgs = w.hs[m:nm]
		if err := s.rc.Write(w.fn); err != nil {
			return err // closed
		}
		for _, r := range w.runs[m : m+w.n] {
			if r.count > 1 {
				w.segmented++
			}
		}
		m += w.n
		errno := w.errno
		if errno == 0 {
			if w.n > 0 {
				continue
			}
			errno = unix.ENOBUFS // nothing sent, nothing said: never loop on it
		}
		r := w.runs[m]
		if r.count > 1 {
			switch errno {
			case unix.EIO, unix.EINVAL:
				s.gso.Store(false)
				gso = false
				nm = w.layout(bufs, r.first, m, false, 0)
				continue
			case unix.EMSGSIZE:
				nm = w.layout(bufs, r.first, m, gso, r.first+r.count)
				continue
			}
		}
		if first == nil {
			first = os.NewSyscallError("sendmmsg", errno)
		}
		m++
	}
	return first
}

// layout lays bufs[from:] out as messages from message at on, and returns
// the number of messages in all. With gso, a run of buffers of one size,
// of which the last may be shorter, becomes one message that the kernel
// cuts into datagrams of that size (its segment size, in a UDP_SEGMENT
// cmsg), up to maxSegments buffers and maxGSOBytes; the iovec lists the
// caller's buffers, so nothing is copied. Buffers before plainUntil go
// one per message.
func (w *sendState) layout(bufs [][]byte, from, at int, gso bool, plainUntil int) int {
	m := at
	for i := from; i < len(bufs); m++ {
		size := len(bufs[i])
		k, total := 1, size
		if gso && i >= plainUntil && size > 0 {
			for j := i + 1; j < len(bufs) && k < maxSegments; j++ {
				l := len(bufs[j])
				// An empty datagram cannot be a segment: it would
				// vanish in the sum.
				if l == 0 || l > size || total+l > maxGSOBytes {
					break
				}
				k, total = k+1, total+l
				if l < size {
					break // only the last segment may be shorter
				}
			}
		}
		h := &w.hs[m].Hdr
		h.Name, h.Namelen = w.name, w.namelen
		h.Iov = &w.iovs[i]
		h.SetIovlen(k)
		h.Flags = 0
		if k > 1 {
			c := w.ctrl[m*sendCtrlSpace : (m+1)*sendCtrlSpace]
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
			cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			cm.SetLen(unix.CmsgLen(2))
			binary.NativeEndian.PutUint16(c[unix.CmsgLen(0):], uint16(size))
			h.Control = &c[0]
			h.SetControllen(sendCtrlSpace)
		} else {
			h.Control = nil
			h.SetControllen(0)
		}
		w.runs[m] = run{first: i, count: k}
		i += k
	}
	return m
}

// setAddr makes ap the destination of every message.
func (w *sendState) setAddr(ap netip.AddrPort, v6 bool) (err error) {
	w.name, w.namelen, err = w.sockaddr(&w.sa, ap, v6)
	return err
}

// sockaddr writes ap into sa as a sockaddr_in on an IPv4 socket (it fits
// in a sockaddr_in6's room), a sockaddr_in6 on an IPv6 one (IPv4 peers as
// IPv4-mapped addresses, which a dual-stack socket sends as IPv4), and
// returns its address and length for a msghdr.
func (w *sendState) sockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort, v6 bool) (*byte, uint32, error) {
	a := ap.Addr()
	if !v6 {
		a = a.Unmap()
		if !a.Is4() {
			return nil, 0, fmt.Errorf("carrier: cannot send to %v from an IPv4 socket", ap)
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
		putPort(&sa4.Port, ap.Port())
		return (*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4, nil
	}
	if !a.IsValid() {
		return nil, 0, fmt.Errorf("carrier: cannot send to %v", ap)
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16(), Scope_id: w.scope(a.Zone())}
	putPort(&sa.Port, ap.Port())
	return (*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet6, nil
}

// sendEach sends bufs[i] to addrs[i], one datagram each, in as few
// sendmmsg calls as the kernel allows. A datagram with an address the
// socket cannot send to, or that the kernel refuses, is dropped and the
// rest go on; the first error is returned.
func (u *UDP) sendEach(bufs [][]byte, addrs []netip.AddrPort) error {
	s := &u.sys
	if s.rc == nil {
		return errClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	w := &s.w
	w.grow(len(bufs))
	if len(w.names) < len(bufs) {
		w.names = make([]unix.RawSockaddrInet6, len(w.hs))
	}
	var first error
	nm := 0
	for i, b := range bufs {
		name, namelen, err := w.sockaddr(&w.names[i], addrs[i], u.v6)
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		setIovec(&w.iovs[i], b)
		h := &w.hs[nm].Hdr
		h.Name, h.Namelen = name, namelen
		h.Iov = &w.iovs[i]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		h.Flags = 0
		nm++
	}
	for m := 0; m < nm; {
		w.msgs = w.hs[m:nm]
		if err := s.rc.Write(w.fn); err != nil {
			return err // closed
		}
		m += w.n
		errno := w.errno
		if errno == 0 {
			if w.n > 0 {
				continue
			}
			errno = unix.ENOBUFS // nothing sent, nothing said: never loop on it
		}
		first = cmp.Or(first, error(os.NewSyscallError("sendmmsg", errno)))
		m++ // the refused one is dropped
	}
	return first
}

// scope returns the scope ID of an IPv6 zone (an interface name or
// number), remembered so that link-local peers cost one lookup.
func (w *sendState) scope(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if id, ok := w.zones[zone]; ok {
		return id
	}
	var id uint32
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		id = uint32(n)
	} else if ifi, err := net.InterfaceByName(zone); err == nil {
		id = uint32(ifi.Index)
	}
	if w.zones == nil {
		w.zones = map[string]uint32{}
	}
	w.zones[zone] = id
	return id
}
