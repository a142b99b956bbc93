package node

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestControl(t *testing.T) {
	dir := t.TempDir()
	l, err := listenControl(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		serveControl(l, func(_ context.Context, r controlRequest) controlResponse {
			switch r.Op {
			case "publish":
				return controlResponse{ID: "id:" + string(r.Data)}
			case "get":
				return controlResponse{Data: bytes.Repeat([]byte(r.ID), 1000)}
			case "journal":
				return controlResponse{Lines: []string{"a", "b"}}
			case "peers":
				return controlResponse{Peers: []PeerStatus{{Name: "bob", Connected: true}}}
			}
			return controlResponse{Error: "unknown op " + r.Op}
		})
		close(done)
	}()
	st, err := os.Stat(filepath.Join(dir, ControlSocket))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, mode %v; want 0600", err, st.Mode())
	}
	ctx := context.Background()
	if id, err := Publish(ctx, dir, []byte("x")); err != nil || id != "id:x" {
		t.Errorf("publish: %q, %v", id, err)
	}
	if b, err := Get(ctx, dir, "ab"); err != nil || len(b) != 2000 {
		t.Errorf("get: %d bytes, %v", len(b), err)
	}
	if ls, err := JournalLines(ctx, dir); err != nil || len(ls) != 2 {
		t.Errorf("journal: %v, %v", ls, err)
	}
	if ps, err := Peers(ctx, dir); err != nil || len(ps) != 1 || !ps[0].Connected {
		t.Errorf("peers: %v, %v", ps, err)
	}
	if _, err := callControl(ctx, dir, controlRequest{Op: "dance"}); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Errorf("unknown op: %v", err)
	}
	// A second node on the same directory is refused while the first runs.
	if l2, err := listenControl(dir); err == nil {
		l2.Close()
		t.Fatal("a second control socket opened on a running node's directory")
	}
	// Garbage gets an error, not a hang.
	c, err := net.Dial("unix", filepath.Join(dir, ControlSocket))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("{not json\n"))
	var buf [256]byte
	n, _ := c.Read(buf[:])
	c.Close()
	if !strings.Contains(string(buf[:n]), "bad request") {
		t.Errorf("garbage answered %q", buf[:n])
	}
	l.Close()
	<-done
	// A socket file left behind (Go removes it on Close; a crash does
	// not): the next node takes its place.
	if err := os.WriteFile(filepath.Join(dir, ControlSocket), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = listenControl(dir)
	if err != nil {
		t.Fatalf("stale socket file: %v", err)
	}
	l.Close()
	if _, err := Publish(ctx, dir, nil); err == nil || !strings.Contains(err.Error(), "no node running") {
		t.Errorf("no node: %v", err)
	}
}
