package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
)

// The messages workload: the client sends a message of cfg.MessageSize
// bytes every 1/cfg.MessageRate seconds, paced by a ticker and never
// waiting for earlier messages; the server times each message from send
// to delivery. Both peers read one clock (the same host, even across
// network namespaces), so the one-way latency is the arrival time minus
// the send time the message carries.
//
// Every message starts with a header:
//
//	+--------------+--------------+-----------------------------+
//	| seq (4, BE)  | flags (4)    | send time, UnixNano (8, BE) |
//	+--------------+--------------+-----------------------------+
//
// seq counts from 0; flags bit 0 marks a message sent during the
// warm-up, which the server counts apart and leaves out of the latency
// samples. The rest of the message is zeros.

const (
	msgHeader = scenario.MinMessageSize
	// flagWarmup marks a message sent during the warm-up.
	flagWarmup = 1
	// messageDrain is how long after the duration the client waits for
	// its messages to be delivered: at 30 % loss a message can take
	// seconds, and one still in flight after 15 s counts as not
	// delivered. It fits in runSlack with room for the end of the run.
	messageDrain = 15 * time.Second
	// endLinger is how long a server waits, after answering the client's
	// end of the run, for that answer to leave before it closes.
	endLinger = 2 * time.Second
)

// markMessages marks the connection or stream of the messages workload
// (beside markBulk and markProbe); markEnd is the one-byte end of a run
// on message transports, and the server's answer to it on all.
const (
	markMessages = 'M'
	markEnd      = 'E'
)

// messageSender is a client's side of the messages workload on one
// transport.
type messageSender interface {
	// send hands one message to the transport and returns at once: it
	// never waits for the network. The sender keeps b.
	send(b []byte)
	// finish waits until ctx ends for the messages sent so far to be
	// delivered, tells the server the run is over and waits for its
	// answer. It returns how many messages the transport reported as not
	// delivered (pydevts: not acknowledged before ctx ended).
	finish(ctx context.Context) (failed int64, err error)
}

// messageClient is a client's part in the messages workload.
type messageClient interface {
	messages(ctx context.Context) (messageSender, error)
}

// messageServer is a server's part in the messages workload.
type messageServer interface {
	// receive calls deliver with each message as it arrives until the
	// client ends the run (nil), ctx ends or the connection fails.
	receive(ctx context.Context, deliver func(b []byte)) error
}

// messageServerReport is what the server of a messages run measured.
type messageServerReport struct {
	Received   int64     `json:"received"`        // messages sent after the warm-up, first copies
	Warmup     int64     `json:"received_warmup"` // sent during the warm-up, first copies
	Duplicates int64     `json:"duplicates"`      // copies of a message already received
	Latency    []float64 `json:"latency_ms"`      // one per message in Received, arrival order
}

// messageClientReport is what the client of a messages run counted.
type messageClientReport struct {
	Sent   int64 `json:"sent"` // after the warm-up
	Warmup int64 `json:"sent_warmup"`
	Failed int64 `json:"failed"` // reported by the transport as not delivered
}

// putHeader writes a message's header into b.
func putHeader(b []byte, seq uint32, warmup bool, sent time.Time) {
	var flags uint32
	if warmup {
		flags = flagWarmup
	}
	binary.BigEndian.PutUint32(b[0:], seq)
	binary.BigEndian.PutUint32(b[4:], flags)
	binary.BigEndian.PutUint64(b[8:], uint64(sent.UnixNano()))
}

// readHeader reads a message's header.
func readHeader(b []byte) (seq uint32, warmup bool, sent int64, err error) {
	if len(b) < msgHeader {
		return 0, false, 0, fmt.Errorf("a message of %d bytes, shorter than its %d-byte header", len(b), msgHeader)
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])&flagWarmup != 0,
		int64(binary.BigEndian.Uint64(b[8:])), nil
}

