package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
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
	stdout         *syncBuffer
	stderr         *syncBuffer
	done           chan int
}

func startListen(t *testing.T, args ...string) *listener {
	t.Helper()
	l := &listener{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1)}
	pr, pw := io.Pipe()
	go func() {
		if !slices.Contains(args, "--relay") {
			args = append(args, "127.0.0.1:0")
		}
		code := run(append([]string{"listen"}, args...), stdio{strings.NewReader(""), l.stdout, io.MultiWriter(pw, l.stderr)})
		pw.Close()
		l.done <- code
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
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

func dial(l *listener, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(append(append([]string{"dial"}, args...), l.addr), stdio{stdin, &o, &e})
	return code, o.String(), e.String()
}

// TestListenDialStream pipes 2 MB through `dial` into `listen` and checks
// the bytes, the exit codes, and the statistics JSON.
func TestListenDialStream(t *testing.T) {
	l := startListen(t, "--stats")
	if !strings.HasPrefix(l.identity, "pydevts1:") {
		t.Fatalf("listen without --key printed identity %q", l.identity)
	}
	data := make([]byte, 2<<20)
	rand.NewChaCha8([32]byte{3}).Read(data)
	code, _, errOut := dial(l, bytes.NewReader(data), "--peer", l.identity, "--stats")
	if code != 0 {
		t.Fatalf("dial exited %d: %s", code, errOut)
	}
	if code := l.wait(t); code != 0 {
		t.Fatalf("listen exited %d: %s", code, l.stderr.String())
	}
	if got := l.stdout.String(); got != string(data) {
		t.Fatalf("listen wrote %d bytes, dial sent %d", len(got), len(data))
	}
	for name, out := range map[string]string{"dial": errOut, "listen": l.stderr.String()} {
		last := strings.Split(strings.TrimSpace(out), "\n")
		var st map[string]any
		if err := json.Unmarshal([]byte(last[len(last)-1]), &st); err != nil || st["packets_sent"] == nil || st["suite"] == "" {
			t.Fatalf("%s --stats: %q, %v", name, last[len(last)-1], err)
		}
	}
}

// TestListenDialTCP: with --tcp on both sides the same stream goes over
// direct TCP, and the statistics say so.
func TestListenDialTCP(t *testing.T) {
	l := startListen(t, "--tcp", "--stats")
	data := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{4}).Read(data)
	code, _, errOut := dial(l, bytes.NewReader(data), "--tcp", "--peer", l.identity, "--stats")
	if code != 0 {
		t.Fatalf("dial --tcp exited %d: %s", code, errOut)
	}
	if code := l.wait(t); code != 0 {
		t.Fatalf("listen --tcp exited %d: %s", code, l.stderr.String())
	}
	if got := l.stdout.String(); got != string(data) {
		t.Fatalf("listen wrote %d bytes, dial sent %d", len(got), len(data))
	}
	last := strings.Split(strings.TrimSpace(errOut), "\n")
	var st map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &st); err != nil {
		t.Fatal(err)
	}
	if p, _ := st["path"].(string); !strings.HasPrefix(p, "tcp ") {
		t.Errorf("dial --tcp path %q", st["path"])
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
	if code != 0 {
		t.Fatalf("dial --relay exited %d: %s", code, e.String())
	}
	if code := l.wait(t); code != 0 {
		t.Fatalf("listen --relay exited %d: %s", code, l.stderr.String())
	}
	if got := l.stdout.String(); got != string(data) {
		t.Fatalf("listen wrote %d bytes, dial sent %d", len(got), len(data))
	}
	last := strings.Split(strings.TrimSpace(e.String()), "\n")
	var st map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &st); err != nil {
		t.Fatal(err)
	}
	if p, _ := st["path"].(string); !strings.HasPrefix(p, "relay "+addr+" ") {
		t.Fatalf("path %q, want through relay %s", p, addr)
	}
	for _, bad := range [][]string{{"--relay", "127.0.0.1:1"}, {"--relay", "127.0.0.1:1/zz"}, {"--relay", via, "127.0.0.1:1"}, {"--relay", via, "--tcp"}} {
		if code := run(append([]string{"dial", "--peer", l.identity}, bad...), stdio{strings.NewReader(""), io.Discard, io.Discard}); code == 0 {
			t.Errorf("dial %v succeeded", bad)
		}
	}
}
