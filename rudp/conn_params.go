package rudp

import (
	"fmt"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/message"
	"github.com/pydevts/pydevts/rudp/internal/fec"
	"github.com/pydevts/pydevts/stream"
)

// The engine's entries in the handshake's parameter block: what each side
// grants the other at the start, each a varint.
const (
	paramMaxData        = handshake.FirstEngineParam + iota // connection window
	paramMaxStreamData                                      // per-stream window
	paramMaxStreams                                         // streams the peer may open
	paramMaxMessageData                                     // message window
	paramIdleTimeout                                        // milliseconds
	paramMaxDatagram                                        // largest datagram we receive
	paramFEC                                                // most FEC data shards per group we decode; 0 or absent: none
)

// transportParams is what one side announces.
type transportParams struct {
	streams     stream.Limits
	messages    uint64
	idle        time.Duration
	maxDatagram int
	fec         int // the largest FEC group we decode, 0 for none
}

func (c *config) transportParams() transportParams {
	return transportParams{
		streams:     stream.LimitsOf(c.streams),
		messages:    message.LimitOf(c.messages),
		idle:        c.IdleTimeout,
		maxDatagram: c.recvBufSize(),
		fec:         c.fecDecodes(),
	}
}

// fecDecodes is the largest FEC group this node decodes: fec.MaxData, or
// 0 when FEC is disabled.
func (c *config) fecDecodes() int {
	if c.DisableFEC {
		return 0
	}
	return fec.MaxData
}

// recvBufSize is the largest datagram this node reads whole.
func (c *config) recvBufSize() int { return max(2048, c.MaxDatagram) }

func (p transportParams) encode() handshake.Params {
	v := func(x uint64) []byte { return wire.AppendVarint(nil, x) }
	return handshake.Params{
		{Type: paramMaxData, Value: v(p.streams.MaxData)},
		{Type: paramMaxStreamData, Value: v(p.streams.MaxStreamData)},
		{Type: paramMaxStreams, Value: v(p.streams.MaxStreams)},
		{Type: paramMaxMessageData, Value: v(p.messages)},
		{Type: paramIdleTimeout, Value: v(uint64(p.idle / time.Millisecond))},
		{Type: paramMaxDatagram, Value: v(uint64(p.maxDatagram))},
		{Type: paramFEC, Value: v(uint64(p.fec))},
	}
}

// decodeParams reads the peer's parameters; each is required (a peer that
// leaves one out speaks another version) but the FEC group size, whose
// absence means the peer decodes no parity, and unknown ones are ignored.
func decodeParams(ps handshake.Params) (transportParams, error) {
	var p transportParams
	get := func(t handshake.ParamType) (uint64, error) {
		b, ok := ps.Get(t)
		if !ok {
			return 0, fmt.Errorf("peer sent no transport parameter %d", t)
		}
		x, n := wire.ConsumeVarint(b)
		if n != len(b) {
			return 0, fmt.Errorf("peer's transport parameter %d is malformed", t)
		}
		return x, nil
	}
	var err error
	val := func(t handshake.ParamType) uint64 {
		x, e := get(t)
		if err == nil {
			err = e
		}
		return x
	}
	p.streams.MaxData = val(paramMaxData)
	p.streams.MaxStreamData = val(paramMaxStreamData)
	p.streams.MaxStreams = val(paramMaxStreams)
	p.messages = val(paramMaxMessageData)
	idle := val(paramIdleTimeout)
	dgram := val(paramMaxDatagram)
	if err != nil {
		return p, err
	}
	if dgram < minDatagram || dgram > 65507 || idle == 0 || idle > uint64(24*time.Hour/time.Millisecond) {
		return p, fmt.Errorf("peer's transport parameters out of range (datagram %d, idle %d ms)", dgram, idle)
	}
	if b, ok := ps.Get(paramFEC); ok {
		x, n := wire.ConsumeVarint(b)
		if n != len(b) {
			return p, fmt.Errorf("peer's transport parameter %d is malformed", paramFEC)
		}
		// A peer decoding larger groups than ours gets ours.
		p.fec = int(min(x, fec.MaxData))
	}
	p.idle = time.Duration(idle) * time.Millisecond
	p.maxDatagram = int(dgram)
	return p, nil
}
