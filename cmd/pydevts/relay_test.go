package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/relay"
)

// startRelay runs `pydevts relay` with args until the test ends (or stop
// is called), and returns the key and address it printed.
func startRelay(t *testing.T, args ...string) (key relay.PublicKey, addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	r := startRelayProc(t, args...)
	return r.key, r.addr, r.stderr, r.stop
}

// A runningRelay is what startRelayProc started.
type runningRelay struct {
	key        relay.PublicKey
	addr       string
	metricsURL string // with --metrics
	stderr     *syncBuffer
	stop       func() error
}

// startRelayProc is startRelay, which also reads the metrics URL, and
// the lines in either log format.
func startRelayProc(t *testing.T, args ...string) *runningRelay {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningRelay{stderr: &syncBuffer{}}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := serveRelay(ctx, append(args, "127.0.0.1:0"), stdio{strings.NewReader(""), io.Discard, io.MultiWriter(pw, r.stderr)})
		pw.Close()
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			// --log-format json: "relay: key", then "relay: metrics",
			// then "relay: listening".
			switch rec["msg"] {
			case "relay: key":
				line = "relay: " + fmt.Sprint(rec["key"])
			case "relay: metrics":
				line = "metrics on " + fmt.Sprint(rec["url"])
			case "relay: listening":
				line = "listening on " + fmt.Sprint(rec["addr"])
			}
		}
		if v, ok := strings.CutPrefix(line, "relay: "); ok {
			k, err := relay.ParsePublicKey(v)
			if err != nil {
				t.Fatalf("relay printed %q: %v", line, err)
			}
			r.key = k
		}
		if v, ok := strings.CutPrefix(line, "metrics on "); ok {
			r.metricsURL = v
		}
		if v, ok := strings.CutPrefix(line, "listening on "); ok {
			r.addr = v
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if r.addr == "" {
		cancel()
		t.Fatalf("relay did not start: %v %s", <-done, r.stderr.String())
	}
	r.stop = stopper(t, "relay", cancel, done)
	t.Cleanup(func() { r.stop() })
	return r
}

// stopper returns a function that stops a command run in the test, once:
// it cancels its context and returns what the command returned, which it
// sends on done.
func stopper(t *testing.T, what string, cancel context.CancelFunc, done <-chan error) func() error {
	var stopped bool
	var stopErr error
	return func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal(what + " did not stop")
			}
		}
		return stopErr
	}
}

func TestRelayCommand(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "relay.key")
	if code, _, errOut := runCmd("keygen", keyFile); code != 0 {
		t.Fatalf("keygen: %s", errOut)
	}
	id, err := handshake.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, addr, stderr, stop := startRelay(t, "--key", keyFile, "--stats", "1h")
	if key != relay.PublicKey(id.Card().DH) {
		t.Fatalf("relay key %s, want the identity's X25519 key %x", key, id.Card().DH)
	}

	a := relayExchange(t, addr, key)
	// The relay stops on its signal (here: its context) and prints its
	// counters once at exit.
	if err := stop(); err != nil {
		t.Fatalf("relay exited with %v", err)
	}
	<-a.Done()
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var st relay.Stats
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &st); err != nil {
		t.Fatalf("last line %q is not the counters: %v", lines[len(lines)-1], err)
	}
	if st.Confirmed != 2 || st.Forwarded != 1 || st.Kills.Shutdown != 2 {
		t.Errorf("final counters %+v", st)
	}
}

// relayExchange connects two clients to the relay at addr, routes them
// to each other and sends a Data packet from one to the other. It
// returns one of them, open until the test ends.
func relayExchange(t *testing.T, addr string, key relay.PublicKey) *relay.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := relay.Dial(ctx, addr, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := relay.Dial(ctx, addr, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a.Route(b.PublicKey())
	b.Route(a.PublicKey())
	waitEvent := func(c *relay.Client, kind relay.EventKind) relay.Event {
		t.Helper()
		var evs [1]relay.Event
		for {
			if _, err := c.Recv(ctx, evs[:]); err != nil {
				t.Fatalf("waiting for %s: %v", kind, err)
			}
			if evs[0].Kind == kind {
				return evs[0]
			}
		}
	}
	waitEvent(a, relay.EventConnected)
	waitEvent(b, relay.EventConnected)
	if err := a.Send(b.PublicKey(), []byte("through the relay")); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(b, relay.EventData); string(ev.Data) != "through the relay" {
		t.Fatalf("b got %q", ev.Data)
	}
	return a
}

func TestRelayFreshKey(t *testing.T) {
	k1, _, _, _ := startRelay(t)
	k2, _, stderr, _ := startRelay(t, "--max-conns", "10")
	if k1 == k2 {
		t.Error("two relays without --key have the same key")
	}
	if n := strings.Count(stderr.String(), "relay: "); n != 1 {
		t.Errorf("printed the key %d times:\n%s", n, stderr.String())
	}
}

func TestRelayErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args     []string
		code     int
		wantText string
	}{
		{[]string{"relay"}, 2, "want the TCP address"},
		{[]string{"relay", "--max-conns", "0", "127.0.0.1:0"}, 2, "--max-conns must be at least 1"},
		{[]string{"relay", "--stats", "-1s", "127.0.0.1:0"}, 2, "must not be negative"},
		{[]string{"relay", "--key", filepath.Join(dir, "missing.key"), "127.0.0.1:0"}, 1, "no such file"},
		{[]string{"relay", "127.0.0.1:notaport"}, 1, "notaport"},
	} {
		code, _, errOut := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.wantText) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.wantText)
		}
	}
}
