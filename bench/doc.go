// Package bench compares pydevts with what its users would use instead
// (kernel TCP with CUBIC and with BBR, quic-go) scenario by scenario, over
// the same emulated link (package linkemu): goodput, request/response
// latency idle and under load, packets lost and resent, CPU per side and
// peak memory.
//
// As root, each run builds a fresh TUN link between two network namespaces
// and runs each side as its own process (`pydevts bench-peer`) inside its
// namespace, so kernel TCP, quic-go and pydevts cross the very same link
// with real sockets and each side's CPU is its own. Without root the UDP
// transports run in this process over the in-memory link, and kernel TCP
// is reported as not available. A ceiling scenario measures plain loopback.
//
// A scenario's workload says what a run does: one bulk transfer with
// latency probes (the default); paced messages, each timed from send to
// delivery (workload_messages*.go); many idle connections on one server
// endpoint, whose process measures its CPU and memory per connection
// while they idle (workload_idle*.go); or two bulk flows at once across
// one bottleneck, to see how fairly they share it (workload_fairness.go).
// Each workload has its own part of a Result and its own table, written
// after the bulk one.
//
// Each run checks itself: the link must have done what the scenario asked
// (measured loss, duplication and reordering within tolerance, no drops
// the scenario did not ask for); a run that strays is flagged and left out
// of the medians. Results are JSON lines for machines, a Markdown table of
// medians and ranges for people, and charts drawn with gonum/plot.
//
// quic-go is imported here and nowhere else: it is the peer we measure
// against, never part of the transport (architecture_test.go enforces it).
package bench
