package node

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
	"github.com/pydevts/pydevts/sdmp"
)

// Sync limits.
const (
	// maxRefused bounds the resources remembered as refused.
	maxRefused = 1 << 16
	// syncLimit is the most journal lines one journal document carries,
	// asked for in synchronize and sent when not asked.
	syncLimit = 1000
	// requestRetry: a resource requested and not received within it is
	// requested again, from another peer if there is one.
	requestRetry = 10 * time.Second
)

// A Node is a running SDMP node (see Open and Run).
type Node struct {
	dir   string
	cfg   *Config
	st    *state
	tid   *handshake.Identity
	log   *slog.Logger
	peers []*peer
	// accept are the node keys a responder accepts: the peers'.
	accept []*rsa.PublicKey

	// mu guards sessions, pending, ended and each peer's mutable fields.
	mu       sync.Mutex
	sessions map[*session]struct{}
	pending  map[string]*pendingRequest // by resource identifier
	// refusedIDs are resources offered and refused since the start:
	// never asked for again, and no reason to stop short in a peer's
	// journal (at most maxRefused).
	refusedIDs map[string]bool
	ended      ConnTotals // the connections of the sessions that ended
	wg         sync.WaitGroup

	// endpoint is the pydevts listener's, while Run runs; for Stats.
	endpoint atomic.Pointer[rudp.Endpoint]
	// The counters of Stats.
	received, refused, published atomic.Uint64
}

// A peer is a configured peer node.
type peer struct {
	cfg     PeerConfig
	nodeKey *rsa.PublicKey
	nodeFP  string
	userFP  string
	card    handshake.Card // its transport identity, if given
	relays  []rudp.Relay
	lastErr string // guarded by Node.mu
}

// A session is one live SDMP session with a peer.
type session struct {
	n       *Node
	p       *peer
	s       *sdmp.Session
	via     string     // "pydevts" or "tcp"
	conn    *rudp.Conn // over pydevts: the connection, for its stats
	dialled bool       // we dialled the peer
	since   time.Time  // when it came up
	remote  string     // the peer's address, as the connection says
}

// A pendingRequest is a resource asked for and not received yet.
type pendingRequest struct {
	author string
	asked  map[*peer]bool
	at     time.Time
}

// Open loads the node in dir: its config, keys, journal and store.
func Open(dir string, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("node: %s has mode %v; it holds private keys and must be 0700 (chmod 700 %s)", dir, fi.Mode().Perm(), dir)
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	user, err := loadPrivateKey(filepath.Join(dir, UserKeyFile))
	if err != nil {
		return nil, err
	}
	nodeKey, err := loadPrivateKey(filepath.Join(dir, NodeKeyFile))
	if err != nil {
		return nil, err
	}
	tid, err := handshake.LoadKeyFile(filepath.Join(dir, TransportFile))
	if err != nil {
		return nil, err
	}
	st, err := openState(dir, user, nodeKey)
	if err != nil {
		return nil, err
	}
	st.log = log
	n := &Node{dir: dir, cfg: cfg, st: st, tid: tid, log: log,
		sessions: map[*session]struct{}{}, pending: map[string]*pendingRequest{}, refusedIDs: map[string]bool{}}
	relays, _ := parseRelays("relays", cfg.Relays)
	for _, pc := range cfg.Peers {
		p := &peer{cfg: pc, relays: relays}
		nk, err := loadPublicKey(dir, pc.NodeKey)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("node: peer %s: node_key: %w", pc.Name, err)
		}
		uk, err := loadPublicKey(dir, pc.UserKey)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("node: peer %s: user_key: %w", pc.Name, err)
		}
		p.nodeKey, p.nodeFP = nk, st.addKey(nk, false)
		p.userFP = st.addKey(uk, false)
		if pc.Transport != "" {
			p.card, _ = handshake.ParseCard(pc.Transport)
		}
		n.peers = append(n.peers, p)
		n.accept = append(n.accept, nk)
	}
	// Our user holds a connection with each peer's user: publish it
	// once, so that the journal says so and resources of that user are
	// accepted (D12).
	for _, p := range n.peers {
		st.mu.Lock()
		known := st.users[p.userFP]
		st.mu.Unlock()
		if known {
			continue
		}
		r := &sdmp.Resource{Publisher: st.userFP, Created: time.Now().UTC(),
			Relationship: &sdmp.Relationship{Type: sdmp.RelationshipConnection, User: p.userFP}}
		if _, err := st.publish(st.user, r); err != nil {
			st.close()
			return nil, fmt.Errorf("node: connection with peer %s's user: %w", p.cfg.Name, err)
		}
	}
	// Every peer's node acts for its user as far as this node is
	// concerned: its config names the pair.
	st.mu.Lock()
	for _, p := range n.peers {
		if st.publishers[p.nodeFP] == "" {
			st.publishers[p.nodeFP] = p.userFP
		}
	}
	st.mu.Unlock()
	return n, nil
}

