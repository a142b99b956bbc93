// Package node runs an SDMP node: it holds a user's and a node's keys, a
// journal and a resource store in a data directory, accepts sessions
// from its peers over pydevts and over the SDMP TCP binding, and keeps
// its journal and store in sync with theirs (see sync.go). The pydevts
// commands node, publish, get, journal, peers and status drive it;
// Stats tells its counters, for metrics.
package node

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/sdmp"
)

// The data directory's files.
const (
	ConfigFile    = "config.yaml"
	UserKeyFile   = "user.pem"      // the user's RSA private key
	NodeKeyFile   = "node.pem"      // the node's RSA private key
	UserPubFile   = "user.pub.pem"  // the user's public key, to give peers
	NodePubFile   = "node.pub.pem"  // the node's public key, to give peers
	TransportFile = "transport.key" // the pydevts identity
	JournalFile   = "journal"
	StoreDir      = "resources"
)

// identityLifetime is how long the identities node init makes are valid.
const identityLifetime = 5 * 365 * 24 * time.Hour

// InitOptions are what node init may be told.
type InitOptions struct {
	UserName string // the user's name in its user information; default "user"
	NodeName string // the node's name; default "node"
	// Config is the config file to write; nil: a commented default one
	// listening on Listen.
	Config []byte
	Now    func() time.Time
}

// Init makes a node's data directory dir (mode 0700; it must not exist or
// be empty): a user key and a node key (RSA 3072), the pydevts transport
// identity, a config file, and a journal and store holding the user's and
// the node's identity documents and the user's publisher relationship
// naming the node (so that the node may publish for the user).
func Init(dir string, opt *InitOptions) error {
	var o InitOptions
	if opt != nil {
		o = *opt
	}
	if o.UserName == "" {
		o.UserName = "user"
	}
	if o.NodeName == "" {
		o.NodeName = "node"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("node: init: %w", err)
	}
	if ents, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("node: init: %w", err)
	} else if len(ents) > 0 {
		return fmt.Errorf("node: init: %s is not empty (a node's data directory already?)", dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("node: init: %w", err)
	}
	user, err := sdmp.GenerateKey()
	if err != nil {
		return err
	}
	nodeKey, err := sdmp.GenerateKey()
	if err != nil {
		return err
	}
	tid, err := handshake.NewIdentity()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{UserKeyFile, sdmp.MarshalPrivateKeyPEM(user), 0o600},
		{NodeKeyFile, sdmp.MarshalPrivateKeyPEM(nodeKey), 0o600},
		{UserPubFile, sdmp.MarshalPublicKeyPEM(&user.PublicKey), 0o644},
		{NodePubFile, sdmp.MarshalPublicKeyPEM(&nodeKey.PublicKey), 0o644},
	} {
		if err := writeFileSync(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("node: init: %w", err)
		}
	}
	if err := handshake.WriteKeyFile(filepath.Join(dir, TransportFile), tid, false); err != nil {
		return fmt.Errorf("node: init: %w", err)
	}
	cfg := o.Config
	if cfg == nil {
		cfg = DefaultConfig(tid.Card().String())
	}
	if _, err := ParseConfig(cfg); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(dir, ConfigFile), cfg, 0o600); err != nil {
		return fmt.Errorf("node: init: %w", err)
	}

	// The first resources: who the user and the node are, and that the
	// node publishes for the user.
	st, err := openState(dir, user, nodeKey)
	if err != nil {
		return err
	}
	defer st.close()
	now := o.Now().UTC()
	userFP, nodeFP := sdmp.Fingerprint(&user.PublicKey), sdmp.Fingerprint(&nodeKey.PublicKey)
	for _, r := range []struct {
		key *rsa.PrivateKey
		res *sdmp.Resource
	}{
		{user, &sdmp.Resource{Publisher: userFP, Created: now, User: &sdmp.UserInfo{Name: o.UserName},
			Identity: &sdmp.Identity{Type: sdmp.IdentityUser, Expires: now.Add(identityLifetime), Key: &user.PublicKey}}},
		{nodeKey, &sdmp.Resource{Publisher: nodeFP, Created: now, Node: &sdmp.NodeInfo{Name: o.NodeName},
			Identity: &sdmp.Identity{Type: sdmp.IdentityNode, Expires: now.Add(identityLifetime), Key: &nodeKey.PublicKey}}},
		{user, &sdmp.Resource{Publisher: userFP, Created: now,
			Relationship: &sdmp.Relationship{Type: sdmp.RelationshipPublisher, Node: nodeFP}}},
	} {
		if _, err := st.publish(r.key, r.res); err != nil {
			return fmt.Errorf("node: init: %w", err)
		}
	}
	return nil
}

