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
// A later backend carries real sockets over TUN devices between two network
// namespaces, driven by the same Model (research/linkemu.md, section 5).
//
// # What is not modelled
//
//   - Kernel buffers in bytes: the inbox counts datagrams (MemConfig.Inbox),
//     a send never fails with ENOBUFS, and a sender has no socket buffer
//     (its bottleneck is the Spec's Queue).
//   - Fragmentation and ICMP: a datagram over the MTU is dropped, as with
//     DF set, and nobody is told.
//   - Checksums: a corrupted datagram is delivered damaged, as if its UDP
//     checksum had been patched (the research prototype's fixcsum). Under
//     netem the receiving kernel would find the checksum wrong and drop it,
//     so corruption here tests the transport's own integrity check; for the
//     kernel's behaviour, use Loss instead.
//   - netem's correlation parameters, delay distribution tables, slotting,
//     rate overheads, ECN marking and its queue limit in packets (the
//     bottleneck queue here counts bytes, like bfifo); jitter is uniform
//     only.
//   - Any address but the peer's: the pair is point-to-point.
package linkemu
