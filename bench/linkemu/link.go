package linkemu

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// LinkConfig describes a TUN link between two network namespaces, A at
// 10.77.0.1 and B at 10.77.0.2, point to point, for [NewLink]. The zero
// LinkConfig is a perfect link at MTU 1500.
type LinkConfig struct {
	AB Spec // the A->B direction
	BA Spec // the B->A direction
	// Seed seeds both directions' models: A->B's is exactly
	// NewModel(AB, Seed), so a test can predict every fate; B->A's is
	// seeded differently from the same Seed, as in MemPair.
	Seed uint64
	// MTU is both TUN devices' MTU: the kernels fragment or refuse larger
	// packets before the emulator sees them. 0 means DefaultLinkMTU.
	MTU int
	// Slack lets a packet leave up to this much before its delivery time,
	// so that one wakeup of the emulator releases every packet due within
	// it. 0 means DefaultSlack.
	Slack time.Duration
}

// DefaultLinkMTU is the TUN devices' MTU by default: Ethernet's, the MTU
// of the research prototype's TUN devices and of all but one of its
// measurements (research/linkemu.md, section 2).
const DefaultLinkMTU = 1500

// DefaultSlack is the default early release. Each wakeup costs the
// emulator a timerfd expiry and a context switch; at 100 Mbit/s, where every
// packet is its own wakeup, a slack of 50 µs / 250 µs / 1 ms cost 0.62 /
// 0.48 / 0.19 cores for the same 95.5 Mbit/s (research/linkemu.md,
// section 2, "Emulator ceiling and CPU"). 250 µs is the prototype's
// default: an error of a quarter of a millisecond against delays of ten or
// more, at three quarters of the CPU of 50 µs. Long-RTT rate-limited runs
// can afford 1 ms.
const DefaultSlack = 250 * time.Microsecond

// minLinkMTU is the smallest MTU an IPv4 link may have: every internet
// module must forward a 68-byte datagram unfragmented (RFC 791). maxLinkMTU
// is the largest a TUN device accepts (the kernel's MAX_MTU for tun), and
// the largest IPv4 total length.
const (
	minLinkMTU = 68
	maxLinkMTU = 65535
)

// The two ends' addresses: private (RFC 1918), distinct from MemPair's
// 10.99.0.0/24, and the research prototype's (research/linkemu.md,
// section 2), so its measurements and these runs read alike.
var (
	linkAddrA = netip.MustParseAddr("10.77.0.1")
	linkAddrB = netip.MustParseAddr("10.77.0.2")
)

// LinkStats is a snapshot of a [Link]'s counters: the emulator's own, per
// direction, and the kernels' in each namespace that show loss the
// emulator did not decide (research/linkemu.md, pitfall 4). A run whose
// kernel counters are not zero measured something other than the link it
// asked for: see [LinkStats.Check].
type LinkStats struct {
	// AB and BA are the direction models' counters (see [Stats]);
	// Delivered counts copies the emulator wrote to the peer's TUN.
	AB, BA Stats
	// TunTxDroppedA and TunTxDroppedB count packets the kernel of A (B)
	// sent to its TUN device that were dropped before the emulator read
	// them, because the device's queue was full.
	TunTxDroppedA, TunTxDroppedB uint64
	// UDPRcvbufErrorsA and UDPRcvbufErrorsB count UDP datagrams dropped
	// because a receiving socket's buffer was full (/proc/net/snmp, Udp
	// RcvbufErrors), in each namespace.
	UDPRcvbufErrorsA, UDPRcvbufErrorsB uint64
	// UDPInCsumErrorsA, UDPInCsumErrorsB, TCPInCsumErrorsA and
	// TCPInCsumErrorsB count segments the receiving kernel dropped for a
	// bad checksum (Udp and Tcp InCsumErrors). A corrupted packet ends up
	// here: its flipped bit is in the payload and its checksum is left
	// wrong, as on a real link.
	UDPInCsumErrorsA, UDPInCsumErrorsB, TCPInCsumErrorsA, TCPInCsumErrorsB uint64
	// TunIOErrors counts TUN reads and writes that failed (other than
	// would-block) while the link was open; the packet was dropped. It is
	// 0 on a sound run.
	TunIOErrors uint64
	// EmulatorCPU is the CPU time the emulator's pump goroutines used,
	// summed over the stretches in which they ran: the TUN reads, the
	// model, and the TUN writes with the receiving kernel stack that each
	// write runs. Each stretch is timed with its thread's CPU clock
	// (CLOCK_THREAD_CPUTIME_ID). It leaves out the netpoller, futex and
	// scheduler work between stretches, so it is a lower bound: 51-74 % of
	// ProcessCPU (measured at 1000-20000 packets/s with both endpoints in
	// child processes, where ProcessCPU is all emulator).
	EmulatorCPU time.Duration
	// ProcessCPU is the CPU time this whole process used since NewLink
	// (getrusage RUSAGE_SELF, user and system): the emulator with all its
	// overheads, plus whatever else the process does. Run the endpoints as
	// child processes ([Link.CommandA]) and it is the emulator's cost.
	ProcessCPU time.Duration
}

