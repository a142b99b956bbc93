package stream

import (
	"fmt"
	"net"
)

// Error is a stream one side abandoned with an application code: our
// writes fail with it after the peer sent STOP_SENDING, our reads after it
// sent RESET_STREAM.
type Error struct {
	Code   uint64
	Remote bool // the peer abandoned the stream, not us
}

func (e *Error) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	return fmt.Sprintf("stream: %s reset with code %d", who, e.Code)
}

// ProtocolError is a peer breaking the stream protocol (exceeding flow
// control, changing a final size, using a stream it may not). The engine
// closes the connection with it: such a peer is broken or hostile.
type ProtocolError struct {
	Reason string
}

func (e *ProtocolError) Error() string { return "stream: protocol violation: " + e.Reason }

func violation(format string, args ...any) error {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}

// errWriteClosed is returned by Write after CloseWrite or Close.
var errWriteClosed = fmt.Errorf("stream: write after CloseWrite: %w", net.ErrClosed)
