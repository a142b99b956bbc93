package linkemu

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// These tests need no privileges and run everywhere: configuration
// errors, where corruption puts its bit, and the parsing of the kernel's
// counters. The link itself is tested in link_*_linux_test.go.

func TestLinkConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  LinkConfig
		want string
	}{
		{LinkConfig{AB: Spec{Loss: 2}}, "LinkConfig.AB.Loss"},
		{LinkConfig{BA: Spec{Delay: -1}}, "LinkConfig.BA.Delay"},
		{LinkConfig{MTU: 67}, "LinkConfig.MTU = 67"},
		{LinkConfig{MTU: 65536}, "LinkConfig.MTU = 65536"},
		{LinkConfig{MTU: -1}, "LinkConfig.MTU = -1"},
		{LinkConfig{Slack: -time.Microsecond}, "LinkConfig.Slack"},
	} {
		l, err := NewLink(c.cfg)
		if err == nil {
			l.Close()
			t.Errorf("NewLink(%+v): no error, want one naming %s", c.cfg, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewLink(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
	got, err := LinkConfig{}.check()
	if err != nil || got.MTU != DefaultLinkMTU || got.Slack != DefaultSlack {
		t.Errorf("zero LinkConfig: %+v, %v; want MTU %d, Slack %v", got, err, DefaultLinkMTU, DefaultSlack)
	}
}

func TestSideIndex(t *testing.T) {
	for side, want := range map[byte]int{'A': 0, 'a': 0, 'B': 1, 'b': 1} {
		if i, err := sideIndex(side); i != want || err != nil {
			t.Errorf("sideIndex(%q) = %d, %v", side, i, err)
		}
	}
	if _, err := sideIndex('C'); err == nil || !strings.Contains(err.Error(), "'A' or 'B'") {
		t.Errorf("sideIndex('C') = %v, want an error", err)
	}
}

// ipv4 builds an IPv4 packet of protocol proto around an L4 segment.
func ipv4(proto byte, l4 []byte) []byte {
	p := make([]byte, 20+len(l4))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8], p[9] = 64, proto
	copy(p[20:], l4)
	return p
}

// tcpSeg is a TCP segment with a header of hlen bytes and payload.
func tcpSeg(hlen int, payload []byte) []byte {
	s := make([]byte, hlen+len(payload))
	s[12] = byte(hlen/4) << 4
	copy(s[hlen:], payload)
	return s
}

func TestFlipPayloadBit(t *testing.T) {
	payload := make([]byte, 100)
	ipv6 := func(proto byte, l4 []byte) []byte {
		p := make([]byte, 40+len(l4))
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(l4)))
		p[6] = proto
		copy(p[40:], l4)
		return p
	}
	frag := ipv4(protoUDP, make([]byte, 64))
	binary.BigEndian.PutUint16(frag[6:], 185) // fragment offset 185*8
	padded := append(ipv4(protoUDP, make([]byte, 8+10)), make([]byte, 30)...)
	for _, c := range []struct {
		name   string
		pkt    []byte
		lo, hi int // where every flip must land
	}{
		{"IPv4 UDP", ipv4(protoUDP, append(make([]byte, 8), payload...)), 28, 128},
		{"IPv4 TCP with options", ipv4(protoTCP, tcpSeg(32, payload)), 52, 152},
		{"IPv4 TCP bare ACK", ipv4(protoTCP, tcpSeg(32, nil)), 20, 52},
		{"IPv4 with options, UDP", func() []byte {
			p := ipv4(protoUDP, append(make([]byte, 8+8), payload...)) // 8 bytes of IP options, then UDP
			p[0] = 0x47
			return p
		}(), 36, 136},
		{"IPv4 later fragment", frag, 20, 84},
		{"IPv4 ICMP", ipv4(1, make([]byte, 64)), 20, 84},
		{"IPv4 with trailing padding", padded, 28, 38},
		{"IPv6 UDP", ipv6(protoUDP, append(make([]byte, 8), payload...)), 48, 148},
		{"IPv6 TCP", ipv6(protoTCP, tcpSeg(20, payload)), 60, 160},
		{"not IP", []byte{0x00, 1, 2, 3}, 0, 4},
		{"IPv4 header only", ipv4(protoUDP, nil), 0, 20},
		{"truncated IPv4", []byte{0x45, 0, 0, 40, 0}, 0, 5},
	} {
		hits := make([]int, len(c.pkt)*8)
		for bit := range 8 * len(c.pkt) {
			p := append([]byte(nil), c.pkt...)
			flipPayloadBit(p, bit)
			changed := -1
			for i := range p {
				if d := p[i] ^ c.pkt[i]; d != 0 {
					if changed >= 0 || d&(d-1) != 0 {
						t.Fatalf("%s: bit %d flipped more than one bit", c.name, bit)
					}
					changed = i*8 + int(bitIndex(d))
				}
			}
			if changed < 0 {
				t.Fatalf("%s: bit %d flipped nothing", c.name, bit)
			}
			if changed < c.lo*8 || changed >= c.hi*8 {
				t.Fatalf("%s: bit %d flipped bit %d (byte %d), outside bytes [%d, %d)", c.name, bit, changed, changed/8, c.lo, c.hi)
			}
			hits[changed]++
		}
		// Uniform: every bit of the span is hit floor or ceil of the ratio.
		span := 8 * (c.hi - c.lo)
		lo, hi := 8*len(c.pkt)/span, (8*len(c.pkt)+span-1)/span
		for b := c.lo * 8; b < c.hi*8; b++ {
			if hits[b] < lo || hits[b] > hi {
				t.Fatalf("%s: bit %d hit %d times, want %d..%d", c.name, b, hits[b], lo, hi)
			}
		}
	}
	flipPayloadBit(nil, 0) // must not panic
}

