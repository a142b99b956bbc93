// Package rudp is the pydevts engine: encrypted connections over UDP, each
// carrying any number of ordered byte streams (package stream) and
// acknowledged, unordered messages (package message).
//
// An Endpoint serves connections on one socket. Listen makes one that
// accepts; Dial makes a private one for a single outgoing connection;
// NewEndpoint wraps any net.PacketConn (a test link, say). A Conn is one
// connection to one peer, authenticated both ways by the handshake package
// (Noise IK): a dialler names the peer by its public identity, a listener
// accepts whom its Config allows.
//
// # Goroutines
//
// An Endpoint runs a reader, which reads datagrams in batches and hands
// each to its connection by the connection ID in its header (never by its
// source address, so a connection survives its peer's address changing),
// and a handshake worker, which answers initiations off the read path. Each
// Conn runs one loop goroutine that owns all its protocol state: arriving
// packets, timers, wake-ups from streams and messages, and requests from
// its users all reach it through channels, so none of that state is locked.
//
// # A connection's life
//
//	dialler:   handshake --response--> open --Close/CloseWithError--> closing --3 PTO--> ended
//	                \--HandshakeTimeout--> ended          \--CLOSE from peer, idle timeout--> ended
//	responder: open (unconfirmed) --first packet from the initiator--> open, in the accept queue
//	                \--no packet within 10 s, or the queue is full--> ended
//
// A responder's connection is confirmed, and handed to Accept, only when a
// packet from the initiator authenticates: a replayed initiation thus never
// yields a connection, and an unconfirmed connection sends nothing beyond
// its handshake response, so a spoofed source is never sent more than it
// sent.
//
// # Reliability
//
// Every packet has a new number; acknowledgments carry ranges; the
// receiver also sends explicit, encrypted requests for packets missing
// longer than the path's reordering explains (REQUEST frames, after Tox's
// request packets). Loss is detected after RFC 9002, by packet and time
// thresholds that widen when the path proves to reorder, and by a probe
// timeout. Lost frames go back to their stream or message, which sends
// what still matters again in new packets. A congestion controller and a
// pacer keep the sender from flooding a path: by default a BBR-style
// controller that paces at the measured bottleneck rate and tells random
// loss from congestion (so 5 % loss on a radio link does not throttle it,
// while a competing flow's queue still makes it yield), or CUBIC
// (Config.CongestionControl).
// Flow control per stream, per connection and for messages bounds the
// memory at both ends.
//
// # Errors
//
// A connection that ends reports a *CloseError (a code and reason: the
// application's, or one of the Code constants) or an IdleTimeoutError;
// both unwrap to net.ErrClosed. Streams and messages of a closed connection
// fail with the same error. Bad input from the network is dropped and
// counted (EndpointStats, Stats), never answered and never logged per
// packet.
package rudp
