package node

import (
	"bytes"
	"context"
	"crypto/rsa"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp/relay"
	"github.com/pydevts/pydevts/sdmp"
)

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T, network string) string {
	t.Helper()
	switch network {
	case "udp":
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

// testNode is a node's data directory in a test.
type testNode struct {
	name, dir        string
	pydevts, tcp     string
	card             string
	user, node       string // fingerprints
	userPub, nodePub []byte
}

// makeNodes inits n nodes, each a peer of every other, over pydevts
// (viaTCP false) or the SDMP TCP binding.
func makeNodes(t *testing.T, names []string, viaTCP bool) []*testNode {
	t.Helper()
	var ns []*testNode
	for _, name := range names {
		tn := &testNode{name: name, dir: filepath.Join(t.TempDir(), name), pydevts: freePort(t, "udp"), tcp: freePort(t, "tcp")}
		if err := Init(tn.dir, &InitOptions{UserName: name, NodeName: name + "-node"}); err != nil {
			t.Fatal(err)
		}
		id, err := handshake.LoadKeyFile(filepath.Join(tn.dir, TransportFile))
		if err != nil {
			t.Fatal(err)
		}
		tn.card = id.Card().String()
		tn.userPub, _ = os.ReadFile(filepath.Join(tn.dir, UserPubFile))
		tn.nodePub, _ = os.ReadFile(filepath.Join(tn.dir, NodePubFile))
		uk, _ := sdmp.ParsePublicKeyPEM(tn.userPub)
		nk, _ := sdmp.ParsePublicKeyPEM(tn.nodePub)
		tn.user, tn.node = sdmp.Fingerprint(uk), sdmp.Fingerprint(nk)
		ns = append(ns, tn)
	}
	for _, tn := range ns {
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "listen:\n  pydevts: %q\n  sdmp_tcp: %q\nsync_interval: 500ms\nredial_interval: 200ms\npeers:\n", tn.pydevts, tn.tcp)
		for _, o := range ns {
			if o == tn {
				continue
			}
			os.MkdirAll(filepath.Join(tn.dir, "peers"), 0o700)
			os.WriteFile(filepath.Join(tn.dir, "peers", o.name+"-node.pem"), o.nodePub, 0o644)
			os.WriteFile(filepath.Join(tn.dir, "peers", o.name+"-user.pem"), o.userPub, 0o644)
			fmt.Fprintf(&cfg, "  - name: %s\n    node_key: peers/%s-node.pem\n    user_key: peers/%s-user.pem\n", o.name, o.name, o.name)
			if viaTCP {
				fmt.Fprintf(&cfg, "    sdmp_tcp: %q\n", o.tcp)
			} else {
				fmt.Fprintf(&cfg, "    transport: %q\n    pydevts: %q\n", o.card, o.pydevts)
			}
		}
		if err := os.WriteFile(filepath.Join(tn.dir, ConfigFile), []byte(cfg.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// runNode runs the node in tn until the returned stop is called (or the
// test ends).
func runNode(t *testing.T, tn *testNode) (stop func()) {
	t.Helper()
	_, stop = runOpenNode(t, tn)
	return stop
}

// runOpenNode is runNode that also returns the node.
func runOpenNode(t *testing.T, tn *testNode) (n *Node, stop func()) {
	t.Helper()
	n, err := Open(tn.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %s: %v", tn.name, err)
		}
	}
	t.Cleanup(stop)
	// Wait for its control socket.
	waitFor(t, tn.name+" to start", func() bool {
		_, err := JournalLines(context.Background(), tn.dir)
		return err == nil
	})
	return n, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a safety net, not a threshold
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holds reports whether the node in tn journals and stores resource id.
func holds(tn *testNode, id string) bool {
	ctx := context.Background()
	lines, err := JournalLines(ctx, tn.dir)
	if err != nil {
		return false
	}
	in := slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, "/"+id) })
	raw, err := Get(ctx, tn.dir, id)
	return in && err == nil && len(raw) > 0
}

func TestTriangle(t *testing.T) {
	for _, viaTCP := range []bool{false, true} {
		t.Run(map[bool]string{false: "pydevts", true: "tcp"}[viaTCP], func(t *testing.T) {
			ns := makeNodes(t, []string{"a", "b", "c"}, viaTCP)
			for _, tn := range ns[:2] {
				runNode(t, tn)
			}
			ctx := context.Background()
			id, err := Publish(ctx, ns[0].dir, []byte("blog:\n  title: hello\n  text: from a\n"))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			waitFor(t, "b to hold a's resource", func() bool { return holds(ns[1], id) })
			t.Logf("b holds it after %v", time.Since(start))
			raw, _ := Get(ctx, ns[1].dir, id)
			orig, _ := Get(ctx, ns[0].dir, id)
			if !bytes.Equal(raw, orig) {
				t.Fatal("b's copy differs from a's")
			}
			// c was offline; it catches up when it starts.
			runNode(t, ns[2])
			waitFor(t, "c to catch up", func() bool { return holds(ns[2], id) })
			// And what c publishes reaches both.
			id2, err := Publish(ctx, ns[2].dir, []byte("note: from c\n"))
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range ns[:2] {
				waitFor(t, tn.name+" to hold c's resource", func() bool { return holds(tn, id2) })
			}
			ps, err := Peers(ctx, ns[0].dir)
			if err != nil || len(ps) != 2 {
				t.Fatalf("peers: %+v %v", ps, err)
			}
			for _, p := range ps {
				if !p.Connected {
					t.Errorf("a's peer %s not connected: %+v", p.Name, p)
				}
			}
		})
	}
}

// TestRefused: a peer offers resources that must be refused: a bad
// signature, an unknown publisher, a delete of another user's resource.
// None is stored or journaled; a good one, offered the same way, is.
func TestRefused(t *testing.T) {
	ns := makeNodes(t, []string{"b", "evil"}, true)
	b, evil := ns[0], ns[1]
	bn, _ := runOpenNode(t, b)
	ctx := context.Background()
	bRes, err := Publish(ctx, b.dir, []byte("mine: b's\n"))
	if err != nil {
		t.Fatal(err)
	}
	evilNode, err := loadPrivateKey(filepath.Join(evil.dir, NodeKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	evilUser, err := loadPrivateKey(filepath.Join(evil.dir, UserKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := sdmp.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key *rsa.PrivateKey, r *sdmp.Resource) ([]byte, string) {
		t.Helper()
		r.Created = time.Now().UTC()
		stream, err := sdmp.EncodeDocument(r)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := sdmp.SignSYML(key, stream)
		if err != nil {
			t.Fatal(err)
		}
		return raw, sdmp.ResourceID(stream)
	}
	content := func(v string) map[string]*yaml.Node {
		return map[string]*yaml.Node{"note": {Kind: yaml.ScalarNode, Tag: "!!str", Value: v}}
	}
	evilFP := sdmp.Fingerprint(&evilUser.PublicKey)
	badSig, badSigID := sign(evilUser, &sdmp.Resource{Publisher: evilFP, Content: content("forged")})
	// Flip a bit of the signature (the first base64 character after
	// the block's header keeps it parseable, not valid).
	badSig = bytes.Clone(badSig)
	i := bytes.IndexByte(badSig, '\n') + 1
	badSig[i] ^= 0x01
	unknown, unknownID := sign(stranger, &sdmp.Resource{Publisher: sdmp.Fingerprint(&stranger.PublicKey), Content: content("who?")})
	steal, stealID := sign(evilUser, &sdmp.Resource{Publisher: evilFP, Updates: []string{bRes}})
	good, goodID := sign(evilUser, &sdmp.Resource{Publisher: evilFP, Content: content("fine")})
	offers := map[string][]byte{badSigID: badSig, unknownID: unknown, stealID: steal, goodID: good}

	// Play evil's node by hand over the SDMP TCP binding.
	c, err := net.Dial("tcp", b.tcp)
	if err != nil {
		t.Fatal(err)
	}
	bNodeKey, _ := sdmp.ParsePublicKeyPEM(b.nodePub)
	s, err := sdmp.Handshake(ctx, c, &sdmp.SessionConfig{Key: evilNode, Initiator: true, Peer: bNodeKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	send := func(cm *sdmp.Communication) {
		t.Helper()
		cm.Node, cm.Created = evil.node, time.Now().UTC()
		stream, err := sdmp.EncodeDocument(cm)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := sdmp.SignSYML(evilNode, stream)
		if err := s.WriteDocument(f); err != nil {
			t.Fatal(err)
		}
	}
	// A file that does not parse gets a 400 (naming the bytes sent) and
	// leaves the session up.
	if err := s.WriteDocument([]byte("not a Signed YAML file")); err != nil {
		t.Fatal(err)
	}
	prev := evil.node
	var entries []string
	for _, e := range []struct{ pub, id string }{
		{evilFP, badSigID}, {sdmp.Fingerprint(&stranger.PublicKey), unknownID}, {evilFP, stealID}, {evilFP, goodID},
	} {
		prev = sdmp.NextJournalLine(prev, e.pub, e.id)
		entries = append(entries, prev)
	}
	send(&sdmp.Communication{Journal: &sdmp.JournalList{Since: evil.node, Entries: entries}})
	// Answer b's requests until it has asked for all four.
	asked := map[string]bool{}
	for len(asked) < len(offers) {
		s.SetReadDeadline(time.Now().Add(30 * time.Second))
		doc, err := s.ReadDocument()
		if err != nil {
			t.Fatalf("after %d requests: %v", len(asked), err)
		}
		f, err := sdmp.ParseSYML(doc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := sdmp.DecodeDocument(f.Stream)
		if err != nil {
			t.Fatal(err)
		}
		if cm, ok := d.(*sdmp.Communication); ok && cm.Request != nil {
			asked[cm.Request.Resource] = true
			if err := s.WriteDocument(offers[cm.Request.Resource]); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "b to take the good resource", func() bool { return holds(b, goodID) })
	for name, id := range map[string]string{"bad signature": badSigID, "unknown publisher": unknownID, "delete of b's resource": stealID} {
		if holds(b, id) {
			t.Errorf("b took the resource with a %s", name)
		}
		lines, _ := JournalLines(ctx, b.dir)
		for _, l := range lines {
			if strings.HasSuffix(l, "/"+id) {
				t.Errorf("b journaled the resource with a %s", name)
			}
		}
	}
	if !holds(b, bRes) {
		t.Error("b lost its own resource to evil's delete")
	}
	// The unknown publisher's and the delete are refused after they
	// arrived (the forged signature too, unless the flipped bit made the
	// file unparseable), and counted.
	if st := bn.Stats(); st.ResourcesRefused < 2 || st.ResourcesReceived != 1 {
		t.Errorf("b counted %d resources refused, %d received; want at least 2, and 1", st.ResourcesRefused, st.ResourcesReceived)
	}
}

// udpProxy forwards datagrams between one client and to, until
// blackholed.
type udpProxy struct {
	front, back *net.UDPConn
	dark        atomic.Bool
	forwarded   atomic.Int64
}

func startUDPProxy(t *testing.T, to string) *udpProxy {
	t.Helper()
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := net.ResolveUDPAddr("udp", to)
	back, err := net.DialUDP("udp", nil, ta)
	if err != nil {
		t.Fatal(err)
	}
	p := &udpProxy{front: front, back: back}
	var client atomic.Pointer[net.UDPAddr]
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			client.Store(from)
			if !p.dark.Load() {
				p.forwarded.Add(1)
				back.Write(buf[:n])
			}
		}
	}()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			if c := client.Load(); c != nil && !p.dark.Load() {
				front.WriteToUDP(buf[:n], c)
			}
		}
	}()
	t.Cleanup(func() { front.Close(); back.Close() })
	return p
}

// TestSyncThroughRelay: a and b sync over pydevts, a reaching b by UDP
// (through a proxy the test can blackhole) and both through a relay. UDP
// goes dark; a resource published after that still reaches b.
func TestSyncThroughRelay(t *testing.T) {
	rs, err := relay.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go rs.Serve(rl)
	t.Cleanup(func() { rs.Close() })
	via := rl.Addr().String() + "/" + rs.PublicKey().String()

	ns := makeNodes(t, []string{"a", "b"}, false)
	a, b := ns[0], ns[1]
	proxy := startUDPProxy(t, b.pydevts)
	writeConfig := func(tn, o *testNode, peerAddr string) {
		cfg := fmt.Sprintf("listen:\n  pydevts: %q\nrelays: [%q]\nsync_interval: 500ms\nredial_interval: 200ms\npeers:\n"+
			"  - name: %s\n    node_key: peers/%s-node.pem\n    user_key: peers/%s-user.pem\n    transport: %q\n",
			tn.pydevts, via, o.name, o.name, o.name, o.card)
		if peerAddr != "" {
			cfg += fmt.Sprintf("    pydevts: %q\n", peerAddr)
		}
		if err := os.WriteFile(filepath.Join(tn.dir, ConfigFile), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(a, b, proxy.front.LocalAddr().String()) // a: UDP (through the proxy) and the relay
	writeConfig(b, a, "")                               // b: the relay only
	runNode(t, a)
	runNode(t, b)
	ctx := context.Background()
	waitFor(t, "a session between a and b", func() bool {
		ps, err := Peers(ctx, a.dir)
		return err == nil && len(ps) == 1 && ps[0].Connected
	})
	dark0 := time.Now()
	id1, err := Publish(ctx, a.dir, []byte("n: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hold the first resource", func() bool { return holds(b, id1) })
	t.Logf("b holds the first resource %v after publish", time.Since(dark0))
	if proxy.forwarded.Load() == 0 {
		t.Fatal("nothing went through the UDP proxy: the test tests nothing")
	}
	proxy.dark.Store(true)
	dark := time.Now()
	id2, err := Publish(ctx, a.dir, []byte("n: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hold the resource published with UDP dark", func() bool { return holds(b, id2) })
	t.Logf("b holds it %v after UDP went dark", time.Since(dark))
	for _, tn := range ns {
		ps, _ := Peers(ctx, tn.dir)
		t.Logf("%s's peers: %+v", tn.name, ps)
	}
}

// TestIdle408: a peer that says nothing gets a 408 response after the
// idle timeout, and the session is closed.
func TestIdle408(t *testing.T) {
	ns := makeNodes(t, []string{"b", "mute"}, true)
	b, mute := ns[0], ns[1]
	cfg, _ := os.ReadFile(filepath.Join(b.dir, ConfigFile))
	cfg = append(cfg, []byte("idle_timeout: 300ms\n")...)
	os.WriteFile(filepath.Join(b.dir, ConfigFile), cfg, 0o600)
	runNode(t, b)
	muteNode, err := loadPrivateKey(filepath.Join(mute.dir, NodeKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", b.tcp)
	if err != nil {
		t.Fatal(err)
	}
	bNodeKey, _ := sdmp.ParsePublicKeyPEM(b.nodePub)
	s, err := sdmp.Handshake(context.Background(), c, &sdmp.SessionConfig{Key: muteNode, Initiator: true, Peer: bNodeKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got408 := false
	for {
		s.SetReadDeadline(time.Now().Add(30 * time.Second))
		doc, err := s.ReadDocument()
		if err != nil {
			break // closed by b
		}
		f, _ := sdmp.ParseSYML(doc)
		if d, err := sdmp.DecodeDocument(f.Stream); err == nil {
			if cm, ok := d.(*sdmp.Communication); ok && cm.Response != nil && cm.Response.Status == sdmp.StatusRequestTimeout {
				got408 = true
			}
		}
	}
	if !got408 {
		t.Error("the session ended without a 408")
	}
}
