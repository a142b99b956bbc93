package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pydevts/pydevts/sdmp"
	"github.com/pydevts/pydevts/sdmp/node"
)

// buildBinary builds pydevts once per test binary run, for tests that
// need real processes (a node killed with SIGKILL, say).
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pydevts-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pydevts")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs processes")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startNodeProcess runs `pydevts node run --data dir` until the test
// ends; stop sends it sig (SIGKILL, SIGTERM) and returns its exit error.
func startNodeProcess(t *testing.T, bin, dir string) (stop func(sig syscall.Signal) error) {
	t.Helper()
	cmd := exec.Command(bin, "node", "run", "--data", dir, "--log-level", "warn")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, bufio.NewReader(stderr))
	var once sync.Once
	var werr error
	stop = func(sig syscall.Signal) error {
		once.Do(func() {
			cmd.Process.Signal(sig)
			werr = cmd.Wait()
		})
		return werr
	}
	t.Cleanup(func() { stop(syscall.SIGKILL) })
	waitUntil(t, "the node to answer on its control socket", func() bool {
		_, err := node.JournalLines(context.Background(), dir)
		return err == nil
	})
	return stop
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a safety net, not a threshold
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestNodeProcesses: three `pydevts node` processes in a triangle on
// loopback, set up with the CLI, once over pydevts and once over the SDMP
// TCP binding. A resource published with `pydevts publish` on one is in
// the journals and stores of the others (`pydevts journal`, `pydevts
// get`), byte for byte; the third node, started late, catches up;
// `pydevts peers` shows the sessions; SIGTERM stops a node cleanly.
func TestNodeProcesses(t *testing.T) {
	bin := binary(t)
	for _, via := range []string{"pydevts", "tcp"} {
		t.Run(via, func(t *testing.T) { nodeProcesses(t, bin, via) })
	}
}

func nodeProcesses(t *testing.T, bin, via string) {
	dirs := makeNodeDirs(t, []string{"a", "b", "c"}, via)
	stopA := startNodeProcess(t, bin, dirs["a"])
	startNodeProcess(t, bin, dirs["b"])
	file := filepath.Join(t.TempDir(), "post.yaml")
	os.WriteFile(file, []byte("post:\n  title: hello\n  body: from a\n"), 0o600)
	code, out, e := runCmd("publish", "--data", dirs["a"], file)
	if code != 0 {
		t.Fatalf("publish: %s", e)
	}
	id := strings.TrimSpace(out)
	_, orig, _ := runCmd("get", "--data", dirs["a"], id)
	if _, err := sdmp.ParseSYML([]byte(orig)); err != nil {
		t.Fatalf("get printed no SYML file: %v", err)
	}
	holds := func(n string) func() bool {
		return func() bool {
			_, j, _ := runCmd("journal", "--data", dirs[n])
			_, got, _ := runCmd("get", "--data", dirs[n], id)
			return strings.Contains(j, "/"+id) && got == orig
		}
	}
	start := time.Now()
	waitUntil(t, "b to hold the resource", holds("b"))
	t.Logf("b holds it %v after publish returned", time.Since(start))
	// c was offline; started now, it catches up.
	startNodeProcess(t, bin, dirs["c"])
	waitUntil(t, "c to catch up", holds("c"))
	waitUntil(t, "a to have sessions with b and c", func() bool {
		_, peers, _ := runCmd("peers", "--data", dirs["a"])
		return strings.Count(peers, "up via "+via) == 2
	})
	if err := stopA(syscall.SIGTERM); err != nil {
		t.Errorf("node a after SIGTERM: %v, want exit 0", err)
	}
}

