package wire

// FECFrame is one of the forward error correction frames (see package
// rudp/internal/fec for the code itself):
//
//	FEC_DATA:   type | group | index (1 byte)
//	FEC_PARITY: type | group | k (1 byte) | m (1 byte) | index (1 byte) | shard (to the end)
//	FEC_REPORT: type | recovered
//
// FEC_DATA opens a data packet that belongs to FEC group Group at data
// index Index. FEC_PARITY carries parity shard Index of the M protecting
// group Group's K data packets; it fills the rest of its packet. Neither is
// resent: parity is only useful before the retransmission it saves would
// have happened. A parity packet is acknowledged all the same (see
// FrameType.AckEliciting), so that its loss is known. FEC_REPORT tells the sender how many of its
// packets the receiver has rebuilt so far (a cumulative count, so a lost
// report is superseded by the next): with the losses it detects itself,
// that is the path's loss, which the parity ratio follows.
type FECFrame struct {
	Group     uint64
	K, M      int
	Index     int
	Shard     []byte
	Recovered uint64
}

// FECParityHeaderLen returns the bytes a FEC_PARITY frame of group spends
// before its shard.
func FECParityHeaderLen(group uint64) int { return 1 + VarintLen(group) + 3 }

// AppendFECData appends a FEC_DATA frame.
func AppendFECData(b []byte, group uint64, index int) []byte {
	return append(AppendVarint(append(b, byte(FrameFECData)), group), byte(index))
}

// AppendFECParity appends a FEC_PARITY frame; it must be the packet's last.
func AppendFECParity(b []byte, group uint64, k, m, index int, shard []byte) []byte {
	b = AppendVarint(append(b, byte(FrameFECParity)), group)
	return append(append(b, byte(k), byte(m), byte(index)), shard...)
}

// AppendFECReport appends a FEC_REPORT frame.
func AppendFECReport(b []byte, recovered uint64) []byte {
	return AppendVarint(append(b, byte(FrameFECReport)), recovered)
}

func parseFEC(r *reader, t FrameType, f *FECFrame) {
	switch t {
	case FrameFECData:
		f.Group = r.varint()
		f.Index = int(r.byte())
	case FrameFECParity:
		f.Group = r.varint()
		f.K, f.M, f.Index = int(r.byte()), int(r.byte()), int(r.byte())
		f.Shard = r.rest()
	case FrameFECReport:
		f.Recovered = r.varint()
	}
}
