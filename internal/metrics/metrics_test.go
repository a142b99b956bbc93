package metrics

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/internal/metrics/metricstest"
	"github.com/pydevts/pydevts/rudp"
	"github.com/pydevts/pydevts/rudp/relay"
	"github.com/pydevts/pydevts/sdmp/node"
)

// fill sets every uint64 field of the struct v points to (recursively)
// to a distinct value from next on, and returns the values by JSON name
// path ("drops.queue_full").
func fill(v reflect.Value, prefix string, next *uint64, out map[string]uint64) {
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		name := strings.Split(sf.Tag.Get("json"), ",")[0]
		if name == "" {
			name = sf.Name
		}
		switch f.Kind() {
		case reflect.Uint64:
			*next++
			f.SetUint(*next)
			out[prefix+name] = *next
		case reflect.Int:
			*next++
			f.SetInt(int64(*next))
			out[prefix+name] = *next
		case reflect.Struct:
			fill(f, prefix+name+".", next, out)
		}
	}
}

// TestRelayCollector: every counter of relay.Stats, drops and kills by
// reason included, comes out under its name with its value; a field
// added to Stats without a metric fails here.
func TestRelayCollector(t *testing.T) {
	var st relay.Stats
	want := map[string]uint64{}
	var next uint64
	fill(reflect.ValueOf(&st).Elem(), "", &next, want)
	s, err := Serve("127.0.0.1:0", nil, NewRelayCollector(func() relay.Stats { return st }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fams := metricstest.Scrape(t, "http://"+s.Addr().String()+"/metrics")
	names := map[string]string{
		"accepted": "pydevts_relay_connections_accepted_total", "refused": "pydevts_relay_connections_refused_total",
		"confirmed": "pydevts_relay_handshakes_confirmed_total", "active": "pydevts_relay_connections_active",
		"unconfirmed": "pydevts_relay_connections_handshaking",
		"frames_in":   "pydevts_relay_frames_received_total", "frames_out": "pydevts_relay_frames_sent_total",
		"bytes_in": "pydevts_relay_received_bytes_total", "bytes_out": "pydevts_relay_sent_bytes_total",
		"forwarded": "pydevts_relay_forwarded_data_packets_total", "oob": "pydevts_relay_forwarded_oob_packets_total",
		"pongs": "pydevts_relay_pings_answered_total",
	}
	for field, n := range want {
		var got float64
		var ok bool
		switch {
		case strings.HasPrefix(field, "drops."):
			got, ok = metricstest.Value(fams, "pydevts_relay_dropped_packets_total", "reason", strings.TrimPrefix(field, "drops."))
		case strings.HasPrefix(field, "kills."):
			got, ok = metricstest.Value(fams, "pydevts_relay_closed_connections_total", "reason", strings.TrimPrefix(field, "kills."))
		default:
			if names[field] == "" {
				t.Errorf("relay.Stats.%s has no metric", field)
				continue
			}
			got, ok = metricstest.Value(fams, names[field])
		}
		if !ok || got != float64(n) {
			t.Errorf("%s: got %v (present %v), want %d", field, got, ok, n)
		}
	}
	for name, f := range fams {
		if strings.HasPrefix(name, "pydevts_") && f.GetHelp() == "" {
			t.Errorf("%s has no help", name)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// TestNodeCollector: the node's counters come out; the connection
// totals never go back; every path kind and state has a series.
func TestNodeCollector(t *testing.T) {
	st := node.Stats{
		PeersConfigured: 3, PeersConnected: 2, Sessions: map[string]int{"pydevts": 1, "tcp": 1},
		JournalLines: 7, ResourcesStored: 6, ResourcesReceived: 4, ResourcesRefused: 1, Published: 2,
		Endpoint: &rudp.EndpointStats{Connections: 2, HandshakesAccepted: 5, HandshakesDropped: 3, CookiesSent: 9, DroppedMalformed: 11},
		Conns:    node.ConnTotals{BytesSent: 1000, Recovered: 3, PathSwitches: 1},
		Live: []node.SessionStatus{{Via: "pydevts", Paths: []node.PathStatus{
			{Kind: "udp", State: "active"}, {Kind: "relay", State: "up"}, {Kind: "relay", State: "demoted"}}}},
	}
	s, err := Serve("127.0.0.1:0", nil, NewNodeCollector(func() node.Stats { return st }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url := "http://" + s.Addr().String() + "/metrics"
	fams := metricstest.Scrape(t, url)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pydevts_node_peers_configured", nil, 3},
		{"pydevts_node_peers_connected", nil, 2},
		{"pydevts_node_sessions", []string{"transport", "pydevts"}, 1},
		{"pydevts_node_sessions", []string{"transport", "tcp"}, 1},
		{"pydevts_node_journal_lines", nil, 7},
		{"pydevts_node_resources_stored", nil, 6},
		{"pydevts_node_resources_received_total", nil, 4},
		{"pydevts_node_resources_refused_total", nil, 1},
		{"pydevts_node_resources_published_total", nil, 2},
		{"pydevts_rudp_connections", nil, 2},
		{"pydevts_rudp_handshakes_accepted_total", nil, 5},
		{"pydevts_rudp_handshakes_refused_total", nil, 3},
		{"pydevts_rudp_handshake_cookies_sent_total", nil, 9},
		{"pydevts_rudp_dropped_packets_total", []string{"reason", "malformed"}, 11},
		{"pydevts_rudp_dropped_packets_total", []string{"reason", "connection"}, 0},
		{"pydevts_rudp_sent_bytes_total", nil, 1000},
		{"pydevts_rudp_fec_recovered_packets_total", nil, 3},
		{"pydevts_rudp_path_switches_total", nil, 1},
		{"pydevts_rudp_paths", []string{"kind", "udp", "state", "active"}, 1},
		{"pydevts_rudp_paths", []string{"kind", "relay", "state", "up"}, 1},
		{"pydevts_rudp_paths", []string{"kind", "relay", "state", "demoted"}, 1},
		{"pydevts_rudp_paths", []string{"kind", "tcp", "state", "down"}, 0},
	} {
		if got, ok := metricstest.Value(fams, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v: %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if n := len(fams["pydevts_rudp_paths"].GetMetric()); n != len(pathKinds)*len(pathStates) {
		t.Errorf("%d path series, want %d", n, len(pathKinds)*len(pathStates))
	}
	// A session ended and the totals read a little lower: the counter
	// stays where it was.
	st.Conns.BytesSent = 990
	st.Live = nil
	fams = metricstest.Scrape(t, url)
	if got, _ := metricstest.Value(fams, "pydevts_rudp_sent_bytes_total"); got != 1000 {
		t.Errorf("sent bytes went from 1000 to %v", got)
	}
	// Without a pydevts listener, no endpoint metrics.
	st.Endpoint = nil
	fams = metricstest.Scrape(t, url)
	if _, ok := fams["pydevts_rudp_handshakes_accepted_total"]; ok {
		t.Error("endpoint metrics without an endpoint")
	}
}

func TestServeClose(t *testing.T) {
	if _, err := Serve("127.0.0.1:notaport", nil); err == nil || !strings.Contains(err.Error(), "metrics:") {
		t.Errorf("bad address: %v", err)
	}
	s, err := Serve("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/", s.Addr())
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "metrics"); err == nil {
		t.Error("still answers after Close")
	}
}
