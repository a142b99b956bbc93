package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pydevts/pydevts/sdmp"
)

// mountTmpfs mounts a tmpfs of size bytes at a new directory, unmounted
// when the test ends; the test is skipped where that is not allowed.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestDiskFull: a node whose disk fills up refuses to publish with a
// clear error, never journals a resource it could not store, keeps
// serving, and, restarted once space is back, publishes again with its
// chain intact.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, 256<<10)
	dir := filepath.Join(mnt, "n")
	if err := Init(dir, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("listen: {}\n"), 0o600)
	tn := &testNode{name: "n", dir: dir}
	stop := runNode(t, tn)
	ctx := context.Background()
	big := "x: \"" + strings.Repeat("a", 20<<10) + "\"\n"
	var published []string
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		id, err := Publish(ctx, dir, []byte(fmt.Sprintf("n: %d\n%s", i, big)))
		if err != nil {
			full = err
			break
		}
		published = append(published, id)
	}
	if full == nil {
		t.Fatal("100 resources of 20 KiB fit in 256 KiB: the test tests nothing")
	}
	t.Logf("%d resources published, then: %v", len(published), full)
	if !strings.Contains(full.Error(), "no space left on device") {
		t.Errorf("the error does not say the disk is full: %v", full)
	}
	// The node still answers.
	lines, err := JournalLines(ctx, dir)
	if err != nil {
		t.Fatalf("the node stopped answering: %v", err)
	}
	stop()
	// Space comes back (the tmpfs grows); the node restarts, and its
	// journal verifies and names only stored resources, every one
	// acknowledged among them.
	if out, err := exec.Command("mount", "-o", "remount,size=4m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	n, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("the node does not open after the disk filled: %v", err)
	}
	got := n.st.journal.Lines()
	if err := sdmp.VerifyJournalSegment(got[0], got[1:]); err != nil {
		t.Fatalf("the chain does not verify: %v", err)
	}
	if len(got) != len(lines) {
		t.Errorf("the journal had %d lines before the restart, %d after", len(lines), len(got))
	}
	for _, l := range got[1:] {
		_, _, id, err := sdmp.ParseJournalLine(l)
		if err != nil || !n.st.store.Has(id) {
			t.Errorf("journal line %q names a resource the store lacks", l)
		}
	}
	for _, id := range published {
		if !n.st.store.Has(id) {
			t.Errorf("acknowledged resource %s lost", id)
		}
	}
	n.Close()
	runNode(t, tn)
	if _, err := Publish(ctx, dir, []byte("after: \"space came back\"\n")); err != nil {
		t.Fatalf("publish after space came back: %v", err)
	}
}
