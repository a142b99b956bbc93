package linkemu

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// tunName is each namespace's TUN device. The namespaces are new and
// private, so the same name in both cannot clash with anything.
const tunName = "lemu0"

// tunTxQueueLen is the TUN devices' txqueuelen, which also sizes the ring
// from the kernel to the emulator's reader (the kernel's default for a
// TUN is 500). When that ring is full the kernel drops the packet and
// counts it in the TUN's tx_dropped: loss the model did not decide. The
// research prototype raised it to 10000 for that reason, and then saw no
// TUN drops even with 900 Mbit/s of UDP offered (research/linkemu.md,
// section 2 and pitfall 4).
const tunTxQueueLen = 10000

// openTun opens /dev/net/tun and attaches a new TUN device to it, in the
// calling thread's network namespace (the kernel takes the namespace of
// whoever opens the device file). IFF_TUN carries IP packets with no link
// header, so no ARP; IFF_NO_PI leaves out the 4-byte packet information
// prefix, so a read is exactly one IP packet. The device is not persistent
// (no TUNSETPERSIST): it disappears when the fd is closed, so a crash
// leaves none behind. The fd is non-blocking, for Go's netpoller: a
// blocking read would hold a P in the syscall and stall timers on two
// cores (research/linkemu.md, pitfall 2).
func openTun(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT):
			return -1, unavailable("open /dev/net/tun", err,
				"the kernel has no TUN driver (CONFIG_TUN), or this container does not expose the device")
		case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
			return -1, unavailable("open /dev/net/tun", err, "the kernel has no TUN driver (CONFIG_TUN)")
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return -1, unavailable("open /dev/net/tun", err, "needs root: the device is usually mode 0600")
		}
		return -1, unavailable("open /dev/net/tun", err, "needs /dev/net/tun")
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("linkemu: TUN name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return -1, unavailable("TUNSETIFF", err, "needs root, or CAP_NET_ADMIN")
		}
		return -1, unavailable("TUNSETIFF", err, "could not create a TUN device")
	}
	return fd, nil
}

// ifconfig configures the calling thread's namespace for one end of the
// link: lo up (a new namespace's lo is down, and 127.0.0.1 comes with it),
// then the TUN device name with address local, point-to-point peer
// address peer (which installs the route to peer through it), a /32
// netmask, the MTU, tunTxQueueLen, and up. These are the classic
// SIOCSIF* ioctls on any socket of the namespace, so no netlink and no
// iproute2 are needed (research/linkemu.md, section 4).
func ifconfig(name string, local, peer netip.Addr, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linkemu: configure %s: socket: %w", name, err)
	}
	defer unix.Close(s)
	if err := ifUp(s, "lo"); err != nil {
		return err
	}
	steps := []struct {
		what string
		req  uint
		set  func(*unix.Ifreq) error
	}{
		{"address", unix.SIOCSIFADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr(local.AsSlice()) }},
		{"peer address", unix.SIOCSIFDSTADDR, func(r *unix.Ifreq) error { return r.SetInet4Addr(peer.AsSlice()) }},
		{"netmask", unix.SIOCSIFNETMASK, func(r *unix.Ifreq) error { return r.SetInet4Addr([]byte{255, 255, 255, 255}) }},
		{"MTU", unix.SIOCSIFMTU, func(r *unix.Ifreq) error { r.SetUint32(uint32(mtu)); return nil }},
		{"txqueuelen", unix.SIOCSIFTXQLEN, func(r *unix.Ifreq) error { r.SetUint32(tunTxQueueLen); return nil }},
	}
	for _, st := range steps {
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			err = st.set(ifr)
		}
		if err == nil {
			err = unix.IoctlIfreq(s, st.req, ifr)
		}
		if err != nil {
			return fmt.Errorf("linkemu: set %s of %s: %w", st.what, name, err)
		}
	}
	return ifUp(s, name)
}

// ifUp sets IFF_UP on interface name, keeping its other flags.
func ifUp(s int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("linkemu: bring %s up: %w", name, err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("linkemu: bring %s up: get flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("linkemu: bring %s up: %w", name, err)
	}
	return nil
}

// readNetFile reads /proc/thread-self/net/<name>: the calling thread's
// namespace's view (/proc/net shows the main thread's namespace).
func readNetFile(name string) ([]byte, error) {
	return os.ReadFile("/proc/thread-self/net/" + name)
}

// readCounters reads the nsCounters of the calling thread's namespace,
// which must still have its TUN device.
func readCounters() (nsCounters, error) {
	var c nsCounters
	snmp, err := readNetFile("snmp")
	if err == nil {
		err = c.snmpCounters(snmp)
	}
	if err != nil {
		return c, fmt.Errorf("linkemu: read counters: %w", err)
	}
	dev, err := readNetFile("dev")
	if err == nil {
		c.tunTxDropped, err = netDevTxDropped(dev, tunName)
	}
	if err != nil {
		return c, fmt.Errorf("linkemu: read counters: %w", err)
	}
	return c, nil
}
