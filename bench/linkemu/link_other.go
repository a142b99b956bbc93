//go:build !linux

package linkemu

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
)

// errNotLinux is every link operation's error off Linux.
var errNotLinux = fmt.Errorf("linkemu: link emulation needs Linux (TUN devices and network namespaces), not %s: %w",
	runtime.GOOS, errors.ErrUnsupported)

// Probe reports that a Link cannot be built here: it needs Linux. The
// error wraps errors.ErrUnsupported. Use MemPair instead.
func Probe() error { return errNotLinux }

// Link is the TUN link between two network namespaces, which exists only
// on Linux; see the Linux documentation. Here NewLink always fails.
type Link struct{}

// NewLink validates cfg, then fails: link emulation needs Linux.
func NewLink(cfg LinkConfig) (*Link, error) {
	if _, err := cfg.check(); err != nil {
		return nil, err
	}
	return nil, errNotLinux
}

// AddrA returns A's address on the link, 10.77.0.1.
func (l *Link) AddrA() netip.Addr { return linkAddrA }

// AddrB returns B's address on the link, 10.77.0.2.
func (l *Link) AddrB() netip.Addr { return linkAddrB }

// InA fails: link emulation needs Linux.
func (l *Link) InA(f func() error) error { return errNotLinux }

// InB fails: link emulation needs Linux.
func (l *Link) InB(f func() error) error { return errNotLinux }

// Sysctl fails: link emulation needs Linux.
func (l *Link) Sysctl(side byte, key, value string) error { return errNotLinux }

// SetSpec does nothing: there is no link.
func (l *Link) SetSpec(ab, ba Spec) {}

// Stats returns zero counters: there is no link.
func (l *Link) Stats() LinkStats { return LinkStats{} }

// Close does nothing.
func (l *Link) Close() error { return nil }

// Cmd is a program to run inside one of a Link's namespaces; off Linux
// it cannot start.
type Cmd struct {
	*exec.Cmd
}

// CommandA returns a Cmd whose Start fails: link emulation needs Linux.
func (l *Link) CommandA(name string, args ...string) *Cmd { return &Cmd{exec.Command(name, args...)} }

// CommandB returns a Cmd whose Start fails: link emulation needs Linux.
func (l *Link) CommandB(name string, args ...string) *Cmd { return &Cmd{exec.Command(name, args...)} }

// Start fails: link emulation needs Linux.
func (c *Cmd) Start() error { return errNotLinux }

// Run fails: link emulation needs Linux.
func (c *Cmd) Run() error { return errNotLinux }

// Output fails: link emulation needs Linux.
func (c *Cmd) Output() ([]byte, error) { return nil, errNotLinux }

// CombinedOutput fails: link emulation needs Linux.
func (c *Cmd) CombinedOutput() ([]byte, error) { return nil, errNotLinux }
