package handshake

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// The parameter block is a fixed paramsLen bytes inside the encrypted
// payload of the initiation and of the response, so it is authenticated and
// hidden from observers, and its size never changes the message sizes:
//
//	+---------+------+-----+-------+------+-----+-------+-----+-------------+
//	| version | type | len | value | type | len | value | ... | zero bytes  |
//	| 1 byte  |  1   |  1  |  len  |  1   |  1  |  len  |     | to 64 bytes |
//	+---------+------+-----+-------+------+-----+-------+-----+-------------+
//
// Entries are sorted by type, each type at most once; type 0 never appears
// (it would be read as padding). Unknown types are kept and handed to the
// engine, which ignores what it does not know, so new parameters need no new
// format. A new format gets a new version byte, and a version a node does not
// know fails the handshake.

// paramsVersion is the format version of the parameter block.
const paramsVersion = 1

// ParamType names one entry of a parameter block. Types 1 to 15 belong to
// this package; the engine defines its own from 16 up.
type ParamType uint8

// paramSuites is the AEAD suites the initiator offers, in its order of
// preference; in the response, the one suite the responder chose.
const paramSuites ParamType = 1

// FirstEngineParam is the lowest ParamType the engine may use.
const FirstEngineParam ParamType = 16

// A Param is one entry of a parameter block.
type Param struct {
	Type  ParamType
	Value []byte
}

// Params is a parameter block: what one side announces to the other during
// the handshake (the engine's MTU and FEC settings, for instance).
type Params []Param

// Get returns the value of the entry of type t.
func (p Params) Get(t ParamType) ([]byte, bool) {
	for _, e := range p {
		if e.Type == t {
			return e.Value, true
		}
	}
	return nil, false
}

// MaxParamsLen is how many bytes the entries of one parameter block may
// take, type and length bytes included. Four of them go to the suite
// negotiation, so the engine has the rest.
const MaxParamsLen = paramsLen - 1

// errParams is wrapped by every parameter-block error.
var errParams = errors.New("handshake: bad parameter block")

// check reports whether p can be sent by the engine: types of its own,
// distinct, short enough.
func (p Params) check() error {
	seen := map[ParamType]bool{}
	for _, e := range p {
		if e.Type < FirstEngineParam {
			return fmt.Errorf("%w: type %d is reserved for the handshake (engine types start at %d)", errParams, e.Type, FirstEngineParam)
		}
		if seen[e.Type] {
			return fmt.Errorf("%w: type %d appears twice", errParams, e.Type)
		}
		seen[e.Type] = true
		if len(e.Value) > 255 {
			return fmt.Errorf("%w: type %d has a %d-byte value; at most 255", errParams, e.Type, len(e.Value))
		}
	}
	return nil
}

// encodedLen is the number of bytes p takes in a block, version excluded.
func (p Params) encodedLen() int {
	n := 0
	for _, e := range p {
		n += 2 + len(e.Value)
	}
	return n
}

// appendParams appends the paramsLen-byte block holding p to b. p must be
// sorted by type, distinct and fit; callers make sure of that.
func appendParams(b []byte, p Params) []byte {
	start := len(b)
	b = append(b, paramsVersion)
	for _, e := range p {
		b = append(b, byte(e.Type), byte(len(e.Value)))
		b = append(b, e.Value...)
	}
	for len(b)-start < paramsLen {
		b = append(b, 0)
	}
	return b
}

// withSuites returns p sorted by type with the suite entry added, and
// checks that the whole fits one block.
func withSuites(p Params, suites []Suite) (Params, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	v := make([]byte, len(suites))
	for i, s := range suites {
		v[i] = byte(s)
	}
	all := append(Params{{Type: paramSuites, Value: v}}, p...)
	slices.SortFunc(all, func(a, b Param) int { return int(a.Type) - int(b.Type) })
	if n := all.encodedLen(); n > MaxParamsLen {
		return nil, fmt.Errorf("%w: %d bytes of parameters, at most %d fit (%d of them for the cipher suites)", errParams, n, MaxParamsLen, 2+len(v))
	}
	return all, nil
}

// parseParams reads a paramsLen-byte block. It is strict: entries in type
// order, no type twice, no type 0, padding all zero. The block is
// authenticated, so a bad one comes from a broken or hostile peer.
func parseParams(b []byte) (Params, error) {
	if len(b) != paramsLen {
		return nil, fmt.Errorf("%w: %d bytes", errParams, len(b))
	}
	if b[0] != paramsVersion {
		return nil, fmt.Errorf("%w: version %d, this node knows %d", errParams, b[0], paramsVersion)
	}
	var p Params
	rest := b[1:]
	for len(rest) > 0 && rest[0] != 0 {
		if len(rest) < 2 || int(rest[1]) > len(rest)-2 {
			return nil, fmt.Errorf("%w: entry runs past the block", errParams)
		}
		t := ParamType(rest[0])
		if len(p) > 0 && t <= p[len(p)-1].Type {
			return nil, fmt.Errorf("%w: type %d out of order or repeated", errParams, t)
		}
		n := int(rest[1])
		p = append(p, Param{Type: t, Value: bytes.Clone(rest[2 : 2+n])})
		rest = rest[2+n:]
	}
	for _, c := range rest {
		if c != 0 {
			return nil, fmt.Errorf("%w: padding is not zero", errParams)
		}
	}
	return p, nil
}

// splitSuites divides a parsed block into the engine's entries and the
// suites. Reserved types this version does not know are dropped: they are
// for a later handshake, not for the engine.
func splitSuites(p Params) (engine Params, suites []Suite) {
	for _, e := range p {
		switch {
		case e.Type == paramSuites:
			for _, c := range e.Value {
				suites = append(suites, Suite(c))
			}
		case e.Type >= FirstEngineParam:
			engine = append(engine, e)
		}
	}
	return engine, suites
}
