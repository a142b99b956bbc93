// Package cc is congestion control: the controllers behind one small
// interface (Algorithm), the delivery-rate sampler they learn from, and the
// pacer that spreads a window's packets over the round trip. UDP has no
// back-pressure, so every path needs all three, loopback included: without
// them a sender overruns the bottleneck's queue (or the receiver's socket
// buffer) and loses packets it then has to resend. Pure: time is a
// parameter, nothing here starts a goroutine or allocates per packet.
//
// # Controllers
//
// BBR (the default) is BBRv3 as draft-ietf-ccwg-bbr-05 specifies it:
// a model of the path (the bottleneck bandwidth as the windowed maximum
// delivery rate, the minimum RTT, and the inflight at which loss rose),
// pacing at the bandwidth estimate, the window a small multiple of the
// bandwidth-delay product, and the Startup, Drain, ProbeBW (DOWN, CRUISE,
// REFILL, UP) and ProbeRTT states. CUBIC (RFC 9438) is the option for
// paths where every loss should count as congestion, or to behave as TCP
// does.
//
// # Where BBR departs from the draft, and why
//
// Random loss (bbr_loss.go). BBRv3 reads a round that loses more than 2 %
// as "inflight too high" and cuts its short-term bounds on any loss
// outside a probe, so on a path that drops packets at random (radio, a
// noisy line, an emulator's loss=5%) it stays far below the bottleneck:
// that is why TCP CUBIC falls to a few Mbit/s at 5 % loss. Here a loss
// model learns the path's own loss rate from rounds that saw no queue
// (their RTT at the minimum) and how bursty it is; a round counts as
// congested only when its loss exceeds that rate by more than sampling
// noise explains. The bandwidth estimate is compensated for the learned
// rate, since filling a bottleneck behind a loss of p takes sending
// 1/(1-p) of its rate.
//
// Sharing a queue with loss-based flows (bbr_share.go). Next to a CUBIC
// flow the queue never drains and BBRv3 keeps most of the buffer. When a
// round sees a standing queue BBR did not build, this BBR cuts its
// short-term inflight bound by beta on congested rounds, with no floor at
// what the round delivered, and grows it back by one packet per round trip
// as Reno does, until the other flow has gone.
//
// Recovery. There is no packet conservation in recovery: the window follows
// the model, and InRecovery only reports the RFC 9002 recovery period (a
// loss until a packet sent after it is acknowledged) for statistics.
//
// Persistent congestion is left to the transport by the draft; here it
// drops the window to the minimum and the short-term model to beta times
// the bandwidth, as RFC 9002 section 7.6.2 asks of every controller.
//
// # Tests
//
// sim_test.go is a deterministic, virtual-time link simulator: a
// bottleneck with a rate, a propagation delay and a drop-tail queue,
// random or Gilbert-Elliott loss before it (netem's order), and flows that
// drive an Algorithm, a Pacer and a RateSampler the way the engine does.
// The tests hold the controllers to the figures the project promises on
// such links: utilisation under random and bursty loss, Jain's fairness
// between two BBR flows, and BBR's share next to CUBIC.
package cc
