package bench

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/scenario"
	"github.com/pydevts/pydevts/message"
)

// messagesScenario is a short messages run over a lossy link with 10 ms
// one way: 300 messages after the warm-up.
func messagesScenario(t *testing.T, transports ...string) scenario.Scenario {
	t.Helper()
	ss, err := scenario.Parse([]byte(`
scenarios:
  - name: messages
    link: {delay: 10ms, rate: 100mbit, loss: 5%}
    workload: messages
    message_size: 1KiB
    message_rate: 200
    duration: 2s
    warmup: 500ms
    repetitions: 1
`), "messages.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ss[0].Transports = transports
	return ss[0]
}

// checkDelivery: every message sent after the warm-up arrived once, no
// sooner than the link's one-way delay allows.
func checkDelivery(t *testing.T, r Result, oneWay time.Duration) {
	t.Helper()
	name := r.Scenario + "/" + r.Transport
	m := r.Messages
	switch {
	case r.Err != "":
		t.Errorf("%s: %s", name, r.Err)
	case m == nil:
		t.Errorf("%s: no messages result", name)
	// 1.5 s at 200/s after the warm-up.
	case m.Sent != 300:
		t.Errorf("%s: %d messages sent after the warm-up, want 300", name, m.Sent)
	case m.Delivered != m.Sent || m.Failed != 0 || m.Duplicates != 0:
		t.Errorf("%s: %d delivered of %d sent, %d failed, %d duplicates", name, m.Delivered, m.Sent, m.Failed, m.Duplicates)
	case m.Latency.N != int(m.Delivered) || m.Latency.Min < ms(oneWay) || m.Latency.P99 < m.Latency.P50:
		t.Errorf("%s: latency %+v for a %v one-way link", name, m.Latency, oneWay)
	case !r.Valid:
		t.Errorf("%s: flagged: %v", name, r.Problems)
	}
}

// TestMessagesInMemory runs the messages workload end to end over the
// in-memory link with 5 % loss each way, for every transport that runs
// there.
func TestMessagesInMemory(t *testing.T) {
	s := messagesScenario(t, "pydevts", "quic-go")
	results, err := Run(context.Background(), Options{Scenarios: []scenario.Scenario{s}, MemOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results", len(results))
	}
	for _, r := range results {
		if r.Emulator != "memnet" || r.Workload != scenario.WorkloadMessages {
			t.Errorf("%s: emulator %q, workload %q", r.Transport, r.Emulator, r.Workload)
		}
		if r.Link.LossAB == 0 {
			t.Errorf("%s: the lossy link lost nothing", r.Transport)
		}
		if m := r.Messages; m == nil || m.BaseRTT != 20 || m.Size != 1024 || m.Rate != 200 {
			t.Errorf("%s: %+v, want base RTT 20 ms, 1024 bytes at 200/s", r.Transport, m)
		}
		checkDelivery(t, r, s.AB.Delay)
		// pydevts protects sparse messages with parity once it has seen
		// loss: at 5 % some of the ~20 messages lost are rebuilt.
		if want := r.Transport == "pydevts"; (r.FECRecoveries > 0) != want || (!want && r.FECRecoveries != -1) {
			t.Errorf("%s: %d packets rebuilt from parity", r.Transport, r.FECRecoveries)
		}
	}
}

// TestMessagesLoopback runs the messages workload over this host's
// loopback in this process, kernel TCP included: no root needed.
func TestMessagesLoopback(t *testing.T) {
	for _, tr := range scenario.KnownTransports {
		t.Run(tr, func(t *testing.T) {
			s := messagesScenario(t, tr)
			cfg := peerConfigFor(run{s: s, transport: tr})
			cfg.Bind = "127.0.0.1:0"
			ready := make(chan serverInfo, 1)
			srvDone := make(chan serverReport, 1)
			ctx := context.Background()
			go func() {
				srvDone <- runServer(ctx, cfg, &env{bind: cfg.Bind}, func(i serverInfo) { ready <- i })
			}()
			ccfg := cfg
			select {
			case ccfg.Server = <-ready:
			case srv := <-srvDone:
				if strings.Contains(srv.Err, "TCP congestion control") {
					t.Skipf("this host does not let us pin the controller: %s", srv.Err)
				}
				t.Fatalf("server: %s", srv.Err)
			}
			cl := runClient(ctx, ccfg, &env{bind: cfg.Bind}, nil)
			srv := <-srvDone
			res := Result{Scenario: s.Name, Transport: tr, Messages: newMessageResult(s)}
			fill(&res, srv, cl)
			checkDelivery(t, res, 0)
			if !srv.Finished {
				t.Error("the server did not see the end of the run")
			}
		})
	}
}

// TestMessagesTUN runs the messages workload across a real TUN link, each
// side in its own process and namespace, every transport. It needs root.
func TestMessagesTUN(t *testing.T) {
	requireLink(t)
	s := messagesScenario(t, scenario.KnownTransports...)
	results, err := Run(context.Background(), Options{Scenarios: []scenario.Scenario{s}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Emulator != "tun" {
			t.Errorf("%s: emulator %q", r.Transport, r.Emulator)
		}
		// The emulator may release a packet up to its slack early.
		checkDelivery(t, r, s.AB.Delay-s.Slack)
	}
}

// TestMessagesTable: a messages scenario gets its own table, without the
// goodput columns but with the packets FEC rebuilt (– for transports
// without FEC), and a delivery-latency chart.
func TestMessagesTable(t *testing.T) {
	lat := func(p50, p99 float64) Percentiles {
		return Percentiles{P50: p50, P90: p50, P99: p99, Min: 20, Max: p99 + 1, N: 100}
	}
	base := Result{Scenario: "m", Group: "m", Workload: scenario.WorkloadMessages, Valid: true, Lost: 3}
	var rs []Result
	for _, r := range []struct {
		transport string
		p99       float64
	}{{"pydevts", 50}, {"pydevts", 70}, {"tcp-cubic", 300}} {
		x := base
		x.Transport = r.transport
		x.FECRecoveries = -1
		if r.transport == "pydevts" {
			x.FECRecoveries = 7
		}
		x.Messages = &MessageResult{Size: 1024, Rate: 200, Sent: 100, Delivered: 100, Latency: lat(21, r.p99), BaseRTT: 40, P99RTTs: r.p99 / 40}
		rs = append(rs, x)
	}
	rs = append(rs, Result{Scenario: "m", Group: "m", Transport: "tcp-bbr", Workload: scenario.WorkloadMessages, Skipped: "needs root",
		Messages: &MessageResult{Size: 1024, Rate: 200, BaseRTT: 40}})
	rs = append(rs, Result{Scenario: "b", Group: "b", Transport: "pydevts", Valid: true, GoodputMbps: 90, Lost: 1})
	// A link without delay: no base RTT, and latencies a log axis
	// cannot show as they are.
	rs = append(rs, Result{Scenario: "z", Group: "z", Transport: "quic-go", Workload: scenario.WorkloadMessages, Valid: true,
		Messages: &MessageResult{Size: 100, Rate: 1, Sent: 5, Delivered: 5, Latency: Percentiles{N: 5, P99: 0.2}}})
	sums := Summarize(rs)
	if len(sums) != 5 {
		t.Fatalf("%d summaries", len(sums))
	}
	if m := sums[0].Messages; m == nil || m.Sent != 200 || m.Delivered != 200 || m.P99 != (Spread{Median: 60, Min: 50, Max: 70, N: 2}) ||
		m.P99RTTs.Median != 1.5 || sums[0].Goodput.N != 0 {
		t.Fatalf("messages summary %+v %+v", sums[0], sums[0].Messages)
	}
	var b bytes.Buffer
	WriteTable(&b, sums)
	out := b.String()
	bulk, msgs, ok := strings.Cut(out, "\n\n")
	if !ok || !strings.Contains(bulk, "| b | pydevts | 90.0 |") || strings.Contains(bulk, "| m |") {
		t.Errorf("bulk table:\n%s", out)
	}
	for _, want := range []string{"delivered/sent | delivery p50 ms", "| m | pydevts | 200/200 | 21.0 | 21.0 | 60.0 (50.0–70.0) | 61.0 (51.0–71.0) | 40 | 1.50 (1.25–1.75) | 3 | 7 | 2/2 |",
		"| m | tcp-cubic | 100/100 | 21.0 | 21.0 | 300.0 | 301.0 | 40 | 7.50 | 3 | – | 1/1 |", "| m | tcp-bbr | n/a |"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("messages table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(msgs, "goodput") {
		t.Errorf("messages table shows goodput:\n%s", msgs)
	}
	if !strings.Contains(msgs, "| z | quic-go | 5/5 | 0.0 | 0.0 | 0.2 | 0.0 | 0 | – |") {
		t.Errorf("messages table without a base RTT:\n%s", msgs)
	}
	// Messages only: one table.
	b.Reset()
	WriteTable(&b, sums[:3])
	if strings.Contains(b.String(), "goodput") || strings.Contains(b.String(), "\n\n") {
		t.Errorf("messages-only table:\n%s", b.String())
	}

	dir := t.TempDir()
	files, err := WriteCharts(dir, sums)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if got := strings.Join(names, " "); got != "delivery-latency-m.png delivery-latency-m.svg delivery-latency-z.png delivery-latency-z.svg" {
		t.Errorf("charts %s", got)
	}
}

// TestMessageHeader round-trips the header and refuses short messages.
func TestMessageHeader(t *testing.T) {
	b := make([]byte, 20)
	at := time.Unix(1800000000, 123456789)
	putHeader(b, 1<<31+5, true, at)
	seq, warm, sent, err := readHeader(b)
	if err != nil || seq != 1<<31+5 || !warm || sent != at.UnixNano() {
		t.Fatalf("read %d %v %d %v", seq, warm, sent, err)
	}
	putHeader(b, 7, false, at)
	if _, warm, _, _ := readHeader(b); warm {
		t.Fatal("warm-up flag stuck")
	}
	if _, _, _, err := readHeader(b[:15]); err == nil {
		t.Fatal("a 15-byte message read")
	}
	if scenario.MaxMessageSize != message.MaxSize {
		t.Fatalf("scenario allows %d-byte messages, pydevts %d", scenario.MaxMessageSize, message.MaxSize)
	}
}

// TestBitset checks the duplicate detector against a map.
func TestBitset(t *testing.T) {
	var s bitset
	seen := map[uint32]bool{}
	for i, n := range []uint32{5, 64, 5, 0, 1000, 63, 64, 999999, 0} {
		if got := s.add(n); got == seen[n] {
			t.Fatalf("step %d: add(%d) = %v, seen %v", i, n, got, seen[n])
		}
		seen[n] = true
	}
}

// TestMessagesTooMany: a run that --duration stretched past MaxMessages
// fails at once, before any peer starts.
func TestMessagesTooMany(t *testing.T) {
	s := messagesScenario(t, "pydevts")
	s.Duration = time.Hour
	s.MessageRate = 1000
	res, err := Run(context.Background(), Options{Scenarios: []scenario.Scenario{s}, MemOnly: true})
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Err, "at most 1000000 messages") || res[0].Emulator != "" {
		t.Fatalf("%v: %+v", err, res)
	}
}