// makeNodeDirs inits a node for each name with the CLI, each a peer of
// every other over via ("pydevts" or "tcp") on loopback, and returns
// their data directories by name.
func makeNodeDirs(t *testing.T, names []string, via string) map[string]string {
	t.Helper()
	dirs := map[string]string{}
	addrs := map[string]string{}
	cards := map[string]string{}
	for _, n := range names {
		dirs[n] = filepath.Join(t.TempDir(), n)
		if code, _, e := runCmd("node", "init", "--data", dirs[n], "--user", n); code != 0 {
			t.Fatalf("node init: %s", e)
		}
		if via == "tcp" {
			addrs[n] = freeAddr(t, "tcp")
		} else {
			addrs[n] = freeAddr(t, "udp")
		}
		_, card, _ := runCmd("id", filepath.Join(dirs[n], node.TransportFile))
		cards[n] = strings.TrimSpace(card)
	}
	for _, n := range names {
		var cfg strings.Builder
		if via == "tcp" {
			fmt.Fprintf(&cfg, "listen:\n  sdmp_tcp: %q\n", addrs[n])
		} else {
			fmt.Fprintf(&cfg, "listen:\n  pydevts: %q\n", addrs[n])
		}
		fmt.Fprintf(&cfg, "sync_interval: 1s\nredial_interval: 200ms\npeers:\n")
		for _, o := range names {
			if o == n {
				continue
			}
			fmt.Fprintf(&cfg, "  - name: %s\n    node_key: %s\n    user_key: %s\n",
				o, filepath.Join(dirs[o], node.NodePubFile), filepath.Join(dirs[o], node.UserPubFile))
			if via == "tcp" {
				fmt.Fprintf(&cfg, "    sdmp_tcp: %q\n", addrs[o])
			} else {
				fmt.Fprintf(&cfg, "    transport: %q\n    pydevts: %q\n", cards[o], addrs[o])
			}
		}
		if err := os.WriteFile(filepath.Join(dirs[n], node.ConfigFile), []byte(cfg.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// TestNodeKilledWhilePublishing: a node is killed with SIGKILL while
// resources are being published to it, several at a time. Restarted, its
// journal opens (a torn last line is cut off), its chain verifies, and
// every resource it names is in the store.
func TestNodeKilledWhilePublishing(t *testing.T) {
	bin := binary(t)
	dir := filepath.Join(t.TempDir(), "n")
	if code, _, e := runCmd("node", "init", "--data", dir); code != 0 {
		t.Fatalf("node init: %s", e)
	}
	os.WriteFile(filepath.Join(dir, node.ConfigFile), []byte("listen: {}\n"), 0o600)
	stop := startNodeProcess(t, bin, dir)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var published []string // the IDs the node acknowledged
	done := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				id, err := node.Publish(ctx, dir, fmt.Appendf(nil, "n: %d-%d\n", w, i))
				cancel()
				if err != nil {
					return // the node is gone
				}
				mu.Lock()
				published = append(published, id)
				mu.Unlock()
			}
		})
	}
	// Kill it at a random moment once a few resources are in.
	waitUntil(t, "some resources published", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(published) >= 5
	})
	time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
	stop(syscall.SIGKILL)
	close(done)
	wg.Wait()
	t.Logf("%d resources published before SIGKILL", len(published))

	ids := checkNodeDir(t, dir)
	for _, id := range published {
		if !ids[id] {
			t.Errorf("resource %s was acknowledged, and is not in the journal", id)
		}
	}
}

// TestNodeCommandErrors: the node commands fail clearly without a node.
func TestNodeCommandErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"node"}, 2, "init or run"},
		{[]string{"node", "dance"}, 2, "init or run"},
		{[]string{"node", "run", "--data", dir}, 1, "no such file"},
		{[]string{"journal", "--data", dir}, 1, "no node running"},
		{[]string{"get", "--data", dir}, 2, "resource ID"},
		{[]string{"publish", "--data", dir, filepath.Join(dir, "missing.yaml")}, 1, "no such file"},
		{[]string{"node", "run", "--data", dir, "--log-level", "loud"}, 2, "log-level"},
	} {
		code, _, e := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(e, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, e, tc.code, tc.want)
		}
	}
	if code, _, e := runCmd("node", "init", "--data", dir); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := runCmd("node", "init", "--data", dir); code != 1 || !strings.Contains(e, "not empty") {
		t.Errorf("init twice: %d %q", code, e)
	}
	os.Chmod(dir, 0o755)
	if code, _, e := runCmd("node", "run", "--data", dir); code != 1 || !strings.Contains(e, "0700") {
		t.Errorf("run on a 0755 directory: %d %q", code, e)
	}
}