func loadPrivateKey(path string) (*rsa.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("node: %s has mode %v, so others may read it; it must be 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	k, err := sdmp.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("node: %s: %w", path, err)
	}
	return k, nil
}

func loadPublicKey(dir, path string) (*rsa.PublicKey, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return sdmp.ParsePublicKeyPEM(b)
}

// Close closes a node that was opened and not run (Run closes the node
// itself when it returns).
func (n *Node) Close() error {
	n.st.close()
	return nil
}

// Fingerprints returns the node's user and node key fingerprints.
func (n *Node) Fingerprints() (user, node string) { return n.st.userFP, n.st.nodeFP }

// Run serves until ctx ends: the control socket, the listeners, a dial
// loop per peer, and the sync of every session. It closes everything
// before it returns.
func (n *Node) Run(ctx context.Context) error {
	defer n.st.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var closers []func()
	defer func() {
		cancel()
		for _, c := range closers {
			c()
		}
		n.wg.Wait()
	}()
	// The control socket comes last: once it answers, the node listens.
	// It is checked first, though: a second node on this directory must
	// not get as far as its listeners.
	if err := checkControl(n.dir); err != nil {
		return err
	}

	var rl *rudp.Listener
	if n.cfg.Listen.Pydevts != "" || len(n.cfg.Relays) > 0 {
		var allow []string
		for _, p := range n.peers {
			if p.cfg.Transport != "" {
				allow = append(allow, p.card.Fingerprint())
			}
		}
		relays, _ := parseRelays("relays", n.cfg.Relays)
		rc := &rudp.Config{Identity: n.tid, TCP: n.cfg.Listen.TCP, NoUDP: n.cfg.Listen.NoUDP || n.cfg.Listen.Pydevts == "",
			Relays: relays, Logger: n.log, Accept: allowOnly(allow)}
		var err error
		if rl, err = rudp.Listen("udp", n.cfg.Listen.Pydevts, rc); err != nil {
			return fmt.Errorf("node: listen pydevts: %w", err)
		}
		closers = append(closers, func() { n.endpoint.Store(nil); rl.Close() })
		n.endpoint.Store(rl.Endpoint())
		n.log.Info("node: listening on pydevts", "addr", rl.Addr().String())
		n.wg.Go(func() { n.acceptPydevts(ctx, rl) })
	}
	if n.cfg.Listen.SDMPTCP != "" {
		tl, err := net.Listen("tcp", n.cfg.Listen.SDMPTCP)
		if err != nil {
			return fmt.Errorf("node: listen sdmp_tcp: %w", err)
		}
		closers = append(closers, func() { tl.Close() })
		n.log.Info("node: listening on the SDMP TCP binding", "addr", tl.Addr().String())
		n.wg.Go(func() { n.acceptTCP(ctx, tl) })
	}
	cl, err := listenControl(n.dir)
	if err != nil {
		return err
	}
	closers = append(closers, func() { cl.Close() })
	n.wg.Go(func() { serveControl(cl, n.control) })
	for _, p := range n.peers {
		n.wg.Go(func() { n.dialLoop(ctx, p, rl) })
	}
	<-ctx.Done()
	n.closeSessions()
	return nil
}

// allowOnly is a rudp Accept function that admits the transport
// identities of the configured peers, and nobody when there are none.
func allowOnly(fps []string) func(handshake.Card) error {
	return func(c handshake.Card) error {
		for _, fp := range fps {
			if c.Fingerprint() == fp {
				return nil
			}
		}
		return errors.New("not a configured peer")
	}
}

// acceptPydevts accepts pydevts connections and runs a responder session
// on the first stream of each.
func (n *Node) acceptPydevts(ctx context.Context, l *rudp.Listener) {
	for {
		c, err := l.Accept(ctx)
		if err != nil {
			return
		}
		n.wg.Go(func() {
			st, err := c.AcceptStream(ctx)
			if err != nil {
				c.CloseWithError(1, "no stream")
				return
			}
			n.runSession(ctx, st, false, nil, "pydevts", c)
		})
	}
}

