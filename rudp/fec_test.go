package rudp

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/internal/wire"
	"github.com/pydevts/pydevts/rudp/internal/fec"
)

// sparseMessages sends n messages of size bytes, one every interval, from
// client to server, each from its own goroutine (SendMessage waits for the
// acknowledgment), and returns each message's delivery latency in send
// order. It fails the test unless every message arrives exactly once,
// intact.
func sparseMessages(t *testing.T, client, server *Conn, n, size int, interval time.Duration) []time.Duration {
	t.Helper()
	ctx := context.Background()
	latency := make([]time.Duration, n)
	received := make(chan struct{})
	go func() {
		defer close(received)
		for range n {
			msg, err := server.ReceiveMessage(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			i := binary.BigEndian.Uint32(msg)
			if int(i) >= n || latency[i] != 0 || len(msg) != size {
				t.Errorf("message %d (%d bytes) unexpected or twice", i, len(msg))
				return
			}
			for j := 12; j < size; j++ {
				if msg[j] != byte(int(i)+j) {
					t.Errorf("message %d corrupted at byte %d", i, j)
					return
				}
			}
			latency[i] = time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(msg[4:])))
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		msg := make([]byte, size)
		binary.BigEndian.PutUint32(msg, uint32(i))
		binary.BigEndian.PutUint64(msg[4:], uint64(time.Now().UnixNano()))
		for j := 12; j < size; j++ {
			msg[j] = byte(i + j)
		}
		wg.Go(func() {
			if err := client.SendMessage(ctx, msg); err != nil {
				t.Errorf("message %d: %v", i, err)
			}
		})
		time.Sleep(interval)
	}
	<-received
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return latency
}

// percentile returns the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestFECRepairsSparseMessages: messages of 1 KiB at 200 per second over
// a 40 ms RTT with 5 % loss each way, the latency row, in virtual
// time. With FEC the receiver rebuilds lost packets from parity, so the
// 99th percentile of delivery stays within 1.5 RTT; without it, a lost
// message waits for a retransmission, a round trip or more. A receiver that
// disables FEC gets no parity.
func TestFECRepairsSparseMessages(t *testing.T) {
	const rtt = 40 * time.Millisecond
	spec := linkemu.Spec{Delay: rtt / 2, Rate: 200_000_000, Loss: 0.05}
	run := func(t *testing.T, disable bool) (p99 time.Duration, client, server Stats) {
		synctest.Test(t, func(t *testing.T) {
			// Only the receiver disables FEC: the sender learns it from
			// the handshake.
			cfg := &Config{IdleTimeout: time.Minute, HandshakeTimeout: time.Minute}
			recvCfg := &Config{DisableFEC: disable, IdleTimeout: time.Minute, HandshakeTimeout: time.Minute}
			p := newPair(t, spec, cfg, recvCfg)
			c, s := p.connect(t)
			lat := sparseMessages(t, c, s, 2000, 1024, 5*time.Millisecond)
			p99 = percentile(lat[200:], 0.99) // after the first second
			client, server = c.Stats(), s.Stats()
		})
		return
	}
	p99, cs, ss := run(t, false)
	t.Logf("FEC: p99 %v; client sent %d parity packets, loss estimate %.3f; server rebuilt %d, %d lost",
		p99, cs.ParitySent, cs.LossEstimate, ss.Recovered, cs.PacketsLost)
	if cs.ParitySent == 0 || ss.Recovered == 0 {
		t.Errorf("no FEC at 5 %% loss: %d parity packets sent, %d packets rebuilt", cs.ParitySent, ss.Recovered)
	}
	if cs.LossEstimate < 0.02 || cs.LossEstimate > 0.1 {
		t.Errorf("loss estimate %.3f on a 5 %% link (rebuilt packets must count as lost)", cs.LossEstimate)
	}
	if p99 > rtt*3/2 {
		t.Errorf("p99 delivery latency %v with FEC, more than 1.5 RTT (%v)", p99, rtt*3/2)
	}
	off, cs, ss := run(t, true)
	t.Logf("no FEC: p99 %v", off)
	if cs.ParitySent != 0 || ss.Recovered != 0 {
		t.Errorf("receiver disabled FEC, yet %d parity packets were sent, %d rebuilt", cs.ParitySent, ss.Recovered)
	}
	if off <= p99 {
		t.Errorf("p99 %v without FEC is no worse than %v with it: the test does not measure FEC", off, p99)
	}
}