// Check reports the first counter that shows loss the emulator did not
// decide (research/linkemu.md, pitfall 4): TUN queue drops, receive
// buffer overflows, or checksum errors beyond the packets the emulator
// corrupted towards that side. A benchmark run for which Check fails is
// to be flagged, not averaged in.
func (s LinkStats) Check() error {
	var errs []error
	if s.TunTxDroppedA+s.TunTxDroppedB > 0 {
		errs = append(errs, fmt.Errorf("TUN tx_dropped A=%d B=%d: the kernel dropped packets before the emulator read them",
			s.TunTxDroppedA, s.TunTxDroppedB))
	}
	if s.UDPRcvbufErrorsA+s.UDPRcvbufErrorsB > 0 {
		errs = append(errs, fmt.Errorf("Udp RcvbufErrors A=%d B=%d: a receiving socket's buffer overflowed",
			s.UDPRcvbufErrorsA, s.UDPRcvbufErrorsB))
	}
	// Packets corrupted A->B are counted by B's kernel, and the reverse;
	// each corrupted copy the link delivered (duplicates included) can be.
	if csA := s.UDPInCsumErrorsA + s.TCPInCsumErrorsA; csA > s.BA.CorruptedCopies {
		errs = append(errs, fmt.Errorf("InCsumErrors in A = %d, but the emulator delivered only %d corrupted copies towards A", csA, s.BA.CorruptedCopies))
	}
	if csB := s.UDPInCsumErrorsB + s.TCPInCsumErrorsB; csB > s.AB.CorruptedCopies {
		errs = append(errs, fmt.Errorf("InCsumErrors in B = %d, but the emulator delivered only %d corrupted copies towards B", csB, s.AB.CorruptedCopies))
	}
	if s.TunIOErrors > 0 {
		errs = append(errs, fmt.Errorf("%d TUN reads or writes failed", s.TunIOErrors))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("linkemu: hidden loss on the link: %w", errors.Join(errs...))
}

// check validates c and returns it with its defaults filled in.
func (c LinkConfig) check() (LinkConfig, error) {
	if err := c.AB.check("LinkConfig.AB."); err != nil {
		return c, fmt.Errorf("linkemu: %w", err)
	}
	if err := c.BA.check("LinkConfig.BA."); err != nil {
		return c, fmt.Errorf("linkemu: %w", err)
	}
	if c.MTU == 0 {
		c.MTU = DefaultLinkMTU
	}
	if c.MTU < minLinkMTU || c.MTU > maxLinkMTU {
		return c, fmt.Errorf("linkemu: LinkConfig.MTU = %d: must be 0 (for %d) or in [%d, %d]",
			c.MTU, DefaultLinkMTU, minLinkMTU, maxLinkMTU)
	}
	if c.Slack < 0 {
		return c, fmt.Errorf("linkemu: LinkConfig.Slack = %v: must not be negative (0 is %v)", c.Slack, DefaultSlack)
	}
	if c.Slack == 0 {
		c.Slack = DefaultSlack
	}
	return c, nil
}

// sideIndex maps a side's name, 'A' or 'B' (either case), to its index.
func sideIndex(side byte) (int, error) {
	switch side {
	case 'A', 'a':
		return 0, nil
	case 'B', 'b':
		return 1, nil
	}
	return 0, fmt.Errorf("linkemu: side %q: must be 'A' or 'B'", side)
}

// sideName is the name of side index i.
func sideName(i int) byte { return "AB"[i] }