// DefaultConfig is the commented config file node init writes, for a
// node whose pydevts identity is card.
func DefaultConfig(card string) []byte {
	return []byte(`# pydevts node configuration (pydevts node init). Relative paths are
# relative to this directory. Unknown keys are an error.

# Where this node accepts sessions from its peers: pydevts (UDP; with
# tcp: true also direct TCP on the same port) and the SDMP TCP binding.
# Leave an address empty to not listen on it.
listen:
  pydevts: "127.0.0.1:7400"
  tcp: false
  sdmp_tcp: "127.0.0.1:7401"

# Tox TCP relays (ADDR/KEY as pydevts relay prints them; up to 3) through
# which this node is reachable and reaches its peers over pydevts.
relays: []

# The nodes to keep in sync with. For each: the peer node's public key
# (its node.pub.pem) and its user's (user.pub.pem), and how to reach it:
# its pydevts identity (transport) with its pydevts address and/or the
# relays, or its SDMP TCP binding address.
#
#  - name: bob
#    node_key: peers/bob-node.pub.pem
#    user_key: peers/bob-user.pub.pem
#    transport: "pydevts1:..."
#    pydevts: "192.0.2.7:7400"
#    sdmp_tcp: "192.0.2.7:7401"
peers: []

# This node's pydevts identity, for peers' configs: ` + card + `
sync_interval: 10s
`)
}

