package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/internal/metrics/metricstest"
	"github.com/pydevts/pydevts/sdmp/node"
)

// jsonLines checks that every line of s is a JSON object, and returns
// them.
func jsonLines(t *testing.T, what, s string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", what, line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// TestRelayMetrics: `pydevts relay --metrics` serves /metrics; after two
// clients exchanged Data through it, the counters show it. With
// --log-format json every line on stderr is a JSON object, the counters
// of --stats included; the metrics server closes with the relay.
func TestRelayMetrics(t *testing.T) {
	r := startRelayProc(t, "--metrics", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug", "--stats", "1h")
	if r.metricsURL == "" {
		t.Fatalf("no metrics URL printed:\n%s", r.stderr.String())
	}
	fams := metricstest.Scrape(t, r.metricsURL)
	if v, ok := metricstest.Value(fams, "pydevts_relay_forwarded_data_packets_total"); !ok || v != 0 {
		t.Errorf("forwarded before any traffic: %v %v", v, ok)
	}
	relayExchange(t, r.addr, r.key)
	fams = metricstest.Scrape(t, r.metricsURL)
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"pydevts_relay_forwarded_data_packets_total", nil, 1},
		{"pydevts_relay_handshakes_confirmed_total", nil, 2},
		{"pydevts_relay_connections_accepted_total", nil, 2},
		{"pydevts_relay_connections_active", nil, 2},
		{"pydevts_relay_frames_received_total", nil, 1},
		{"pydevts_relay_received_bytes_total", nil, 1},
		{"pydevts_relay_sent_bytes_total", nil, 1},
		{"pydevts_relay_dropped_packets_total", []string{"reason", "queue_full"}, 0},
		{"pydevts_relay_closed_connections_total", []string{"reason", "shutdown"}, 0},
	} {
		if v, ok := metricstest.Value(fams, c.name, c.labels...); !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(r.metricsURL); err == nil {
		t.Error("the metrics server answers after the relay stopped")
	}
	recs := jsonLines(t, "relay stderr", r.stderr.String())
	last := recs[len(recs)-1]
	st, _ := last["stats"].(map[string]any)
	if last["msg"] != "relay: stats" || st["forwarded"] != float64(1) {
		t.Errorf("last record %v, want the counters", last)
	}
	// --log-level debug hands the server the logger: a line per
	// connection closed (at shutdown here), none per packet.
	var closed int
	for _, rec := range recs {
		if rec["msg"] == "relay: connection closed" {
			closed++
		}
	}
	if closed != 2 {
		t.Errorf("%d connection closed records, want 2:\n%s", closed, r.stderr.String())
	}
}

func TestLogFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantText string
	}{
		{[]string{"relay", "--log-format", "xml", "127.0.0.1:0"}, `--log-format "xml": want text or json`},
		{[]string{"relay", "--log-level", "loud", "127.0.0.1:0"}, `--log-level "loud"`},
		{[]string{"node", "run", "--data", t.TempDir(), "--log-format", "yaml"}, `--log-format "yaml"`},
		{[]string{"node", "run", "--data", t.TempDir(), "--log-level", "WARN2"}, `--log-level "WARN2"`},
		{[]string{"relay", "--metrics", "127.0.0.1:notaport", "127.0.0.1:0"}, "metrics:"},
	} {
		code, _, errOut := runCmd(tc.args...)
		wantCode := 2
		if tc.wantText == "metrics:" {
			wantCode = 1
		}
		if code != wantCode || !strings.Contains(errOut, tc.wantText) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, wantCode, tc.wantText)
		}
	}
}

// A runningNode is a `pydevts node run` in this process.
type runningNode struct {
	dir        string
	metricsURL string
	stderr     *syncBuffer
	stop       func() error
}

// startNode runs `pydevts node run --data dir --log-format json
// --metrics 127.0.0.1:0` in this process until the test ends, and waits
// for its control socket.
func startNode(t *testing.T, dir string) *runningNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &runningNode{dir: dir, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		done <- serveNode(ctx, []string{"--data", dir, "--log-format", "json", "--metrics", "127.0.0.1:0"},
			stdio{strings.NewReader(""), io.Discard, n.stderr})
	}()
	n.stop = stopper(t, "node", cancel, done)
	t.Cleanup(func() { n.stop() })
	waitUntil(t, "the node to answer on its control socket", func() bool {
		_, err := node.JournalLines(context.Background(), dir)
		return err == nil
	})
	sc := bufio.NewScanner(strings.NewReader(n.stderr.String()))
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "node: metrics" {
			n.metricsURL = fmt.Sprint(rec["url"])
		}
	}
	if n.metricsURL == "" {
		t.Fatalf("no metrics URL logged:\n%s", n.stderr.String())
	}
	return n
}

