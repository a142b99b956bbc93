package sdmp

// The connection message (section 6.2 of the spec, decision D6): the YAML
// stream each side signs and sends before any record.
//
//	---
//	sdmp:
//	  version: 0.9
//	  created: "2015-06-18 12:00"
//	  connection:
//	    g: 2
//	    p: !!binary |
//	      ///////////JD9qiIWjCNMTGYouA3BzRKQJOCIpnzHQCC76mOxObIlFKCHmONATd75UZs806
//	      ...
//	    N: !!binary |
//	      ...
//	...
//
// Nothing else: no sdmp.node, no publisher, nothing that names the sender,
// whose key the receiver finds by trying the signature against the keys
// it accepts. The emitter below writes exactly this shape (the D4 subset:
// 2-space indent, !!binary as a literal block of 76-character lines, a
// quoted UTC minute for created); the parser takes any YAML that means the
// same, and nothing more.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrConnectionMessage: we refused the peer's connection message: it does
// not parse, carries other fields, is not signed by a key we accept, or
// offers another DH group or an unacceptable N. The error text says which;
// the peer is told only "nope".
var ErrConnectionMessage = errors.New("sdmp: connection message refused")

// sessionCreatedLayout is how we write sdmp.created (D5): a UTC minute.
const sessionCreatedLayout = "2006-01-02 15:04"

// sessionBase64Line is the length of a !!binary line (D4), MIME's 76.
const sessionBase64Line = 76

// sessionConnMessage is a parsed connection message.
type sessionConnMessage struct {
	created time.Time // informative only: it cannot be verified (D18)
	g       int64
	p, N    []byte
}

// sessionEmitConnMessage writes the YAML stream of a connection message,
// from "---" through "..." with no trailing newline (D3).
func sessionEmitConnMessage(created time.Time, g int64, p, N []byte) []byte {
	var b bytes.Buffer
	b.WriteString("---\nsdmp:\n  version: 0.9\n  created: \"")
	b.WriteString(created.UTC().Format(sessionCreatedLayout))
	b.WriteString("\"\n  connection:\n    g: ")
	b.WriteString(strconv.FormatInt(g, 10))
	b.WriteString("\n    p: !!binary |\n")
	sessionEmitBinary(&b, p, "      ")
	b.WriteString("    N: !!binary |\n")
	sessionEmitBinary(&b, N, "      ")
	b.WriteString("...")
	return b.Bytes()
}

// sessionEmitBinary writes data as the lines of a literal block.
func sessionEmitBinary(b *bytes.Buffer, data []byte, indent string) {
	s := base64.StdEncoding.EncodeToString(data)
	for len(s) > 0 {
		n := min(len(s), sessionBase64Line)
		b.WriteString(indent)
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
}

func sessionMessageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConnectionMessage}, args...)...)
}

// sessionParseConnMessage parses and checks the shape of a connection
// message's YAML stream. It does not check the signature or the DH values.
func sessionParseConnMessage(stream []byte) (*sessionConnMessage, error) {
	if len(stream) > sessionMaxConnMessage {
		return nil, sessionMessageError("%d bytes", len(stream))
	}
	if !bytes.HasPrefix(stream, []byte("---")) || !bytes.HasSuffix(stream, []byte("\n...")) {
		return nil, sessionMessageError("the YAML stream must run from --- to ...")
	}
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, sessionMessageError("YAML: %v", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, sessionMessageError("more than one YAML document")
	}
	if err := sessionCheckSubset(&doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, sessionMessageError("not a single YAML document")
	}
	root, err := sessionFields(doc.Content[0], "the root", "sdmp")
	if err != nil {
		return nil, err
	}
	sdmp, err := sessionFields(root["sdmp"], "sdmp", "version", "created", "connection")
	if err != nil {
		return nil, err
	}
	conn, err := sessionFields(sdmp["connection"], "sdmp.connection", "g", "p", "N")
	if err != nil {
		return nil, err
	}
	m := new(sessionConnMessage)
	if v := sdmp["version"]; v.Kind != yaml.ScalarNode || v.ShortTag() != "!!float" || v.Value != "0.9" {
		return nil, sessionMessageError("sdmp.version must be the number 0.9")
	}
	if m.created, err = sessionParseCreated(sdmp["created"]); err != nil {
		return nil, err
	}
	if g := conn["g"]; g.Kind != yaml.ScalarNode || g.ShortTag() != "!!int" || g.Decode(&m.g) != nil {
		return nil, sessionMessageError("sdmp.connection.g must be an integer")
	}
	if m.p, err = sessionParseBinary(conn["p"], "sdmp.connection.p"); err != nil {
		return nil, err
	}
	if m.N, err = sessionParseBinary(conn["N"], "sdmp.connection.N"); err != nil {
		return nil, err
	}
	return m, nil
}