// TestFECOffOnCleanPathAndBulk: no parity on a path without loss, and
// little on a bulk transfer over a lossy one, which fills the path and is
// better served by retransmission (only its application-limited moments,
// such as the tail, get parity). Every byte arrives either way.
func TestFECOffOnCleanPathAndBulk(t *testing.T) {
	for _, tt := range []struct {
		name     string
		loss     float64
		messages bool
	}{
		{"clean messages", 0, true},
		{"bulk at 5% loss", 0.05, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				spec := linkemu.Spec{Delay: 10 * time.Millisecond, Rate: 50_000_000, Loss: tt.loss}
				cfg := &Config{IdleTimeout: time.Minute, HandshakeTimeout: time.Minute}
				p := newPair(t, spec, cfg, cfg)
				client, server := p.connect(t)
				if tt.messages {
					sparseMessages(t, client, server, 200, 1024, 5*time.Millisecond)
				} else {
					transfer(t, client, server, bytes.Repeat([]byte("bulk data, no parity "), 250_000)) // 5 MB
				}
				st := client.Stats()
				t.Logf("%d packets sent, %d parity, loss estimate %.3f", st.PacketsSent, st.ParitySent, st.LossEstimate)
				if tt.loss == 0 && st.ParitySent != 0 {
					t.Errorf("%d parity packets on a clean path", st.ParitySent)
				}
				if st.ParitySent*50 > st.PacketsSent {
					t.Errorf("%d parity packets of %d sent: more than 2 %% on a bulk transfer", st.ParitySent, st.PacketsSent)
				}
			})
		})
	}
}

// TestFECParameter: the handshake parameter that says how large a group a
// side decodes. Absent means none (a peer that predates it gets no parity),
// larger than ours is clamped to ours, malformed is an error.
func TestFECParameter(t *testing.T) {
	on, err := (&Config{}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	off, err := (&Config{DisableFEC: true}).resolve()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		edit  func(handshake.Params) handshake.Params
		cfg   *config
		want  int
		error bool
	}{
		{"enabled", nil, on, fec.MaxData, false},
		{"disabled", nil, off, 0, false},
		{"absent", func(ps handshake.Params) handshake.Params {
			return slices.DeleteFunc(ps, func(p handshake.Param) bool { return p.Type == paramFEC })
		}, on, 0, false},
		{"too large", func(ps handshake.Params) handshake.Params {
			return setParam(ps, paramFEC, wire.AppendVarint(nil, 1000))
		}, on, fec.MaxData, false},
		{"malformed", func(ps handshake.Params) handshake.Params {
			return setParam(ps, paramFEC, []byte{0x40})
		}, on, 0, true},
	} {
		ps := tt.cfg.transportParams().encode()
		if tt.edit != nil {
			ps = tt.edit(ps)
		}
		p, err := decodeParams(ps)
		if (err != nil) != tt.error || (err == nil && p.fec != tt.want) {
			t.Errorf("%s: fec %d, error %v; want %d, error %v", tt.name, p.fec, err, tt.want, tt.error)
		}
	}
}

// setParam replaces the value of parameter typ in ps.
func setParam(ps handshake.Params, typ handshake.ParamType, v []byte) handshake.Params {
	for i := range ps {
		if ps[i].Type == typ {
			ps[i].Value = v
		}
	}
	return ps
}

// parityFor returns the FEC_PARITY frame that protects, alone, the packet
// pn whose plaintext is payload, in group 0 of one data and one parity
// shard: with one parity shard, parity is the data shard itself.
func parityFor(pn uint64, payload []byte) []byte {
	shard := binary.BigEndian.AppendUint64(nil, pn)
	shard = binary.BigEndian.AppendUint16(shard, uint16(len(payload)))
	return wire.AppendFECParity(nil, 0, 1, 1, 0, append(shard, payload...))
}

// TestFECRebuiltPacket: a packet rebuilt from parity is processed like one
// that arrived (its stream opens, it is acknowledged), and the original,
// arriving late, is refused as a replay.
func TestFECRebuiltPacket(t *testing.T) {
	h := newHandDriven(t)
	defer h.close()
	data := wire.AppendStream(wire.AppendFECData(nil, 0, 0), 0, 0, []byte("hello"), true, true)
	h.deliver(wire.AppendPing(nil))
	late := h.seal(data) // packet 1, held back
	h.deliver(parityFor(1, data))
	if h.c.fec.recovered != 1 || h.c.streams.Len() != 1 {
		t.Fatalf("after the parity: %d rebuilt, %d streams; want 1 and 1", h.c.fec.recovered, h.c.streams.Len())
	}
	if acks := ackRanges(t, h); len(acks) != 1 || acks[0] != (wire.AckRange{Smallest: 0, Largest: 2}) {
		t.Errorf("acknowledging %v; want 0 to 2, 1 rebuilt", acks)
	}
	dropped := h.c.stats.dropped
	h.deliverSealed(late)
	if h.c.stats.dropped != dropped+1 || h.c.fec.recovered != 1 {
		t.Errorf("the late original: %d dropped (want %d), %d rebuilt", h.c.stats.dropped, dropped+1, h.c.fec.recovered)
	}
	if h.c.state != stateOpen {
		t.Errorf("connection %v after a rebuilt packet", h.c.err)
	}
	// Parity can only rebuild packets older than itself: one that claims
	// a newer packet is dropped.
	h.deliver(parityFor(20, data))
	if h.c.fec.recovered != 1 {
		t.Errorf("parity rebuilt packet 20 from packet 10")
	}
}

// ackRanges returns the ranges the connection's receiver would acknowledge
// now.
func ackRanges(t *testing.T, h *handDriven) []wire.AckRange {
	b, _, ok := h.c.receiver.AppendAck(nil, h.now, 1000)
	if !ok {
		t.Fatal("nothing to acknowledge")
	}
	var f wire.Frame
	if _, err := wire.ParseFrame(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Ack.Ranges
}
