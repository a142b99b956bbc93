package linkemu

import "golang.org/x/sys/unix"

// Probe reports whether a [Link] can be built here, cheaply (about a
// millisecond, research/linkemu.md, section 4): it moves a locked thread
// into a throwaway anonymous network namespace and opens a TUN device
// there, then lets both go. The error says what failed and what it
// needs: root, or CAP_SYS_ADMIN (namespaces) and CAP_NET_ADMIN (TUN), and
// /dev/net/tun. Tests that need a link skip with it.
func Probe() error {
	return onThread(func() error {
		ns, err := newNetns()
		if err != nil {
			return err
		}
		defer unix.Close(ns)
		fd, err := openTun(tunName)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	})
}