// sessionCheckSubset refuses what SDMP documents may not contain (section
// 3, D4): comments, anchors, aliases, and explicit tags other than
// !!binary.
func sessionCheckSubset(n *yaml.Node) error {
	if n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return sessionMessageError("line %d: comments are not allowed", n.Line)
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return sessionMessageError("line %d: anchors and aliases are not allowed", n.Line)
	}
	if n.Style&yaml.TaggedStyle != 0 && !(n.Kind == yaml.ScalarNode && n.Tag == "!!binary") {
		return sessionMessageError("line %d: tag %s is not allowed", n.Line, n.Tag)
	}
	for _, c := range n.Content {
		if err := sessionCheckSubset(c); err != nil {
			return err
		}
	}
	return nil
}

// sessionFields reads a mapping that must have exactly the given keys,
// each once, as plain string keys.
func sessionFields(n *yaml.Node, where string, keys ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, sessionMessageError("%s must be a mapping", where)
	}
	got := make(map[string]*yaml.Node, len(keys))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return nil, sessionMessageError("line %d: %s has a key that is not a string", k.Line, where)
		}
		known := false
		for _, want := range keys {
			known = known || k.Value == want
		}
		if !known {
			return nil, sessionMessageError("line %d: %s has the field %q, which a connection message may not carry", k.Line, where, k.Value)
		}
		if got[k.Value] != nil {
			return nil, sessionMessageError("line %d: %s has %q twice", k.Line, where, k.Value)
		}
		got[k.Value] = n.Content[i+1]
	}
	for _, want := range keys {
		if got[want] == nil {
			return nil, sessionMessageError("%s lacks %q", where, want)
		}
	}
	return got, nil
}

// sessionCreatedLayouts are the forms of sdmp.created we take (D5: the
// minute we write, and the date-only and second forms others may send).
var sessionCreatedLayouts = []string{
	sessionCreatedLayout, "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00", time.RFC3339Nano, "2006-01-02",
}

func sessionParseCreated(n *yaml.Node) (time.Time, error) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!timestamp":
			var t time.Time
			if n.Decode(&t) == nil {
				return t, nil
			}
		case "!!str":
			for _, l := range sessionCreatedLayouts {
				if t, err := time.Parse(l, n.Value); err == nil {
					return t, nil
				}
			}
		}
	}
	return time.Time{}, sessionMessageError("sdmp.created must be an ISO 8601 date and time, as \"2006-01-02 15:04\"")
}

// sessionParseBinary decodes a !!binary scalar: standard base64 with
// padding, broken into lines anywhere; any other character is an error.
func sessionParseBinary(n *yaml.Node, where string) ([]byte, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!binary" {
		return nil, sessionMessageError("%s must be !!binary", where)
	}
	s := bytes.NewBuffer(make([]byte, 0, len(n.Value)))
	for i := 0; i < len(n.Value); i++ {
		if c := n.Value[i]; c != '\n' && c != '\r' {
			s.WriteByte(c)
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s.String())
	if err != nil {
		return nil, sessionMessageError("%s: %v", where, err)
	}
	return b, nil
}
