package carrier

import (
	"net"

	"golang.org/x/sys/unix"
)

// setBuffers asks for size-byte socket buffers. SO_RCVBUFFORCE and
// SO_SNDBUFFORCE go past net.core.rmem_max when the process has
// CAP_NET_ADMIN (as quic-go does); otherwise the plain options give what the
// limit allows. It returns what the kernel granted (Linux reports double
// the useful size; halved here).
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
