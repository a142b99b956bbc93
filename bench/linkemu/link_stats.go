package linkemu

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// nsCounters are the kernel counters of one namespace that LinkStats
// reports.
type nsCounters struct {
	tunTxDropped  uint64
	udpRcvbufErrs uint64
	udpInCsumErrs uint64
	tcpInCsumErrs uint64
}

// netDevTxDropped reads the transmit "drop" column of interface ifname
// from the text of /proc/net/dev: the device's tx_dropped, which for a TUN
// counts packets that found its queue to the reader full.
//
// The format is two header lines, then one line per interface:
//
//	name: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed rx_multicast
//	      tx_bytes tx_packets tx_errs tx_drop tx_fifo tx_colls tx_carrier tx_compressed
func netDevTxDropped(data []byte, ifname string) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != ifname {
			continue
		}
		f := strings.Fields(rest)
		const txDrop = 11
		if len(f) <= txDrop {
			return 0, fmt.Errorf("/proc/net/dev: line of %s has %d fields, want at least %d", ifname, len(f), txDrop+1)
		}
		v, err := strconv.ParseUint(f[txDrop], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/net/dev: %s tx drop: %w", ifname, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("/proc/net/dev: no interface %s", ifname)
}

// parseSNMP reads the text of /proc/net/snmp: for each protocol a line of
// names and a line of values with the same prefix ("Udp: InDatagrams ..."
// then "Udp: 12 ..."). It returns value by protocol and name.
func parseSNMP(data []byte) (map[string]map[string]uint64, error) {
	out := make(map[string]map[string]uint64)
	var names []string
	var proto string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		p, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil || p != proto {
			proto, names = p, f
			continue
		}
		if len(f) != len(names) {
			return nil, fmt.Errorf("/proc/net/snmp: %s has %d names but %d values", p, len(names), len(f))
		}
		m := make(map[string]uint64, len(f))
		for i, s := range f {
			// Some fields (Tcp MaxConn) are signed; a negative one is
			// none of ours, so keep it as 0.
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				if _, ierr := strconv.ParseInt(s, 10, 64); ierr != nil {
					return nil, fmt.Errorf("/proc/net/snmp: %s %s = %q: %w", p, names[i], s, err)
				}
			}
			m[names[i]] = v
		}
		out[p] = m
		names = nil
	}
	return out, nil
}

// snmpCounters fills c's UDP and TCP counters from /proc/net/snmp text.
func (c *nsCounters) snmpCounters(data []byte) error {
	m, err := parseSNMP(data)
	if err != nil {
		return err
	}
	udp, tcp := m["Udp"], m["Tcp"]
	if udp == nil || tcp == nil {
		return fmt.Errorf("/proc/net/snmp: no Udp or Tcp lines")
	}
	c.udpRcvbufErrs = udp["RcvbufErrors"]
	c.udpInCsumErrs = udp["InCsumErrors"]
	c.tcpInCsumErrs = tcp["InCsumErrors"]
	return nil
}

// setSide puts the counters of namespace i (0 for A) into s.
func (s *LinkStats) setSide(i int, c nsCounters) {
	if i == 0 {
		s.TunTxDroppedA, s.UDPRcvbufErrorsA = c.tunTxDropped, c.udpRcvbufErrs
		s.UDPInCsumErrorsA, s.TCPInCsumErrorsA = c.udpInCsumErrs, c.tcpInCsumErrs
		return
	}
	s.TunTxDroppedB, s.UDPRcvbufErrorsB = c.tunTxDropped, c.udpRcvbufErrs
	s.UDPInCsumErrorsB, s.TCPInCsumErrorsB = c.udpInCsumErrs, c.tcpInCsumErrs
}
