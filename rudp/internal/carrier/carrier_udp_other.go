//go:build !linux

package carrier

import "net"

// setBuffers asks for size-byte socket buffers; what the system grants is
// not reported here.
func setBuffers(conn *net.UDPConn, size int) (recv, send int) {
	conn.SetReadBuffer(size)
	conn.SetWriteBuffer(size)
	return 0, 0
}
