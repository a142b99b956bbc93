package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
)

// syncBuffer is a bytes.Buffer safe to write from one goroutine and read
// from another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listener runs `pydevts listen` in the background and returns, once it
// is listening, the public identity it printed (if any), its address, and
// a function that waits for it to exit.
type listener struct {
	identity, addr string
	first          string // the first line listen wrote to stderr
	stdout         *syncBuffer
	stderr         *syncBuffer
	done           chan int
}

func startListen(t *testing.T, args ...string) *listener {
	t.Helper()
	l := &listener{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1)}
	pr, pw := io.Pipe()
	go func() {
		if !slices.Contains(args, "--relay") || slices.Contains(args, "--tcp") {
			args = append(args, "127.0.0.1:0")
		}
		code := run(append([]string{"listen"}, args...), stdio{strings.NewReader(""), l.stdout, io.MultiWriter(pw, l.stderr)})
		pw.Close()
		l.done <- code
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if l.first == "" {
			l.first = line
		}
		if v, ok := strings.CutPrefix(line, "identity: "); ok {
			l.identity = v
		}
		if v, ok := strings.CutPrefix(line, "listening on "); ok {
			l.addr = v
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if l.addr == "" {
		t.Fatalf("listen did not start: %s", l.stderr.String())
	}
	return l
}

func (l *listener) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-l.done:
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("listen did not exit")
		return -1
	}
}

// expectStream checks that dial exited 0 (code, with stderr errOut),
// that listen did too, and that listen wrote data.
func (l *listener) expectStream(t *testing.T, code int, errOut string, data []byte) {
	t.Helper()
	if code != 0 {
		t.Fatalf("dial exited %d: %s", code, errOut)
	}
	if code := l.wait(t); code != 0 {
		t.Fatalf("listen exited %d: %s", code, l.stderr.String())
	}
	if got := l.stdout.String(); got != string(data) {
		t.Fatalf("listen wrote %d bytes, dial sent %d", len(got), len(data))
	}
}

func dial(l *listener, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(append(append([]string{"dial"}, args...), l.addr), stdio{stdin, &o, &e})
	return code, o.String(), e.String()
}

// TestListenDialStream pipes 2 MB through `dial` into `listen` and checks
// the bytes, the exit codes, and the statistics JSON.
func TestListenDialStream(t *testing.T) {
	l := startListen(t, "--stats")
	if !strings.HasPrefix(l.identity, "pydevts1:") || l.first != "identity: "+l.identity {
		t.Fatalf("listen without --key printed identity %q; its first stderr line is %q", l.identity, l.first)
	}
	data := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{3}).Read(data)
	code, _, errOut := dial(l, bytes.NewReader(data), "--peer", l.identity, "--stats")
	l.expectStream(t, code, errOut, data)
	for name, out := range map[string]string{"dial": errOut, "listen": l.stderr.String()} {
		last := strings.Split(strings.TrimSpace(out), "\n")
		var st map[string]any
		err := json.Unmarshal([]byte(last[len(last)-1]), &st)
		if suite, _ := st["suite"].(string); err != nil || st["packets_sent"] == nil || suite == "" {
			t.Fatalf("%s --stats: %q, %v", name, last[len(last)-1], err)
		}
	}
}

// TestListenDialTCP: both sides behind a network that blocks UDP, with
// direct TCP only (--tcp --no-udp): the stream goes over TCP, and the
// statistics say so. The listener offers UDP and TCP (--tcp alone).
func TestListenDialTCP(t *testing.T) {
	for _, listen := range [][]string{{"--tcp", "--no-udp"}, {"--tcp"}} {
		t.Run(strings.Join(listen, " "), func(t *testing.T) { listenDialTCP(t, listen) })
	}
}

