package carrier

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
)

// MaxUDPPayload is the largest UDP payload over IPv4: the 16-bit IPv4
// total length (65 535, RFC 791) less a 20-byte IPv4 header and the 8-byte
// UDP header (RFC 768). It also bounds a GSO send, whose segments travel
// through the stack as one datagram until they are cut (see maxGSOBytes).
const MaxUDPPayload = 65507

// SocketBuffer is the send and receive buffer a UDP carrier asks for. UDP
// has no back-pressure, so the receive buffer must hold a burst arriving
// while the reader is descheduled: 8 MiB is what quic-go's and udpbench's
// measurements here settled on (limits.md). Without privileges the kernel
// caps it at net.core.rmem_max (4 MiB on these machines).
const SocketBuffer = 8 << 20

// The environment switches NewUDP reads: "1" (or "true") keeps the kernel
// offload off, to compare with and without it or to rule it out when
// hunting a bug. Neither has any effect where the offload does not exist.
const (
	envDisableGSO = "PYDEVTS_DISABLE_GSO"
	envDisableGRO = "PYDEVTS_DISABLE_GRO"
)

// UDP is a Carrier over a UDP socket. On Linux it calls sendmmsg and
// recvmmsg itself, with UDP segmentation offload on send (GSO: a run of
// equal-sized datagrams goes down the stack as one) and UDP receive
// offload (GRO: the kernel hands up several datagrams of one flow at
// once) where the kernel has them; elsewhere it uses x/net's batch calls,
// which send and receive one datagram per system call on most systems.
type UDP struct {
	conn *net.UDPConn
	v6   bool // the socket is IPv6: IPv4 peers need mapped addresses
	// RecvBuffer and SendBuffer are the socket buffer sizes obtained, in
	// bytes, for stats and BufferWarning; 0 where the system does not
	// tell.
	RecvBuffer, SendBuffer int

	closed atomic.Bool // set by Close: Recv hands out nothing more
	sys    udpSys      // the system-specific half: batches, offloads
}

// errClosed is what Recv and Send report once the carrier is closed, when
// the socket itself is not asked.
var errClosed = &net.OpError{Op: "read", Net: "udp", Err: net.ErrClosed}

// udpOptions switch offloads off for one socket (tests, benchmarks, the
// environment switches).
type udpOptions struct {
	noGSO, noGRO bool
}

// NewUDP wraps conn, enlarging its buffers as far as allowed and turning
// on the kernel offloads the socket supports, unless PYDEVTS_DISABLE_GSO
// or PYDEVTS_DISABLE_GRO says otherwise.
func NewUDP(conn *net.UDPConn) *UDP {
	return newUDP(conn, udpOptions{noGSO: envOn(envDisableGSO), noGRO: envOn(envDisableGRO)})
}

func newUDP(conn *net.UDPConn, opt udpOptions) *UDP {
	u := &UDP{conn: conn}
	la, _ := conn.LocalAddr().(*net.UDPAddr)
	u.v6 = la != nil && la.IP.To4() == nil
	u.RecvBuffer, u.SendBuffer = setBuffers(conn, SocketBuffer)
	u.sys.init(u, opt)
	return u
}

// envOn reports whether the environment variable name is set to a true
// value ("1", "true", ...).
func envOn(name string) bool {
	on, err := strconv.ParseBool(os.Getenv(name))
	return err == nil && on
}

// Recv implements Carrier. With GRO one system call may bring many
// datagrams; those that do not fit this call's buffers wait for the next
// call, so none is dropped here (until Close).
func (u *UDP) Recv(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	if u.closed.Load() {
		return 0, errClosed
	}
	if len(bufs) == 0 {
		return 0, nil
	}
	return u.recv(bufs, sizes, addrs)
}

// Send implements Carrier. A datagram the kernel refuses (one message: a
// single datagram, or one GSO run that no fallback could send) is dropped
// and the rest still go; the first error is returned.
func (u *UDP) Send(bufs [][]byte, addr netip.AddrPort) error {
	if len(bufs) == 0 {
		return nil
	}
	return u.send(bufs, addr)
}

// SendEach sends bufs[i] to addrs[i], one datagram each, batched as Send
// batches (sendmmsg on Linux): for replies to many peers at once, as a
// listener's cookie replies under a flood. Like Send, it drops a datagram
// it cannot send and returns the first error.
func (u *UDP) SendEach(bufs [][]byte, addrs []netip.AddrPort) error {
	if len(bufs) != len(addrs) {
		return fmt.Errorf("carrier: SendEach with %d buffers for %d addresses", len(bufs), len(addrs))
	}
	if len(bufs) == 0 {
		return nil
	}
	return u.sendEach(bufs, addrs)
}

// Offload reports which kernel offloads the carrier uses: gso for sending
// runs of datagrams as one (UDP_SEGMENT), gro for receiving coalesced
// datagrams (UDP_GRO). gso can turn false later, for good, when the kernel
// refuses a segmented send (a device without checksum offload).
func (u *UDP) Offload() (gso, gro bool) { return u.offload() }

// BufferWarning returns "" when the socket buffers are as large as asked
// (SocketBuffer) or their size is unknown, and otherwise one line, meant
// to be logged once by whoever owns a logger, that says what was obtained
// and how to get more. The carrier itself never logs.
func (u *UDP) BufferWarning() string {
	return bufferWarning(u.RecvBuffer, u.SendBuffer, SocketBuffer)
}

func bufferWarning(recv, send, want int) string {
	if (recv == 0 && send == 0) || (recv >= want && send >= want) {
		return ""
	}
	return fmt.Sprintf("carrier: UDP socket buffers are %d KiB (receive) and %d KiB (send), %d KiB asked: "+
		"bursts may be dropped; raise net.core.rmem_max and net.core.wmem_max, or run with CAP_NET_ADMIN",
		recv>>10, send>>10, want>>10)
}

// MaxDatagram implements Carrier.
func (u *UDP) MaxDatagram() int { return MaxUDPPayload }

// Reliable implements Carrier.
func (u *UDP) Reliable() bool { return false }

// LocalAddr implements Carrier.
func (u *UDP) LocalAddr() net.Addr { return u.conn.LocalAddr() }

// Close implements Carrier.
func (u *UDP) Close() error {
	u.closed.Store(true)
	return u.conn.Close()
}
