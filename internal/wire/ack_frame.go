package wire

import "time"

// AckRange is an inclusive range of packet numbers.
type AckRange struct {
	Smallest, Largest uint64
}

// AckFrame is an ACK (the packets received) or a REQUEST (the packets the
// receiver misses and wants resent now). Ranges are in descending order,
// disjoint and not adjacent.
//
//	ACK:     type | largest | delay µs | range count | first range | (gap | range)...
//	REQUEST: type | largest |            range count | first range | (gap | range)...
//
// As in QUIC (RFC 9000 section 19.3.1): "first range" is how many packets
// below the largest the first range reaches; each further range follows a
// gap of (gap + 1) packets below the previous range's smallest, and
// reaches "range" packets below its own largest. The range count excludes
// the first range.
//
// REQUEST is pydevts's form of Tox's "request packet": a receiver that sees
// a hole stay open longer than reordering explains names the packets it
// lacks, inside the encrypted payload, so a relay can neither forge such a
// request nor hide one.
type AckFrame struct {
	Ranges []AckRange
	Delay  time.Duration // ACK only: how long the receiver held the ack
}

// MaxAckRanges bounds the ranges of a parsed ACK or REQUEST: a receiver
// that has more holes than this reports the newest ones, and a frame
// claiming more is malformed. 256 ranges cover heavy loss over a window of
// thousands of packets and cost at most a few kilobytes to parse.
const MaxAckRanges = 256

// AppendAck appends an ACK frame for ranges (descending, disjoint, not
// adjacent, at most MaxAckRanges) held for delay.
func AppendAck(b []byte, ranges []AckRange, delay time.Duration) []byte {
	return appendRanges(append(b, byte(FrameAck)), ranges, delay, true)
}

// AppendRequest appends a REQUEST frame for the missing ranges.
func AppendRequest(b []byte, missing []AckRange) []byte {
	return appendRanges(append(b, byte(FrameRequest)), missing, 0, false)
}

func appendRanges(b []byte, ranges []AckRange, delay time.Duration, withDelay bool) []byte {
	b = AppendVarint(b, ranges[0].Largest)
	if withDelay {
		b = AppendVarint(b, uint64(max(delay, 0)/time.Microsecond))
	}
	b = AppendVarint(b, uint64(len(ranges)-1))
	b = AppendVarint(b, ranges[0].Largest-ranges[0].Smallest)
	for i := 1; i < len(ranges); i++ {
		b = AppendVarint(b, ranges[i-1].Smallest-ranges[i].Largest-2)
		b = AppendVarint(b, ranges[i].Largest-ranges[i].Smallest)
	}
	return b
}

// AckLen returns the length of the ACK frame AppendAck would write.
func AckLen(ranges []AckRange, delay time.Duration) int {
	n := 1 + VarintLen(ranges[0].Largest) + VarintLen(uint64(max(delay, 0)/time.Microsecond)) +
		VarintLen(uint64(len(ranges)-1)) + VarintLen(ranges[0].Largest-ranges[0].Smallest)
	for i := 1; i < len(ranges); i++ {
		n += VarintLen(ranges[i-1].Smallest-ranges[i].Largest-2) + VarintLen(ranges[i].Largest-ranges[i].Smallest)
	}
	return n
}

func parseAck(r *reader, f *AckFrame, withDelay bool) {
	f.Ranges = f.Ranges[:0]
	f.Delay = 0
	largest := r.varint()
	if withDelay {
		us := r.varint()
		if us > uint64(time.Hour/time.Microsecond) {
			us = uint64(time.Hour / time.Microsecond) // a silly delay cannot overflow a Duration
		}
		f.Delay = time.Duration(us) * time.Microsecond
	}
	count := r.varint()
	first := r.varint()
	if r.bad || count >= MaxAckRanges || first > largest {
		r.bad = true
		return
	}
	f.Ranges = append(f.Ranges, AckRange{Smallest: largest - first, Largest: largest})
	for range count {
		gap, length := r.varint(), r.varint()
		prev := f.Ranges[len(f.Ranges)-1].Smallest
		if r.bad || prev < gap+2 || prev-gap-2 < length {
			r.bad = true
			return
		}
		top := prev - gap - 2
		f.Ranges = append(f.Ranges, AckRange{Smallest: top - length, Largest: top})
	}
}
