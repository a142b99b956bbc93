package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pydevts/pydevts/handshake"
	"github.com/pydevts/pydevts/rudp"
)

// Config is a node's configuration, the file config.yaml in its data
// directory. Relative paths in it are relative to the data directory.
// Unknown keys are an error, so that a misspelt key is not silently
// ignored.
type Config struct {
	// Listen says where the node accepts connections from its peers.
	Listen ListenConfig `yaml:"listen"`
	// Relays are Tox TCP relays (ADDR/KEY, as `pydevts relay` prints
	// them; up to 3) through which the node is reachable over pydevts and
	// reaches its peers, when direct UDP and TCP do not get through.
	Relays []string `yaml:"relays"`
	// Peers are the nodes this node keeps in sync with.
	Peers []PeerConfig `yaml:"peers"`
	// SyncInterval is how often the node asks each connected peer for
	// the journal lines after the last it knows. Default 10s.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// RedialInterval is how long the node waits before dialling a peer it
	// could not reach, or lost, again. Default 5s.
	RedialInterval time.Duration `yaml:"redial_interval"`
	// IdleTimeout: a session on which nothing arrived for this long gets
	// a 408 response and is closed. Default 2m (the sync interval keeps a
	// live session busy well within it).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// ListenConfig is where a node listens.
type ListenConfig struct {
	// Pydevts is the host:port of the pydevts listener (UDP, plus TCP
	// with TCP); empty: the node accepts no pydevts connections (it can
	// still dial, and be reached through Relays).
	Pydevts string `yaml:"pydevts"`
	TCP     bool   `yaml:"tcp"`    // also direct TCP on the pydevts port
	NoUDP   bool   `yaml:"no_udp"` // no UDP (with TCP: direct TCP only)
	// SDMPTCP is the host:port of the SDMP TCP binding; empty: none.
	SDMPTCP string `yaml:"sdmp_tcp"`
}

// PeerConfig is one peer node.
type PeerConfig struct {
	// Name is how logs and `pydevts peers` call it.
	Name string `yaml:"name"`
	// NodeKey and UserKey are PEM files of the peer node's SDMP public
	// key and of the user it acts for, whom this node's user holds a
	// connection with: resources that user publishes, or that a node
	// the user named its publisher publishes, are accepted.
	NodeKey string `yaml:"node_key"`
	UserKey string `yaml:"user_key"`
	// Transport is the peer's pydevts public identity (pydevts1:...),
	// needed to dial it over pydevts.
	Transport string `yaml:"transport"`
	// Pydevts is the peer's pydevts address (host:port); with TCP and
	// NoUDP as for Listen. Empty with Relays: through the relays only.
	Pydevts string `yaml:"pydevts"`
	TCP     bool   `yaml:"tcp"`
	NoUDP   bool   `yaml:"no_udp"`
	// SDMPTCP is the peer's SDMP TCP binding address, used when it has
	// no pydevts path (Transport empty).
	SDMPTCP string `yaml:"sdmp_tcp"`
}

// Defaults.
const (
	DefaultSyncInterval   = 10 * time.Second
	DefaultRedialInterval = 5 * time.Second
	DefaultIdleTimeout    = 2 * time.Minute
)

// maxConfigSize bounds config.yaml: it is read whole.
const maxConfigSize = 1 << 20

// LoadConfig reads and checks a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("node: config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig parses and checks config file contents, and fills in the
// defaults.
func ParseConfig(b []byte) (*Config, error) {
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("node: config: %d bytes, at most %d", len(b), maxConfigSize)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file, all defaults
		return nil, fmt.Errorf("node: config: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("node: config: %w", err)
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.RedialInterval == 0 {
		c.RedialInterval = DefaultRedialInterval
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return &c, nil
}

// check reports the first thing wrong with c, naming the key.
func (c *Config) check() error {
	if err := checkAddr("listen.pydevts", c.Listen.Pydevts); err != nil {
		return err
	}
	if err := checkAddr("listen.sdmp_tcp", c.Listen.SDMPTCP); err != nil {
		return err
	}
	if c.Listen.Pydevts != "" && c.Listen.NoUDP && !c.Listen.TCP {
		return errors.New("listen: no_udp without tcp leaves nothing on listen.pydevts")
	}
	if _, err := parseRelays("relays", c.Relays); err != nil {
		return err
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"sync_interval", c.SyncInterval}, {"redial_interval", c.RedialInterval}, {"idle_timeout", c.IdleTimeout}} {
		if d.d < 0 {
			return fmt.Errorf("%s: negative", d.key)
		}
	}
	names := map[string]bool{}
	for i, p := range c.Peers {
		key := fmt.Sprintf("peers[%d]", i)
		switch {
		case p.Name == "":
			return fmt.Errorf("%s.name: missing", key)
		case names[p.Name]:
			return fmt.Errorf("%s.name: %q twice", key, p.Name)
		case p.NodeKey == "":
			return fmt.Errorf("%s (%s).node_key: missing", key, p.Name)
		case p.UserKey == "":
			return fmt.Errorf("%s (%s).user_key: missing", key, p.Name)
		}
		names[p.Name] = true
		key = fmt.Sprintf("%s (%s)", key, p.Name)
		if err := checkAddr(key+".pydevts", p.Pydevts); err != nil {
			return err
		}
		if err := checkAddr(key+".sdmp_tcp", p.SDMPTCP); err != nil {
			return err
		}
		if p.Transport != "" {
			if _, err := handshake.ParseCard(p.Transport); err != nil {
				return fmt.Errorf("%s.transport: %v", key, err)
			}
		}
		switch {
		case p.Transport == "" && p.SDMPTCP == "":
			return fmt.Errorf("%s: no way to reach it: give transport (with pydevts or relays) or sdmp_tcp", key)
		case p.Transport != "" && p.Pydevts == "" && len(c.Relays) == 0 && p.SDMPTCP == "":
			return fmt.Errorf("%s: transport without pydevts, relays or sdmp_tcp", key)
		case p.Pydevts != "" && p.NoUDP && !p.TCP:
			return fmt.Errorf("%s: no_udp without tcp leaves nothing on pydevts", key)
		}
	}
	return nil
}

// checkAddr checks a host:port, or nothing.
func checkAddr(key, a string) error {
	if a == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
		return fmt.Errorf("%s: %q is not host:port", key, a)
	}
	return nil
}

// parseRelays parses relay ADDR/KEY strings.
func parseRelays(key string, rs []string) ([]rudp.Relay, error) {
	if len(rs) > 3 {
		return nil, fmt.Errorf("%s: %d relays, at most 3", key, len(rs))
	}
	var out []rudp.Relay
	for i, s := range rs {
		r, err := rudp.ParseRelay(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %s", key, i, strings.TrimPrefix(err.Error(), "rudp: "))
		}
		out = append(out, r)
	}
	return out, nil
}
