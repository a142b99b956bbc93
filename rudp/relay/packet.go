package relay

import (
	"fmt"
)

// A Type is a relay packet's type: the first byte of a frame's plaintext,
// except that every byte from 16 up is a Data packet on that connection id.
type Type uint8

// The packet types (research/tox.md, section 2).
const (
	TypeRouteRequest           Type = 0  // C→S 00 ‖ pk(32)
	TypeRouteResponse          Type = 1  // S→C 01 ‖ id ‖ pk(32)
	TypeConnectNotification    Type = 2  // S→C 02 ‖ id
	TypeDisconnectNotification Type = 3  // both 03 ‖ id
	TypePingRequest            Type = 4  // both 04 ‖ ping id(8)
	TypePongResponse           Type = 5  // both 05 ‖ ping id(8)
	TypeOOBSend                Type = 6  // C→S 06 ‖ destination pk(32) ‖ data(1..1024)
	TypeOOBReceive             Type = 7  // S→C 07 ‖ sender pk(32) ‖ data
	TypeOnionRequest           Type = 8  // C→S 08 ‖ nonce ‖ ip_port ‖ temp pk ‖ onion (> 159 bytes in all)
	TypeOnionResponse          Type = 9  // S→C 09 ‖ onion response
	TypeForwardRequest         Type = 10 // C→S 0A ‖ ip_port ‖ data (newer toxcore: DHT announce forwarding)
	TypeForwarding             Type = 11 // S→C 0B ‖ data
	TypeData                   Type = 16 // both id(16..255) ‖ payload(1..2031)
)

var typeNames = [...]string{
	"route request", "route response", "connect notification", "disconnect notification",
	"ping request", "pong response", "OOB send", "OOB receive",
	"onion request", "onion response", "forward request", "forwarding",
}

func (t Type) String() string {
	switch {
	case int(t) < len(typeNames):
		return typeNames[t]
	case t >= TypeData:
		return "data"
	}
	return fmt.Sprintf("reserved packet type %d", uint8(t))
}

// Link and size limits (research/tox.md, section 2).
const (
	// NumLinks is how many peers one client can route to through one relay
	// at a time: toxcore's NUM_CLIENT_CONNECTIONS (256 minus the 16 packet
	// ids), tox-rs MAX_LINKS_N.
	NumLinks = 240
	// MaxData is the largest Data payload: a frame's plaintext less the
	// connection id byte.
	MaxData = MaxPlaintext - 1 // 2031
	// MaxOOB is the largest OOB payload, toxcore's TCP_MAX_OOB_DATA_LENGTH:
	// big enough for net_crypto's handshake packets.
	MaxOOB = 1024
	// minOnionRequest is one more than toxcore's 1 + nonce 24 + 2 × 67
	// (ONION_SEND_BASE): the shortest onion request it would relay.
	minOnionRequest = 160
)

// A ConnID is a connection id: the wire name, 16 to 255, of one of a
// client's NumLinks links. Each client has its own ids for its links; the
// relay rewrites the id when it forwards. 0 in a route response means the
// route was refused.
type ConnID uint8

// FirstConnID is the lowest connection id; lower bytes are packet types.
const FirstConnID ConnID = 16

// Valid reports whether c names a link (16 to 255).
func (c ConnID) Valid() bool { return c >= FirstConnID }

// index is c's link slot, 0 to NumLinks-1; c must be valid.
func (c ConnID) index() int { return int(c - FirstConnID) }

// connIDOf is the connection id of link slot i.
func connIDOf(i int) ConnID { return FirstConnID + ConnID(i) }

// A PingID identifies a ping and its pong. The 8 bytes are opaque: toxcore
// copies them in host order, tox-rs reads them big-endian, so they are
// only ever compared and echoed. A sender never uses all zeros.
type PingID [8]byte

// IsZero reports whether p is the all-zero id, which no pong may carry.
func (p PingID) IsZero() bool { return p == PingID{} }

// A Packet is one relay packet, the plaintext of one frame. Which fields
// mean something depends on Type; the others are zero.
type Packet struct {
	Type Type
	// ConnID: RouteResponse (0: refused), Connect- and
	// DisconnectNotification, Data.
	ConnID ConnID
	// Key: RouteRequest and RouteResponse (the peer), OOBSend (the
	// destination), OOBReceive (the sender).
	Key PublicKey
	// PingID: PingRequest and PongResponse.
	PingID PingID
	// Payload: Data, OOBSend and OOBReceive data, and the opaque rest of
	// the onion and forwarding packets. ParsePacket makes it a subslice of
	// its input.
	Payload []byte
}

