package rudp

import (
	"errors"
	"fmt"
	"net"
)

// CloseError is why a connection ended: a code and a reason, given by the
// application that closed it (Remote says whether that was the peer) or by
// the engine (the codes below). It unwraps to net.ErrClosed, so
// errors.Is(err, net.ErrClosed) holds for every closed connection.
type CloseError struct {
	Code   uint64
	Reason string
	Remote bool
}

func (e *CloseError) Error() string {
	who := "locally"
	if e.Remote {
		who = "by the peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("rudp: connection closed %s (code %d)", who, e.Code)
	}
	return fmt.Sprintf("rudp: connection closed %s (code %d): %s", who, e.Code, e.Reason)
}

// Unwrap returns net.ErrClosed.
func (e *CloseError) Unwrap() error { return net.ErrClosed }

// Codes the engine uses when it closes a connection itself. Applications
// choose their own codes; these sit at the top of the range, out of their
// way.
const (
	// CodeNoError is a graceful close.
	CodeNoError uint64 = 0
	// CodeProtocolViolation: the peer broke the protocol (flow control,
	// frame format); the reason says how.
	CodeProtocolViolation uint64 = 1<<62 - 1
	// CodeAcceptQueueFull: the listener had no room for another
	// connection.
	CodeAcceptQueueFull uint64 = 1<<62 - 2
	// CodeEndpointClosed: the endpoint the connection ran on was closed.
	CodeEndpointClosed uint64 = 1<<62 - 3
	// CodeIntegrityLimit: too many packets failed authentication.
	CodeIntegrityLimit uint64 = 1<<62 - 4
)

// IdleTimeoutError is a connection that heard nothing from its peer for
// the idle timeout: the peer vanished or the path is gone. It is a
// net.Error with Timeout() true, and unwraps to net.ErrClosed.
type IdleTimeoutError struct{}

func (IdleTimeoutError) Error() string   { return "rudp: connection timed out: nothing from the peer" }
func (IdleTimeoutError) Timeout() bool   { return true }
func (IdleTimeoutError) Temporary() bool { return false }
func (IdleTimeoutError) Unwrap() error   { return net.ErrClosed }

// ErrUnacknowledged is wrapped by the error of Conn.Close when the peer
// closed the connection gracefully while stream data or messages it had not
// acknowledged were still in flight: some of what was written may not have
// reached the peer's application.
var ErrUnacknowledged = errors.New("rudp: the peer closed the connection before acknowledging everything sent")

// ErrMaxConnections is returned by Dial when the endpoint already has
// Config.MaxConnections connections.
var ErrMaxConnections = errors.New("rudp: the endpoint has MaxConnections connections")

// ErrHandshakeTimeout is returned by Dial when the peer did not answer
// within the handshake timeout.
var ErrHandshakeTimeout = errors.New("rudp: handshake timed out: no answer from the peer")

var _ net.Error = IdleTimeoutError{}