// bitIndex is the index of the single set bit of d.
func bitIndex(d byte) int {
	for i := range 8 {
		if d == 1<<i {
			return i
		}
	}
	return -1
}

// Real files of a namespace on this project's machine kind (Linux 6.18).
const (
	sampleNetDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
 lemu0:    6600     200    0    0    0     0          0         0     6600     200    0   17    0     0       0          0
`
	sampleSNMP = `Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 1971103 0 0 0 0 0 1971103 1971308 0 0 0 0 0 0 0 0 0 1971308
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 35 2 0 0 0 3677 3908 0 0 2 5
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 1959176 3950 0 1963476 3 0 7 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 99 0 99 0 0
`
)

func TestKernelCounters(t *testing.T) {
	if v, err := netDevTxDropped([]byte(sampleNetDev), "lemu0"); v != 17 || err != nil {
		t.Errorf("tx_dropped of lemu0 = %d, %v; want 17", v, err)
	}
	if _, err := netDevTxDropped([]byte(sampleNetDev), "eth0"); err == nil {
		t.Error("tx_dropped of a missing interface: no error")
	}
	var c nsCounters
	if err := c.snmpCounters([]byte(sampleSNMP)); err != nil {
		t.Fatal(err)
	}
	if want := (nsCounters{udpRcvbufErrs: 3, udpInCsumErrs: 7, tcpInCsumErrs: 5}); c != want {
		t.Errorf("snmp counters = %+v, want %+v", c, want)
	}
	if err := c.snmpCounters([]byte("Udp: A B\nUdp: 1\n")); err == nil {
		t.Error("snmp with fewer values than names: no error")
	}
}

func TestLinkStatsCheck(t *testing.T) {
	if err := (LinkStats{}).Check(); err != nil {
		t.Errorf("zero stats: %v", err)
	}
	// Checksum errors are expected where the emulator corrupted towards,
	// one per corrupted copy delivered (a duplicated one counts twice).
	ok := LinkStats{AB: Stats{Corrupted: 4, CorruptedCopies: 4}, UDPInCsumErrorsB: 3, TCPInCsumErrorsB: 1}
	if err := ok.Check(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
	dup := LinkStats{AB: Stats{Corrupted: 4, CorruptedCopies: 5}, TCPInCsumErrorsB: 5}
	if err := dup.Check(); err != nil {
		t.Errorf("a duplicated corrupted packet, counted twice by the kernel: %v", err)
	}
	for _, s := range []LinkStats{
		{TunTxDroppedB: 1},
		{UDPRcvbufErrorsA: 1},
		{AB: Stats{Corrupted: 4, CorruptedCopies: 4}, UDPInCsumErrorsA: 1},
		{AB: Stats{Corrupted: 4, CorruptedCopies: 4}, UDPInCsumErrorsB: 4, TCPInCsumErrorsB: 1},
		{TunIOErrors: 1},
	} {
		if err := s.Check(); err == nil || !strings.Contains(err.Error(), "hidden loss") {
			t.Errorf("%+v: Check = %v, want hidden loss", s, err)
		}
	}
}