// TestNodeMetricsAndStatus: two `pydevts node run` over pydevts, in this
// process, with --metrics and --log-format json. After a publish on a
// has reached b, b's metrics count the resource received, one session
// over pydevts and its active UDP path, and traffic; `pydevts status`
// shows the session and its path, as text and as JSON; every log line
// is JSON.
func TestNodeMetricsAndStatus(t *testing.T) {
	dirs := makeNodeDirs(t, []string{"a", "b"}, "pydevts")
	a := startNode(t, dirs["a"])
	b := startNode(t, dirs["b"])
	file := filepath.Join(t.TempDir(), "post.yaml")
	os.WriteFile(file, []byte("post: counted\n"), 0o600)
	code, out, e := runCmd("publish", "--data", dirs["a"], file)
	if code != 0 {
		t.Fatalf("publish: %s", e)
	}
	id := strings.TrimSpace(out)
	waitUntil(t, "b to hold the resource", func() bool {
		_, got, _ := runCmd("get", "--data", dirs["b"], id)
		return got != ""
	})

	fams := metricstest.Scrape(t, b.metricsURL)
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"pydevts_node_resources_received_total", nil, 1},
		{"pydevts_node_sessions", []string{"transport", "pydevts"}, 1},
		{"pydevts_node_peers_connected", nil, 1},
		{"pydevts_node_peers_configured", nil, 1},
		{"pydevts_node_journal_lines", nil, 5},
		{"pydevts_node_resources_stored", nil, 5},
		{"pydevts_rudp_paths", []string{"kind", "udp", "state", "active"}, 1},
		{"pydevts_rudp_connections", nil, 1},
		{"pydevts_rudp_sent_bytes_total", nil, 1},
		{"pydevts_rudp_received_packets_total", nil, 1},
		{"pydevts_rudp_dropped_packets_total", []string{"reason", "malformed"}, 0},
		{"pydevts_rudp_handshakes_refused_total", nil, 0},
		{"pydevts_rudp_fec_recovered_packets_total", nil, 0},
	} {
		if v, ok := metricstest.Value(fams, c.name, c.labels...); !ok || v < c.min {
			t.Errorf("b: %s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if v, _ := metricstest.Value(fams, "pydevts_node_sessions", "transport", "pydevts"); v != 1 {
		t.Errorf("b: %v sessions over pydevts, want 1", v)
	}
	// One of the two answered the other's handshake.
	var accepted float64
	for _, n := range []*runningNode{a, b} {
		v, _ := metricstest.Value(metricstest.Scrape(t, n.metricsURL), "pydevts_rudp_handshakes_accepted_total")
		accepted += v
	}
	if accepted < 1 {
		t.Error("no handshake accepted by either node")
	}
	if v, _ := metricstest.Value(metricstest.Scrape(t, a.metricsURL), "pydevts_node_resources_published_total"); v != 1 {
		t.Errorf("a: published %v, want 1", v)
	}

	// pydevts status, text and JSON.
	code, out, e = runCmd("status", "--data", dirs["b"])
	if code != 0 {
		t.Fatalf("status: %s", e)
	}
	t.Logf("pydevts status:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "a  ") || !strings.Contains(lines[0], "pydevts, ") || !strings.Contains(lines[0], "rtt ") {
		t.Errorf("status: session line %q", lines[0])
	}
	var activeUDP bool
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > 3 && f[0] == "udp" && f[2] == "active" && strings.Contains(l, "rtt ") && strings.Contains(l, "lost ") {
			activeUDP = true
		}
	}
	if !activeUDP {
		t.Errorf("status shows no active UDP path:\n%s", out)
	}
	code, out, e = runCmd("status", "--data", dirs["b"], "--json")
	var ss []node.SessionStatus
	if code != 0 || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 1 || ss[0].Peer != "a" || len(ss[0].Paths) == 0 {
		t.Errorf("status --json: exit %d, %s %s", code, out, e)
	}

	for _, n := range []*runningNode{a, b} {
		if err := n.stop(); err != nil {
			t.Errorf("node %s: %v", n.dir, err)
		}
		recs := jsonLines(t, n.dir, n.stderr.String())
		if len(recs) < 3 {
			t.Errorf("%s: %d log records", n.dir, len(recs))
		}
	}
	if code, out, _ := runCmd("status", "--data", dirs["b"]); code != 1 {
		t.Errorf("status without a node: exit %d, %s", code, out)
	}
}
