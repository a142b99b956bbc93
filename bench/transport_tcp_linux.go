package bench

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// setCongestion pins a TCP socket's congestion controller
// (TCP_CONGESTION), so the row says what it measures whatever the host's
// default.
func setCongestion(c syscall.RawConn, cc string) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc)
	})
	if err == nil && serr != nil {
		err = fmt.Errorf("bench: TCP congestion control %q: %w (see /proc/sys/net/ipv4/tcp_available_congestion_control)", cc, serr)
	}
	return err
}

// totalRetrans reads the segments the kernel retransmitted on c.
func totalRetrans(c net.Conn) int64 {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return -1
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	n := int64(-1)
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = int64(info.Total_retrans)
		}
	})
	return n
}
