// Package linkemu emulates an impaired network link: loss (independent or
// in Gilbert-Elliott bursts), delay and jitter, reordering, duplication,
// corruption, and a bottleneck of limited rate with a tail-drop queue, with
// the names and meanings of Linux netem (tc-netem(8)). The kernels the
// project runs on have no netem (research/linkemu.md, section 1), so the
// transport's tests and benchmarks bring their own.
//
// # The model
//
// A [Model] is one direction of a link, described by a [Spec]. It is pure:
// seeded (math/rand/v2 PCG), no clock reads (the send time is a parameter),
// no goroutines, so every backend drives the same decisions. [Model.Plan]
// takes a packet's size and send time and returns its [Fate]: dropped, or
// one or two copies with their delivery times, and perhaps a flipped bit.
// The stages run in netem's order:
//
//	packet ─► 1 loss ─► 2 corrupt ─► 3 duplicate ─┬─► 4 bottleneck ─► 5 delay+jitter ─► deliver
//	          (Loss     (one bit,     (a second   │   (serialise at     (uniform; KeepOrder
//	           or GE)    all copies)   copy)      │    Rate, tail drop   clamps to the
//	                                              │    past Queue)       previous packet)
//	                                              └─ each copy, as an     6 reorder: skip 5
//	                                                 independent packet
//
// A duplicate pays for the bottleneck and gets its own jitter and reorder
// draw, as if sent right after the original: netem re-enqueues its clone
// at the root qdisc, and a copy that shared the original's delivery time
// would test nothing. The corrupted bit, decided before duplication, is in
// both copies.
//
// # The in-memory link
//
// [MemPair] joins two [MemConn]s, net.PacketConns, by two Models, one per
// direction. It stands for a point-to-point UDP path between two hosts:
// WriteTo is sendto(2), with the path's MTU checked first; the Model is
// everything between the two sockets (the sender's bottleneck, the
// propagation, the loss on the way); the inbox is the receiving socket's
// buffer, which drops when it is full; ReadFrom is recvfrom(2). Datagrams in
// flight wait in a heap per direction, ordered by delivery time and then
// send order, and a time.AfterFunc timer delivers them. Under
// testing/synctest, time is the bubble's virtual clock, so a 300 ms RTT
// takes exactly 300 ms of it and no real time, and two runs with the same
// seed and traffic are identical to the bit.
//
// # The TUN link (Linux)
//
// [NewLink] carries real sockets, kernel TCP included, between two network
// namespaces of the process, A (10.77.0.1) and B (10.77.0.2), through the
// same Models (research/linkemu.md, sections 2 and 5):
//
//	namespace A                                                     namespace B
//	sockets ─► lemu0 (TUN) ══► reader ─► Model A->B ─► heap ─► writer ══► lemu0 (TUN) ─► sockets
//	sockets ◄─ lemu0 (TUN) ◄══ writer ◄─ heap ◄─ Model B->A ◄─ reader ◄══ lemu0 (TUN) ◄─ sockets
//
// The namespaces are anonymous and the TUN devices not persistent, so a
// link leaves nothing behind, even after a crash; setting it up needs no
// iproute2, only syscalls and ioctls. Create sockets in a namespace with
// [Link.InA] or [Link.InB], start programs there with [Link.CommandA] or
// [Link.CommandB], and set its network sysctls with [Link.Sysctl]. It needs
// root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and /dev/net/tun: [Probe] says
// whether a link can be built, and why not; tests skip with its reason,
// and benchmarks fall back to MemPair. Timing is real, so runs vary a
// little; the Model's decisions are still seeded, and with traffic that is
// the test's alone (the TUNs carry no IPv6), A->B's fates are those of
// NewModel(AB, Seed). Off Linux, the same API returns an error wrapping
// errors.ErrUnsupported.
//
// Where the two backends differ:
//
//   - Corruption: on the TUN link the flipped bit lands in the TCP or UDP
//     payload and the checksum is left wrong, so the receiving kernel
//     drops the packet and counts it (InCsumErrors), as on a real link
//     (research/linkemu.md, pitfall 8); the application never sees it.
//     MemPair delivers it.
//   - Buffers and MTU are the kernel's: real socket buffers overflow
//     (RcvbufErrors), and the kernel fragments or refuses what exceeds the
//     TUN's MTU, so the emulator never sees it.
//   - Time: a packet leaves up to LinkConfig.Slack before its delivery
//     time, so one wakeup releases all packets due within it; a
//     timerfd, not a Go timer, wakes the emulator (pitfall 1).
//   - Loss the emulator did not decide shows in [LinkStats]: TUN queue
//     drops, socket buffer overflows, checksum errors. [LinkStats.Check]
//     flags a run that had any (pitfall 4).
//
// # What is not modelled
//
//   - In MemPair, kernel buffers in bytes: the inbox counts datagrams
//     (MemConfig.Inbox), a send never fails with ENOBUFS, and a sender has
//     no socket buffer (its bottleneck is the Spec's Queue).
//   - In MemPair, fragmentation and ICMP: a datagram over the MTU is
//     dropped, as with DF set, and nobody is told.
//   - In MemPair, checksums: a corrupted datagram is delivered damaged, as
//     if its UDP checksum had been patched (the research prototype's
//     fixcsum). Under netem, and on the TUN link, the receiving kernel
//     finds the checksum wrong and drops it, so corruption in MemPair tests
//     the transport's own integrity check.
//   - netem's correlation parameters, delay distribution tables, slotting,
//     rate overheads, ECN marking and its queue limit in packets (the
//     bottleneck queue here counts bytes, like bfifo); jitter is uniform
//     only.
//   - Any address but the peer's: both links are point-to-point.
package linkemu
