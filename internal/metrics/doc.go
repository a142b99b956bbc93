// Package metrics exports pydevts's counters in the Prometheus text
// format, for `pydevts relay --metrics ADDR` and `pydevts node run
// --metrics ADDR`.
//
// The collectors read the counters the packages keep anyway
// (relay.Server.Stats, node.Node.Stats, which reads rudp's EndpointStats
// and Conn.Stats) when Prometheus scrapes, and turn them into constant
// metrics: the packet paths pay nothing for metrics, and rudp, sdmp and
// the relay never import the Prometheus library. Every metric is named
// pydevts_<part>_<what>, with its unit (_bytes, _packets) and _total for
// counters, as Prometheus's naming conventions ask; the README's
// Operations section lists them.
//
// Serve runs the HTTP server that answers on /metrics, with the Go
// runtime's and the process's metrics beside ours.
package metrics