// sendMessages is the client of a messages run (runClient has dialed):
// send for the duration, wait for delivery. started is called when the
// first message leaves, for the timeline.
func sendMessages(ctx context.Context, cfg peerConfig, cl client, rep *clientReport, started func()) {
	snd, err := cl.messages(ctx)
	if err != nil {
		rep.Err = fmt.Sprintf("messages: %v", err)
		return
	}
	if started != nil {
		started()
	}
	m := &messageClientReport{}
	rep.Messages = m
	// Message seq is due at(seq) after the start. Each tick sends what is
	// due, so a tick that comes late (a busy machine; a ticker drops the
	// ticks its reader misses) delays messages but never loses one: a
	// run sends rate x duration messages, as the scenario says.
	at := func(seq uint32) time.Duration {
		return time.Duration(float64(seq) * float64(time.Second) / cfg.MessageRate)
	}
	start := time.Now() // before the ticker, so that each tick finds its message due
	tick := time.NewTicker(at(1))
	defer tick.Stop()
	var seq uint32
	for at(seq) < cfg.Duration && ctx.Err() == nil {
		for ; at(seq) < cfg.Duration && at(seq) <= time.Since(start); seq++ {
			warmup := at(seq) < cfg.Warmup
			b := make([]byte, cfg.MessageSize)
			putHeader(b, seq, warmup, time.Now())
			snd.send(b)
			if warmup {
				m.Warmup++
			} else {
				m.Sent++
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	drain, cancelDrain := context.WithTimeout(ctx, messageDrain)
	defer cancelDrain()
	m.Failed, err = snd.finish(drain)
	if err != nil {
		rep.Err = fmt.Sprintf("messages: end of the run: %v", err)
	}
	rep.Lost = cl.lost()
}

// checkMessages refuses a messages run that Parse would have refused but
// that --duration made: more messages than a run holds.
func checkMessages(cfg peerConfig) error {
	if cfg.Workload != scenario.WorkloadMessages {
		return nil
	}
	if n := cfg.MessageRate * cfg.Duration.Seconds(); cfg.MessageSize < msgHeader || cfg.MessageRate <= 0 || n > scenario.MaxMessages {
		return fmt.Errorf("messages: %d bytes at %v per second for %v: want at least %d bytes and at most %d messages",
			cfg.MessageSize, cfg.MessageRate, cfg.Duration, msgHeader, scenario.MaxMessages)
	}
	return nil
}

// serveMessages is the server of a messages run (runServer has started
// it): it times every message until the client ends the run.
func serveMessages(ctx context.Context, srv server, rep *serverReport) {
	m := &messageServerReport{}
	rep.Messages = m
	var seen bitset
	var bad error
	var first, last time.Time
	err := srv.receive(ctx, func(b []byte) {
		now := time.Now()
		seq, warmup, sent, err := readHeader(b)
		if err == nil && seq >= scenario.MaxMessages {
			err = fmt.Errorf("message %d: more than the %d messages of a run", seq, scenario.MaxMessages)
		}
		if err != nil {
			if bad == nil {
				bad = err // the first is the one to tell
			}
			return
		}
		if first.IsZero() {
			first = now
		}
		last = now
		rep.Total += int64(len(b))
		switch {
		case !seen.add(seq):
			m.Duplicates++
		case warmup:
			m.Warmup++
		default:
			m.Received++
			m.Latency = append(m.Latency, ms(time.Duration(now.UnixNano()-sent)))
		}
	})
	rep.Finished = err == nil
	rep.Seconds = last.Sub(first).Seconds()
	switch {
	case err != nil:
		rep.Err = fmt.Sprintf("messages: %v", err)
	case bad != nil:
		rep.Err = fmt.Sprintf("messages: %v", bad)
	}
}

// bitset is a set of sequence numbers.
type bitset []uint64

// add adds n and reports whether it was new.
func (s *bitset) add(n uint32) bool {
	i := int(n / 64)
	if i >= len(*s) {
		*s = append(*s, make([]uint64, i+1-len(*s))...)
	}
	bit := uint64(1) << (n % 64)
	if (*s)[i]&bit != 0 {
		return false
	}
	(*s)[i] |= bit
	return true
}