// checkNodeDir opens the node in dir (not running) and checks its
// journal: the chain verifies and every line names a stored resource. It
// returns the resource identifiers journaled.
func checkNodeDir(t *testing.T, dir string) map[string]bool {
	t.Helper()
	n, err := node.Open(dir, nil)
	if err != nil {
		t.Fatalf("the node does not open: %v", err)
	}
	_, nodeFP := n.Fingerprints()
	n.Close()
	j, err := sdmp.OpenJournal(filepath.Join(dir, node.JournalFile), nodeFP)
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	defer j.Close()
	st, err := sdmp.OpenStore(filepath.Join(dir, node.StoreDir), func(raw []byte) (string, error) { return "", nil })
	if err != nil {
		t.Fatal(err)
	}
	lines := j.Lines()
	if err := sdmp.VerifyJournalSegment(lines[0], lines[1:]); err != nil {
		t.Fatalf("the chain does not verify: %v", err)
	}
	ids := map[string]bool{}
	for _, l := range lines[1:] {
		_, _, id, err := sdmp.ParseJournalLine(l)
		if err != nil || !st.Has(id) {
			t.Fatalf("journal line %q names a resource the store lacks (%v)", l, err)
		}
		ids[id] = true
	}
	return ids
}

// TestNodeKilledRepeatedly: node b is SIGKILLed five times while it
// syncs from node a, which keeps publishing, and while clients publish
// to b itself. After every kill b's journal verifies and names only
// stored resources; at the end b holds everything a published and
// everything acknowledged to b's own clients.
func TestNodeKilledRepeatedly(t *testing.T) {
	bin := binary(t)
	dirs := map[string]string{}
	addrs := map[string]string{}
	for _, n := range []string{"a", "b"} {
		dirs[n] = filepath.Join(t.TempDir(), n)
		if code, _, e := runCmd("node", "init", "--data", dirs[n], "--user", n); code != 0 {
			t.Fatalf("node init: %s", e)
		}
		addrs[n] = freeAddr(t, "tcp")
	}
	for n, o := range map[string]string{"a": "b", "b": "a"} {
		cfg := fmt.Sprintf("listen:\n  sdmp_tcp: %q\nsync_interval: 300ms\nredial_interval: 100ms\npeers:\n"+
			"  - name: %s\n    node_key: %s\n    user_key: %s\n    sdmp_tcp: %q\n",
			addrs[n], o, filepath.Join(dirs[o], node.NodePubFile), filepath.Join(dirs[o], node.UserPubFile), addrs[o])
		if err := os.WriteFile(filepath.Join(dirs[n], node.ConfigFile), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	startNodeProcess(t, bin, dirs["a"])
	var mu sync.Mutex
	fromA, toB := map[string]bool{}, map[string]bool{}
	publish := func(dir string, into map[string]bool, stop <-chan struct{}, tag string) {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			id, err := node.Publish(ctx, dir, fmt.Appendf(nil, "n: \"%s %d\"\n", tag, i))
			cancel()
			if err == nil {
				mu.Lock()
				into[id] = true
				mu.Unlock()
			} else {
				time.Sleep(20 * time.Millisecond) // b is down
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { publish(dirs["a"], fromA, stop, "a") })
	for round := range 5 {
		kill := startNodeProcess(t, bin, dirs["b"])
		wg.Go(func() { publish(dirs["b"], toB, stop, fmt.Sprintf("b%d", round)) })
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		kill(syscall.SIGKILL)
		checkNodeDir(t, dirs["b"])
	}
	close(stop)
	wg.Wait()
	// Once more, to the end: b catches up with a.
	startNodeProcess(t, bin, dirs["b"])
	waitUntil(t, "b to hold everything a published", func() bool {
		_, j, _ := runCmd("journal", "--data", dirs["b"])
		for id := range fromA {
			if !strings.Contains(j, "/"+id) {
				return false
			}
		}
		return true
	})
	_, j, _ := runCmd("journal", "--data", dirs["b"])
	for id := range toB {
		if !strings.Contains(j, "/"+id) {
			t.Errorf("resource %s, acknowledged by b, is not in its journal", id)
		}
	}
	t.Logf("a published %d resources, b's clients %d, across 5 SIGKILLs of b", len(fromA), len(toB))
}