func listenDialTCP(t *testing.T, listen []string) {
	l := startListen(t, append(listen, "--stats")...)
	data := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{4}).Read(data)
	code, _, errOut := dial(l, bytes.NewReader(data), "--tcp", "--no-udp", "--peer", l.identity, "--stats")
	l.expectStream(t, code, errOut, data)
	last := strings.Split(strings.TrimSpace(errOut), "\n")
	var st map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &st); err != nil {
		t.Fatal(err)
	}
	if p, _ := st["path"].(string); !strings.HasPrefix(p, "tcp ") {
		t.Errorf("dial --tcp path %q", st["path"])
	}
	if ps, _ := st["paths"].([]any); len(ps) != 1 {
		t.Errorf("dial --tcp --no-udp paths %v, want the TCP one alone", st["paths"])
	}
}

func TestListenDialMessages(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "listener.key")
	if code, _, e := runCmd("keygen", key); code != 0 {
		t.Fatal(e)
	}
	_, pub, _ := runCmd("id", key)
	dialKey := filepath.Join(dir, "dialer.key")
	runCmd("keygen", dialKey)
	_, dialFP, _ := runCmd("id", "--fingerprint", dialKey)

	l := startListen(t, "--key", key, "--messages", "--allow", strings.TrimSpace(dialFP))
	if l.identity != "" {
		t.Fatal("listen with --key printed an identity line")
	}
	var lines []string
	for i := range 200 {
		lines = append(lines, strings.Repeat("x", i)+" line")
	}
	code, _, errOut := dial(l, strings.NewReader(strings.Join(lines, "\n")+"\n"), "--key", dialKey, "--peer", strings.TrimSpace(pub), "--messages")
	if code != 0 {
		t.Fatalf("dial exited %d: %s", code, errOut)
	}
	if code := l.wait(t); code != 0 {
		t.Fatalf("listen exited %d: %s", code, l.stderr.String())
	}
	got := strings.Split(strings.TrimSuffix(l.stdout.String(), "\n"), "\n")
	slices.Sort(got)
	slices.Sort(lines)
	if !slices.Equal(got, lines) {
		t.Fatalf("listen printed %d lines, dial sent %d (each exactly once)", len(got), len(lines))
	}
}

func TestDialErrors(t *testing.T) {
	l := startListen(t)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "--peer is required"},
		{[]string{"--peer", "pydevts1:broken"}, 1, "--peer"},
		{[]string{"--peer", l.identity, "--key", "/nonexistent/key"}, 1, "no such file"},
	} {
		code, _, errOut := dial(l, strings.NewReader(""), c.args...)
		if code != c.code || !strings.Contains(errOut, c.says) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("dial %v: exit %d, %q; want exit %d saying %q in one line", c.args, code, errOut, c.code, c.says)
		}
	}
	// A valid dial with nothing to send ends the listener cleanly.
	if code, _, errOut := dial(l, strings.NewReader(""), "--peer", l.identity); code != 0 {
		t.Fatalf("empty dial: exit %d, %s", code, errOut)
	}
	if code := l.wait(t); code != 0 || l.stdout.String() != "" {
		t.Fatalf("listen after an empty stream: exit %d, output %q", code, l.stdout.String())
	}
	if code, _, errOut := runCmd("listen"); code != 2 || !strings.Contains(errOut, "address") {
		t.Errorf("listen without address: %d %q", code, errOut)
	}
	if code, _, errOut := runCmd("listen", "--allow", "nothex", "127.0.0.1:0"); code != 1 || !strings.Contains(errOut, "fingerprint") {
		t.Errorf("listen --allow nothex: %d %q", code, errOut)
	}
}

