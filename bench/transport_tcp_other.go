//go:build !linux

package bench

import (
	"errors"
	"net"
	"syscall"
)

// setCongestion fails here: a row named tcp-cubic must run CUBIC, and
// pinning a socket's controller is a Linux option.
func setCongestion(c syscall.RawConn, cc string) error {
	return errors.New("bench: pinning a TCP congestion controller needs Linux")
}

func totalRetrans(c net.Conn) int64 { return -1 }