// acceptTCP accepts SDMP TCP binding connections.
func (n *Node) acceptTCP(ctx context.Context, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n.wg.Go(func() { n.runSession(ctx, c, false, nil, "tcp", nil) })
	}
}

// dialLoop keeps a session with p: it dials whenever there is none, and
// waits RedialInterval after a failure or the end of a session.
func (n *Node) dialLoop(ctx context.Context, p *peer, rl *rudp.Listener) {
	for {
		if !n.connected(p) {
			if err := n.dial(ctx, p, rl); err != nil && ctx.Err() == nil {
				n.setErr(p, err)
				n.log.Debug("node: dial failed", "peer", p.cfg.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.RedialInterval):
		}
	}
}

// dial connects to p, over pydevts if its transport identity is known,
// else over the SDMP TCP binding, and runs the session until it ends.
func (n *Node) dial(ctx context.Context, p *peer, rl *rudp.Listener) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if p.cfg.Transport != "" {
		var c *rudp.Conn
		var err error
		if rl != nil {
			// From the listener's endpoint: one UDP port for the node, and
			// one client per relay (a second under the same key would
			// push the first out of the relay).
			c, err = rl.Endpoint().DialAll(dctx, p.cfg.Pydevts, p.card)
		} else {
			c, err = rudp.Dial(dctx, "udp", p.cfg.Pydevts, p.card, &rudp.Config{Identity: n.tid,
				TCP: p.cfg.TCP, NoUDP: p.cfg.NoUDP || p.cfg.Pydevts == "", Relays: p.relays, Logger: n.log})
		}
		if err != nil {
			return err
		}
		st, err := c.OpenStream(dctx)
		if err != nil {
			c.CloseWithError(1, "no stream")
			return err
		}
		return n.runSession(ctx, st, true, p, "pydevts", c)
	}
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", p.cfg.SDMPTCP)
	if err != nil {
		return err
	}
	return n.runSession(ctx, c, true, p, "tcp", nil)
}

func (n *Node) connected(p *peer) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.sessions {
		if s.p == p {
			return true
		}
	}
	return false
}

func (n *Node) setErr(p *peer, err error) {
	n.mu.Lock()
	p.lastErr = err.Error()
	n.mu.Unlock()
}

func (n *Node) closeSessions() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.sessions {
		s.s.Close()
	}
}

// runSession runs the SDMP handshake on c (to peer p when we dialled)
// and then the session until it ends; it closes c.
func (n *Node) runSession(ctx context.Context, c net.Conn, initiator bool, p *peer, via string, rc *rudp.Conn) error {
	defer func() {
		if rc != nil {
			rc.CloseWithError(0, "")
		}
	}()
	cfg := &sdmp.SessionConfig{Key: n.st.node, Initiator: initiator, Accept: n.accept}
	if initiator {
		cfg.Peer, cfg.Accept = p.nodeKey, nil
	}
	if len(n.accept) == 0 && !initiator {
		c.Write([]byte("nope"))
		c.Close()
		return errors.New("no peers configured")
	}
	s, err := sdmp.Handshake(ctx, c, cfg)
	if err != nil {
		return err
	}
	if p == nil {
		for _, q := range n.peers {
			if q.nodeFP == s.PeerFingerprint() {
				p = q
			}
		}
	}
	if p == nil { // cannot be: Accept holds only peers' keys
		s.Close()
		return errors.New("session with an unknown node")
	}
	ss := &session{n: n, p: p, s: s, via: via, conn: rc, dialled: initiator, since: time.Now()}
	if a := c.RemoteAddr(); a != nil {
		ss.remote = a.String()
	}
	n.mu.Lock()
	n.sessions[ss] = struct{}{}
	n.mu.Unlock()
	n.log.Info("node: session up", "peer", p.cfg.Name, "via", via)
	err = ss.run(ctx)
	if rc != nil {
		// Closed here rather than in the deferred close, so that its
		// counters are final when they join the ended sessions'.
		rc.CloseWithError(0, "")
	}
	n.endSession(ss, rc)
	rc = nil // closed
	if err != nil {
		n.setErr(p, err)
	}
	n.log.Info("node: session ended", "peer", p.cfg.Name, "err", err)
	return err
}