// ParsePacket reads a frame's plaintext. It checks every size rule of the
// Tox relay protocol, for both directions: which packets a side may
// receive, and what it does with a packet that breaks a rule, is the
// server's and the client's business. On error the Packet's Type is still
// set (when b is not empty), so a receiver can decide per type.
func ParsePacket(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, errFrameEmpty
	}
	p := Packet{Type: Type(b[0])}
	if p.Type >= TypeData {
		p.Type, p.ConnID = TypeData, ConnID(b[0])
	}
	if len(b) > MaxPlaintext {
		return p, fmt.Errorf("relay: %s is %d bytes, more than a frame carries (%d)", p.Type, len(b), MaxPlaintext)
	}
	body := b[1:]
	switch p.Type {
	case TypeRouteRequest:
		if len(b) != 1+KeySize {
			return p, sizeError(p.Type, len(b), "exactly 33")
		}
		copy(p.Key[:], body)
	case TypeRouteResponse:
		if len(b) != 2+KeySize {
			return p, sizeError(p.Type, len(b), "exactly 34")
		}
		p.ConnID = ConnID(body[0])
		copy(p.Key[:], body[1:])
		if p.ConnID != 0 && !p.ConnID.Valid() {
			return p, fmt.Errorf("relay: route response with connection id %d, which is neither 0 (refused) nor 16 to 255", p.ConnID)
		}
	case TypeConnectNotification, TypeDisconnectNotification:
		if len(b) != 2 {
			return p, sizeError(p.Type, len(b), "exactly 2")
		}
		p.ConnID = ConnID(body[0])
		if !p.ConnID.Valid() {
			return p, fmt.Errorf("relay: %s for connection id %d, below 16", p.Type, p.ConnID)
		}
	case TypePingRequest, TypePongResponse:
		if len(b) != 1+len(p.PingID) {
			return p, sizeError(p.Type, len(b), "exactly 9")
		}
		copy(p.PingID[:], body)
	case TypeOOBSend, TypeOOBReceive:
		// The limit is toxcore's on OOB send; a server only ever sends
		// what a client could send, so OOB receive has the same one.
		if n := len(body) - KeySize; n < 1 || n > MaxOOB {
			return p, sizeError(p.Type, len(b), "34 to 1057 (data of 1 to 1024)")
		}
		copy(p.Key[:], body)
		p.Payload = body[KeySize:]
	case TypeOnionRequest:
		if len(b) < minOnionRequest {
			return p, sizeError(p.Type, len(b), "more than 159")
		}
		p.Payload = body
	case TypeOnionResponse, TypeForwardRequest, TypeForwarding:
		if len(body) == 0 {
			return p, sizeError(p.Type, len(b), "more than 1")
		}
		p.Payload = body
	case TypeData:
		if len(body) == 0 {
			return p, fmt.Errorf("relay: data packet on connection id %d is empty", p.ConnID)
		}
		p.Payload = body
	default:
		return p, fmt.Errorf("relay: %s", p.Type)
	}
	return p, nil
}

func sizeError(t Type, n int, want string) error {
	return fmt.Errorf("relay: %s is %d bytes, want %s", t, n, want)
}

// Len returns the size of p's encoding (without checking p).
func (p *Packet) Len() int {
	switch p.Type {
	case TypeRouteRequest:
		return 1 + KeySize
	case TypeRouteResponse:
		return 2 + KeySize
	case TypeConnectNotification, TypeDisconnectNotification:
		return 2
	case TypePingRequest, TypePongResponse:
		return 1 + len(p.PingID)
	case TypeOOBSend, TypeOOBReceive:
		return 1 + KeySize + len(p.Payload)
	}
	return 1 + len(p.Payload)
}

// Append appends p's encoding to b. It refuses a packet that ParsePacket
// would refuse, so what it writes always parses back to p.
func (p *Packet) Append(b []byte) ([]byte, error) {
	if p.Type > TypeForwarding && p.Type != TypeData {
		return b, fmt.Errorf("relay: cannot encode a %s", p.Type)
	}
	start := len(b)
	if p.Type == TypeData {
		if !p.ConnID.Valid() {
			return b, fmt.Errorf("relay: data packet for connection id %d, below 16", p.ConnID)
		}
		b = append(b, byte(p.ConnID))
	} else {
		b = append(b, byte(p.Type))
	}
	switch p.Type {
	case TypeRouteRequest:
		b = append(b, p.Key[:]...)
	case TypeRouteResponse:
		b = append(b, byte(p.ConnID))
		b = append(b, p.Key[:]...)
	case TypeConnectNotification, TypeDisconnectNotification:
		b = append(b, byte(p.ConnID))
	case TypePingRequest, TypePongResponse:
		b = append(b, p.PingID[:]...)
	case TypeOOBSend, TypeOOBReceive:
		b = append(b, p.Key[:]...)
		b = append(b, p.Payload...)
	default:
		b = append(b, p.Payload...)
	}
	// One set of rules: check what was written with the parser.
	if _, err := ParsePacket(b[start:]); err != nil {
		return b[:start], err
	}
	return b, nil
}
