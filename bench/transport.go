package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// A transport is one of the things compared: pydevts, kernel TCP with a
// given congestion controller, quic-go. Each run has a server (the
// receiver of the bulk transfer, and the echo of the latency probes) and a
// client.
type transport interface {
	// listen starts a server on pc (UDP transports) or on a TCP listener at
	// addr; it returns what a client needs to reach it: the address and,
	// for pydevts, the server's public identity.
	listen(env *env) (server, error)
	// dial connects a client to the server described by info.
	dial(ctx context.Context, env *env, info serverInfo) (client, error)
}

// env is where a peer runs: the address to bind and, for in-process runs,
// the in-memory packet conn to use instead of a socket.
type env struct {
	bind string         // "10.77.0.2:0", "127.0.0.1:0"
	pc   net.PacketConn // set for in-memory runs (UDP transports only)
	cc   string         // the TCP congestion controller, for tcp-* transports
}

// packetConn returns env's in-memory packet conn, or a UDP socket bound
// to env's address.
func packetConn(env *env) (net.PacketConn, error) {
	if env.pc != nil {
		return env.pc, nil
	}
	return net.ListenPacket("udp", env.bind)
}

// serverInfo tells a client how to reach a server.
type serverInfo struct {
	Addr string `json:"addr"`
	Key  string `json:"key,omitempty"` // pydevts: the server's public identity
}

type server interface {
	info() serverInfo
	// bulk returns the stream the client sends the bulk transfer on.
	bulk(ctx context.Context) (io.Reader, error)
	// recovered returns how many packets the server rebuilt from FEC
	// parity, or -1 when the transport has no FEC.
	recovered() int64
	// echo answers latency probes until ctx ends or the client leaves.
	echo(ctx context.Context)
	messageServer // the messages workload
	close() error
}

type client interface {
	// bulk opens the stream for the bulk transfer.
	bulk(ctx context.Context) (io.WriteCloser, error)
	// ping does one request/response exchange of a small payload.
	ping(ctx context.Context) error
	// lost returns the packets (segments) the sender declared lost and
	// resent, or -1 where the transport does not say.
	lost() int64
	messageClient // the messages workload
	close() error
}

// probeSize is the request and the response of a latency probe: small,
// like a request in an RPC or a game event.
const probeSize = 64

// transportFor returns the transport of a name from scenario.KnownTransports.
func transportFor(name string) (transport, error) {
	switch name {
	case "pydevts":
		return pydevtsTransport{}, nil
	case "tcp-cubic":
		return tcpTransport{cc: "cubic"}, nil
	case "tcp-bbr":
		return tcpTransport{cc: "bbr"}, nil
	case "quic-go":
		return quicTransport{}, nil
	}
	return nil, fmt.Errorf("bench: unknown transport %q", name)
}

// udpBased reports whether a transport runs over UDP (and so can use the
// in-memory link).
func udpBased(name string) bool { return name == "pydevts" || name == "quic-go" }

// echoStream answers probes on rw: read probeSize bytes, write them back.
func echoStream(rw io.ReadWriter) {
	buf := make([]byte, probeSize)
	for {
		if _, err := io.ReadFull(rw, buf); err != nil {
			return
		}
		if _, err := rw.Write(buf); err != nil {
			return
		}
	}
}

// pingStream does one probe on rw, within ctx's deadline.
func pingStream(ctx context.Context, rw io.ReadWriter) error {
	if d, ok := ctx.Deadline(); ok {
		if dl, ok := rw.(interface{ SetDeadline(time.Time) error }); ok {
			dl.SetDeadline(d)
			defer dl.SetDeadline(time.Time{})
		}
	}
	buf := make([]byte, probeSize)
	if _, err := rw.Write(buf); err != nil {
		return err
	}
	_, err := io.ReadFull(rw, buf)
	return err
}

// Markers tell a server which of a client's connections or streams is the
// bulk transfer and which the probes.
const (
	markBulk  = 'B'
	markProbe = 'P'
)