// writeFileSync writes a new file durably.
func writeFileSync(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// state is what a node keeps on disk: its keys, journal and store, and
// what it knows of other keys and who may publish. Its methods are safe
// for concurrent use.
type state struct {
	user, node     *rsa.PrivateKey
	userFP, nodeFP string
	journal        *sdmp.Journal
	store          *sdmp.Store
	log            *slog.Logger
	now            func() time.Time

	// mu guards keys, users and publishers.
	mu sync.Mutex
	// keys are the public keys known, by fingerprint: ours, the
	// configured peers', and those of the identity documents stored.
	keys map[string]*rsa.PublicKey
	// expires is when a key's stored identity says it expires.
	expires map[string]time.Time
	// users are the users whose resources are accepted (D12): ours and
	// those our user holds a connection with.
	users map[string]bool
	// publishers maps a node to the user that named it its publisher.
	publishers map[string]string
	// ownerOf maps a stored resource to its publisher, for updates.
	ownerOf map[string]string
}

// openState opens the journal and store of dir, and learns the keys,
// connections and publisher relationships the store holds.
func openState(dir string, user, node *rsa.PrivateKey) (*state, error) {
	s := &state{
		user: user, node: node,
		userFP: sdmp.Fingerprint(&user.PublicKey), nodeFP: sdmp.Fingerprint(&node.PublicKey),
		log: slog.New(slog.DiscardHandler), now: time.Now,
		keys: map[string]*rsa.PublicKey{}, expires: map[string]time.Time{},
		users: map[string]bool{}, publishers: map[string]string{}, ownerOf: map[string]string{},
	}
	s.keys[s.userFP], s.keys[s.nodeFP] = &user.PublicKey, &node.PublicKey
	s.users[s.userFP] = true
	s.publishers[s.nodeFP] = s.userFP
	j, err := sdmp.OpenJournal(filepath.Join(dir, JournalFile), s.nodeFP)
	if err != nil {
		return nil, err
	}
	if n := j.Repaired(); n > 0 {
		s.log.Warn("node: the journal's last line was torn (a crash while appending); cut off", "bytes", n)
	}
	st, err := sdmp.OpenStore(filepath.Join(dir, StoreDir), s.check)
	if err != nil {
		j.Close()
		return nil, err
	}
	s.journal, s.store = j, st
	ids, err := st.List()
	if err != nil {
		s.close()
		return nil, err
	}
	// Identities first (they carry keys), then the rest.
	for _, id := range ids {
		raw, err := st.Get(id)
		if err != nil {
			s.close()
			return nil, err
		}
		d, _, err := sdmp.OpenDocument(raw, nil)
		if err != nil {
			// Only identities open without keys; the rest below.
			continue
		}
		if r, ok := d.(*sdmp.Resource); ok {
			s.learn(id, r)
		}
	}
	for _, id := range ids {
		raw, _ := st.Get(id)
		if d, _, err := sdmp.OpenDocument(raw, s.keyFor); err == nil {
			if r, ok := d.(*sdmp.Resource); ok && r.Identity == nil {
				s.learn(id, r)
			}
		}
	}
	// A crash between storing a resource and journaling it leaves it in
	// the store alone: journal it now (the store holds only what was
	// checked).
	for _, id := range ids {
		raw, _ := st.Get(id)
		d, _, err := sdmp.OpenDocument(raw, s.keyFor)
		if err != nil {
			continue
		}
		if r, ok := d.(*sdmp.Resource); ok && !j.Has(r.Publisher, id) {
			if _, err := j.AppendStored(st, r.Publisher, id); err != nil {
				s.close()
				return nil, err
			}
			s.log.Warn("node: a stored resource was not journaled (a crash between the two); journaled now", "id", id)
		}
	}
	return s, nil
}

func (s *state) close() {
	if s.journal != nil {
		s.journal.Close()
	}
}

// keyFor returns the key of fingerprint fp, for OpenDocument.
func (s *state) keyFor(fp string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[fp]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("unknown publisher %s: no identity document or configured key", fp)
}

// addKey makes k known; user marks it a user our user is connected to
// (a configured peer's user).
func (s *state) addKey(k *rsa.PublicKey, user bool) string {
	fp := sdmp.Fingerprint(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[fp] = k
	if user {
		s.users[fp] = true
	}
	return fp
}

// learn takes in what an accepted resource tells: a key, a connection,
// a publisher relationship, who owns it.
func (s *state) learn(id string, r *sdmp.Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ownerOf[id] = r.Publisher
	if r.Identity != nil {
		s.keys[r.Publisher] = r.Identity.Key
		s.expires[r.Publisher] = r.Identity.Expires
	}
	if rel := r.Relationship; rel != nil && s.users[r.Publisher] {
		switch rel.Type {
		case sdmp.RelationshipConnection:
			if r.Publisher == s.userFP {
				s.users[rel.User] = true
			}
		case sdmp.RelationshipPublisher:
			s.publishers[rel.Node] = r.Publisher
		}
	}
}

// authorised says why publisher may not publish here, or nil (D12): it
// is a user we accept, or a node one of them named its publisher, and
// its identity has not expired.
func (s *state) authorised(r *sdmp.Resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := r.Publisher
	if r.Identity != nil {
		// An identity introduces a key: accept it for the users we
		// accept and the nodes they named, and for the keys we were
		// given for our peers.
		if _, ok := s.keys[p]; !ok && !s.users[p] && s.publishers[p] == "" {
			return fmt.Errorf("identity of %s: not a user we hold a connection with, nor a node one of them named", p)
		}
	} else if !s.users[p] && s.publishers[p] == "" {
		return fmt.Errorf("publisher %s: not a user we hold a connection with, nor a node one of them named its publisher", p)
	}
	if exp, ok := s.expires[p]; ok && !s.now().Before(exp) {
		return fmt.Errorf("publisher %s: its identity expired at %s", p, exp.Format(time.RFC3339))
	}
	actingFor := s.publishers[p]
	for _, u := range r.Updates {
		if o, ok := s.ownerOf[u]; ok && o != p && o != actingFor {
			return fmt.Errorf("updates %s, a resource of %s, not of its publisher", u, o)
		}
	}
	return nil
}

// check is the store's checker: it opens raw, verifies its signature
// with its publisher's key and its authorisation, and returns its
// resource identifier.
func (s *state) check(raw []byte) (string, error) {
	d, f, err := sdmp.OpenDocument(raw, s.keyFor)
	if err != nil {
		return "", err
	}
	r, ok := d.(*sdmp.Resource)
	if !ok {
		return "", errors.New("a communication document, not a resource")
	}
	if err := s.authorised(r); err != nil {
		return "", err
	}
	return sdmp.ResourceID(f.Stream), nil
}

// accept stores raw (a resource that checks), journals it, and applies
// what it updates (deletes). It returns the new journal line, or "" if
// the resource was known already. want, if not empty, is the identifier
// raw must have.
func (s *state) accept(raw []byte, want string) (line string, r *sdmp.Resource, err error) {
	d, f, err := sdmp.OpenDocument(raw, s.keyFor)
	if err != nil {
		return "", nil, err
	}
	r, ok := d.(*sdmp.Resource)
	if !ok {
		return "", nil, errors.New("a communication document, not a resource")
	}
	id := sdmp.ResourceID(f.Stream)
	if s.journal.Has(r.Publisher, id) {
		return "", r, nil
	}
	if _, err := s.store.Put(raw, want); err != nil {
		return "", nil, err
	}
	// The store holds it before the journal names it: a crash between
	// the two leaves a stored resource the journal does not name, which
	// the next sync journals; never the reverse.
	line, err = s.journal.AppendStored(s.store, r.Publisher, id)
	if err != nil {
		return "", nil, err
	}
	s.learn(id, r)
	for _, u := range r.Updates {
		if err := s.store.Delete(u); err != nil {
			s.log.Warn("node: deleting an updated resource", "id", u, "err", err)
		}
	}
	return line, r, nil
}

// publish signs r with key, and accepts it.
func (s *state) publish(key *rsa.PrivateKey, r *sdmp.Resource) (id string, err error) {
	stream, err := sdmp.EncodeDocument(r)
	if err != nil {
		return "", err
	}
	raw, err := sdmp.SignSYML(key, stream)
	if err != nil {
		return "", err
	}
	id = sdmp.ResourceID(stream)
	if _, _, err := s.accept(raw, id); err != nil {
		return "", err
	}
	return id, nil
}
