package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The control socket: the pydevts commands publish, get, journal, peers
// and status talk to a running node through a Unix socket in its data
// directory, control.sock, which only the owner may open (the socket is
// 0600, in a directory that must be 0700). One JSON request per
// connection, one JSON response.

// ControlSocket is the control socket's file name in the data directory.
const ControlSocket = "control.sock"

// controlMax bounds a control request or response: a resource of
// MaxResourceSize, base64 in JSON, and room to spare.
const controlMax = 4 << 20

// controlTimeout bounds one control exchange.
const controlTimeout = 30 * time.Second

// A controlRequest is what the CLI asks of the node.
type controlRequest struct {
	Op   string `json:"op"`             // "publish", "get", "journal", "peers", "status"
	Data []byte `json:"data,omitempty"` // publish: the resource's YAML stream
	ID   string `json:"id,omitempty"`   // get: the resource identifier
}

// A controlResponse is the node's answer.
type controlResponse struct {
	Error string       `json:"error,omitempty"`
	ID    string       `json:"id,omitempty"`    // publish: the new resource's identifier
	Data  []byte       `json:"data,omitempty"`  // get: the resource, its SYML file
	Lines []string     `json:"lines,omitempty"` // journal
	Peers []PeerStatus `json:"peers,omitempty"` // peers
	// status: the live sessions (an empty list is "no session").
	Sessions []SessionStatus `json:"sessions,omitempty"`
}

// PeerStatus describes one configured peer, for `pydevts peers`.
type PeerStatus struct {
	Name        string  `json:"name"`
	Fingerprint string  `json:"fingerprint"`          // the peer node's key fingerprint
	Connected   bool    `json:"connected"`            // a session is up
	Via         string  `json:"via,omitempty"`        // "pydevts" or "tcp"
	Path        string  `json:"path,omitempty"`       // over pydevts: the active path
	RTTMillis   float64 `json:"rtt_ms,omitempty"`     // over pydevts: smoothed RTT
	LastKnown   string  `json:"last_known"`           // the last line number of its journal we know
	LastSent    string  `json:"last_sent"`            // the last line number of ours we sent it
	LastError   string  `json:"last_error,omitempty"` // why the last session ended or failed
}

// listenControl opens the control socket in dir. A socket file left by a
// node that is gone is removed; one a running node answers on is an
// error (two nodes on one data directory would corrupt it).
func listenControl(dir string) (net.Listener, error) {
	if err := checkControl(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, ControlSocket)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("node: control socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("node: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("node: control socket: %w", err)
	}
	return l, nil
}

// checkControl fails when a node already answers on dir's control
// socket.
func checkControl(dir string) error {
	if c, err := net.DialTimeout("unix", filepath.Join(dir, ControlSocket), time.Second); err == nil {
		c.Close()
		return fmt.Errorf("node: another node is running on %s (its control socket answers)", dir)
	}
	return nil
}

// serveControl answers control requests on l with handle until l is
// closed; it returns when every exchange has ended.
func serveControl(l net.Listener, handle func(context.Context, controlRequest) controlResponse) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(controlTimeout))
			var req controlRequest
			resp := controlResponse{}
			if err := json.NewDecoder(io.LimitReader(c, controlMax)).Decode(&req); err != nil {
				resp.Error = "bad request: " + err.Error()
			} else {
				ctx, cancel := context.WithTimeout(context.Background(), controlTimeout)
				resp = handle(ctx, req)
				cancel()
			}
			json.NewEncoder(c).Encode(&resp)
		})
	}
}

// callControl sends req to the node running on dir and returns its
// response; a response carrying an error is returned as one.
func callControl(ctx context.Context, dir string, req controlRequest) (*controlResponse, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(dir, ControlSocket))
	if err != nil {
		return nil, fmt.Errorf("no node running on %s? %w", dir, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(controlTimeout))
	}
	if err := json.NewEncoder(c).Encode(&req); err != nil {
		return nil, fmt.Errorf("node: control: %w", err)
	}
	var resp controlResponse
	if err := json.NewDecoder(io.LimitReader(c, controlMax)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("node: control: no answer: %w", err)
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return &resp, nil
}

// Publish asks the node running on dir to publish a resource: stream is
// its YAML stream, which the node signs as its user, stores, journals
// and announces to its peers. It returns the resource identifier.
func Publish(ctx context.Context, dir string, stream []byte) (string, error) {
	r, err := callControl(ctx, dir, controlRequest{Op: "publish", Data: stream})
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// Get returns the resource with identifier id (its SYML file) from the
// node running on dir.
func Get(ctx context.Context, dir, id string) ([]byte, error) {
	r, err := callControl(ctx, dir, controlRequest{Op: "get", ID: id})
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// JournalLines returns the journal of the node running on dir.
func JournalLines(ctx context.Context, dir string) ([]string, error) {
	r, err := callControl(ctx, dir, controlRequest{Op: "journal"})
	if err != nil {
		return nil, err
	}
	return r.Lines, nil
}

// Peers returns the state of each peer of the node running on dir.
func Peers(ctx context.Context, dir string) ([]PeerStatus, error) {
	r, err := callControl(ctx, dir, controlRequest{Op: "peers"})
	if err != nil {
		return nil, err
	}
	return r.Peers, nil
}

// Status returns the live sessions of the node running on dir, with the
// paths of those over pydevts.
func Status(ctx context.Context, dir string) ([]SessionStatus, error) {
	r, err := callControl(ctx, dir, controlRequest{Op: "status"})
	if err != nil {
		return nil, err
	}
	return r.Sessions, nil
}