// TestListenExitsOnAbort: a peer that aborts the connection with a code
// and a reason, or vanishes, makes listen exit 1 with one line that says
// so, after writing what arrived before.
func TestListenExitsOnAbort(t *testing.T) {
	l := startListen(t)
	card, err := handshake.ParseCard(l.identity)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := rudp.Dial(ctx, "udp", l.addr, card, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("partial\n")); err != nil {
		t.Fatal(err)
	}
	// listen writes what arrives at once, not when the stream ends.
	for deadline := time.Now().Add(30 * time.Second); l.stdout.String() == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("listen has not written the stream's first line after 30 s")
		}
	}
	c.CloseWithError(42, "test abort")
	if code := l.wait(t); code != 1 {
		t.Fatalf("listen exited %d after the peer aborted, want 1: %s", code, l.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(l.stderr.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "code 42") || !strings.Contains(last, "test abort") {
		t.Errorf("listen's last stderr line %q, want the peer's code and reason", last)
	}
	if got := l.stdout.String(); got != "partial\n" {
		t.Errorf("listen wrote %q, want what arrived before the abort", got)
	}
}

// TestListenDialRelay: with --relay on both sides a stream goes through an
// in-process `pydevts relay` only, and the statistics say so.
func TestListenDialRelay(t *testing.T) {
	key, addr, _, _ := startRelay(t)
	via := addr + "/" + key.String()
	l := startListen(t, "--relay", via)
	data := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{5}).Read(data)
	var o, e bytes.Buffer
	code := run([]string{"dial", "--relay", via, "--peer", l.identity, "--stats"}, stdio{bytes.NewReader(data), &o, &e})
	l.expectStream(t, code, e.String(), data)
	last := strings.Split(strings.TrimSpace(e.String()), "\n")
	var st map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &st); err != nil {
		t.Fatal(err)
	}
	if p, _ := st["path"].(string); !strings.HasPrefix(p, "relay "+addr+" ") {
		t.Fatalf("path %q, want through relay %s", p, addr)
	}
	for _, bad := range [][]string{
		{"--relay", "127.0.0.1:1"}, {"--relay", "127.0.0.1:1/zz"}, {"--relay", via, "--tcp"},
		{"--relay", via, "--relay", via, "--relay", via, "--relay", via},
		{"--no-udp", "127.0.0.1:1"}, {"--no-udp", "--relay", via, "127.0.0.1:1"}, {"--no-udp"},
	} {
		var e bytes.Buffer
		if code := run(append([]string{"dial", "--peer", l.identity}, bad...), stdio{strings.NewReader(""), io.Discard, &e}); code != 2 {
			t.Errorf("dial %v exited %d, want 2 (usage): %s", bad, code, e.String())
		}
	}
}

// TestListenDialPaths: both sides with UDP, TCP and two relays; the
// stream goes over UDP, and --stats lists all four paths on each side,
// the UDP one active.
func TestListenDialPaths(t *testing.T) {
	var relays []string
	for range 2 {
		key, addr, _, _ := startRelay(t)
		relays = append(relays, "--relay", addr+"/"+key.String())
	}
	l := startListen(t, append([]string{"--tcp", "--stats"}, relays...)...)
	data := make([]byte, 512<<10)
	rand.NewChaCha8([32]byte{6}).Read(data)
	code, _, errOut := dial(l, bytes.NewReader(data), append([]string{"--tcp", "--stats", "--peer", l.identity}, relays...)...)
	l.expectStream(t, code, errOut, data)
	if n := strings.Count(l.stderr.String(), "listening on relay "); n != 2 {
		t.Errorf("listen printed %d relays: %s", n, l.stderr.String())
	}
	last := strings.Split(strings.TrimSpace(errOut), "\n")
	var st struct {
		Path  string
		Paths []struct {
			Kind, Addr, State string
			Active            bool
			PacketsSent       uint64 `json:"packets_sent"`
		}
	}
	if err := json.Unmarshal([]byte(last[len(last)-1]), &st); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, p := range st.Paths {
		kinds[p.Kind]++
		if p.Active != (p.Kind == "udp") || p.Addr == "" || p.PacketsSent == 0 {
			t.Errorf("path %+v", p)
		}
	}
	if kinds["udp"] != 1 || kinds["tcp"] != 1 || kinds["relay"] != 2 || !strings.HasPrefix(st.Path, "udp ") {
		t.Errorf("dial --stats: path %q, paths %+v", st.Path, st.Paths)
	}
}
