package linkemu

import "encoding/binary"

// IP protocol numbers of the transports whose headers the corruption
// steps over (IANA "Assigned Internet Protocol Numbers").
const (
	protoTCP = 6
	protoUDP = 17
)

// flipPayloadBit flips one bit of the IP packet pkt, chosen by bit (a
// Fate's Bit, below 8*len(pkt)), inside the transport payload: after the
// IP header and the TCP or UDP header. Its checksum is left as it was, so
// the receiving kernel finds it wrong and drops the packet (Udp or Tcp
// InCsumErrors), which is what a damaged packet on a real link comes to
// (research/linkemu.md, pitfall 8: 311 corrupted datagrams were 311
// InCsumErrors). A bit in the IP header would instead be caught by the
// header checksum or, worse, change an address.
//
// The bit is bit modulo the payload's size in bits, so it stays uniform
// over the payload. A packet with no payload (a bare TCP ACK) gets the
// bit in its transport header instead, which its checksum covers too; a
// packet with nothing after the IP header, or one that is not IPv4 or
// IPv6, anywhere. A UDP datagram sent without a checksum (zero, IPv4 only)
// is delivered damaged, as it would be on a real link.
func flipPayloadBit(pkt []byte, bit int) {
	lo, hi := corruptSpan(pkt)
	if hi <= lo {
		lo, hi = 0, len(pkt)
		if hi == 0 {
			return
		}
	}
	b := max(bit, 0) % (8 * (hi - lo))
	pkt[lo+b/8] ^= 1 << (b % 8)
}

// corruptSpan is the part of pkt where flipPayloadBit puts its bit: the
// transport payload, or the transport segment when the payload is empty,
// or an empty span when the packet cannot be parsed.
func corruptSpan(pkt []byte) (lo, hi int) {
	if len(pkt) == 0 {
		return 0, 0
	}
	var hdr, end, proto int
	first := true // the first fragment, or a whole packet: it has the transport header
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return 0, 0
		}
		hdr = int(pkt[0]&0x0f) * 4
		end = min(int(binary.BigEndian.Uint16(pkt[2:])), len(pkt))
		proto = int(pkt[9])
		first = binary.BigEndian.Uint16(pkt[6:])&0x1fff == 0
	case 6:
		// Extension headers are not followed: a packet that has them is
		// corrupted somewhere in its extensions or transport, which its
		// checksum or parser still rejects.
		if len(pkt) < 40 {
			return 0, 0
		}
		hdr = 40
		end = min(40+int(binary.BigEndian.Uint16(pkt[4:])), len(pkt))
		proto = int(pkt[6])
	default:
		return 0, 0
	}
	if hdr < 20 || hdr >= end {
		return 0, 0
	}
	l4 := 0 // transport header length
	if first {
		switch proto {
		case protoUDP:
			l4 = 8
		case protoTCP:
			if hdr+13 <= end {
				l4 = int(pkt[hdr+12]>>4) * 4
			}
		}
	}
	if l4 > 0 && hdr+l4 < end {
		return hdr + l4, end
	}
	return hdr, end
}
