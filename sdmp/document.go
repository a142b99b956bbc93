package sdmp

import (
	"crypto/rsa"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Version is the SDMP version of the documents this package reads and
// writes, the number in sdmp.version.
const Version = 0.9

// The response statuses of SDMP 0.9 (docs/communication).
const (
	// StatusBadRequest: a document could not be interpreted; the
	// response names the request (sdmp.communication.response.request).
	StatusBadRequest = 400
	// StatusNotFound: a requested resource is unavailable or deleted.
	StatusNotFound = 404
	// StatusRequestTimeout: nothing arrived for too long; the sender
	// drops the connection after sending it.
	StatusRequestTimeout = 408
)

// A Document is a decoded SDMP document: a *Resource or a
// *Communication.
type Document interface {
	// Kind says what the document is.
	Kind() Kind
	// Signer is the fingerprint of the key that must have signed the
	// document: sdmp.publisher of a resource (D11), sdmp.node of a
	// communication document.
	Signer() string
	// isDocument keeps the set of documents closed: DecodeDocument
	// returns nothing else.
	isDocument()
}

// Kind names a kind of document.
type Kind string

// The kinds of documents. A resource is an identity, a relationship, a
// delete (updates and nothing else), or else a general resource (user or
// node information, encrypted content, application content, possibly
// updating earlier resources). A communication document is one of four.
const (
	KindIdentity     Kind = "identity"
	KindRelationship Kind = "relationship"
	KindDelete       Kind = "delete"
	KindResource     Kind = "resource"
	KindSynchronize  Kind = "synchronize"
	KindJournal      Kind = "journal"
	KindRequest      Kind = "request"
	KindResponse     Kind = "response"
)

// DecodeDocument reads a YAML stream (the Stream of a SYML) as an SDMP
// document, applying the limits of D4 (see MaxDocument) and checking every
// field. A stream with sdmp.communication is a communication document,
// anything else a resource (D17): the two use sdmp.node differently. A
// connection message (sdmp.connection) is not a document; the session
// layer reads it. Every error is a *DocumentError.
//
// DecodeDocument does not verify the signature (see OpenDocument).
func DecodeDocument(stream []byte) (Document, error) {
	root, err := symlParseStream(stream)
	if err != nil {
		return nil, err
	}
	var sdmp *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Tag == "!!str" && k.Value == "sdmp" {
			sdmp = root.Content[i+1]
		}
	}
	if sdmp == nil {
		return nil, symlErrorf("sdmp", "missing: every SDMP document has an sdmp mapping at its root")
	}
	if sdmp.Kind != yaml.MappingNode {
		return nil, symlErrorf("sdmp", "want a mapping, got %s", symlDescribe(sdmp))
	}
	kind := ""
	for i := 0; i+1 < len(sdmp.Content); i += 2 {
		switch k := sdmp.Content[i].Value; k {
		case "communication", "connection":
			kind = k
		}
	}
	// Each branch returns a nil interface on error, never a typed nil.
	switch kind {
	case "communication":
		c, err := symlDecodeCommunication(root, sdmp)
		if err != nil {
			return nil, err
		}
		return c, nil
	case "connection":
		return nil, symlErrorf("sdmp.connection", "a connection message, which the session layer reads; it is not a document")
	}
	r, err := symlDecodeResource(root, sdmp)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// EncodeDocument writes d as a YAML stream in the subset of D4, from
// "---" through "..." with nothing after it: the bytes to sign with
// SignSYML and to hash with ResourceID. The same document always gives
// the same bytes. Times are written to the minute, in UTC (D5), so a
// document decoded from them has its times truncated to the minute.
//
// d must be valid: what EncodeDocument writes, DecodeDocument reads back
// to an equal document. An invalid document gives a *DocumentError.
func EncodeDocument(d Document) ([]byte, error) {
	var root *yaml.Node
	var err error
	switch d := d.(type) {
	case *Resource:
		if d == nil {
			return nil, symlErrorf("", "no document")
		}
		root, err = d.node()
	case *Communication:
		if d == nil {
			return nil, symlErrorf("", "no document")
		}
		root, err = d.node()
	default:
		return nil, symlErrorf("", "no document")
	}
	if err != nil {
		return nil, err
	}
	stream, err := symlEmit(root)
	if err != nil {
		return nil, &DocumentError{Reason: err.Error()}
	}
	// The decoder holds all the rules; whatever we would write that it
	// refuses is refused here, so that we never sign a document our own
	// peers would answer with 400.
	if _, err := DecodeDocument(stream); err != nil {
		return nil, err
	}
	return stream, nil
}

// OpenDocument reads a SYML file, decodes its document and verifies the
// signature with the signer's key. An identity document carries its own
// key and must be signed by it (D1); for every other document keyFor
// returns the key of the fingerprint the document names as its signer
// (Document.Signer), or an error if it knows none. A key whose fingerprint
// is not the signer's is refused.
func OpenDocument(file []byte, keyFor func(fingerprint string) (*rsa.PublicKey, error)) (Document, *SYML, error) {
	s, err := ParseSYML(file)
	if err != nil {
		return nil, nil, err
	}
	d, err := DecodeDocument(s.Stream)
	if err != nil {
		return nil, nil, err
	}
	var key *rsa.PublicKey
	if r, ok := d.(*Resource); ok && r.Identity != nil {
		key = r.Identity.Key
	} else {
		if keyFor == nil {
			return nil, nil, fmt.Errorf("sdmp: no key for signer %s", d.Signer())
		}
		if key, err = keyFor(d.Signer()); err != nil {
			return nil, nil, fmt.Errorf("sdmp: the key of signer %s: %w", d.Signer(), err)
		}
		if key == nil {
			return nil, nil, fmt.Errorf("sdmp: no key for signer %s", d.Signer())
		}
	}
	if fp := Fingerprint(key); fp != d.Signer() {
		return nil, nil, fmt.Errorf("sdmp: the document names signer %s, but the key given is %s", d.Signer(), fp)
	}
	if err := s.Verify(key); err != nil {
		return nil, nil, err
	}
	return d, s, nil
}

// symlCreated writes a time as D5 asks, refusing the zero time, which
// means a field was left unset.
func symlCreated(t time.Time, path string) (*yaml.Node, error) {
	if t.IsZero() {
		return nil, symlErrorf(path, "missing (the zero time)")
	}
	return symlStrNode(t.UTC().Format(symlTimeLayout)), nil
}

// symlVersionNode is sdmp.version as we write it (D5).
func symlVersionNode() *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: "0.9"}
}

// symlRequire returns an error for the first of names missing from f.
func symlRequire(f map[string]*yaml.Node, path string, names ...string) error {
	for _, n := range names {
		if f[n] == nil {
			return symlErrorf(symlJoin(path, n), "missing (required)")
		}
	}
	return nil
}
