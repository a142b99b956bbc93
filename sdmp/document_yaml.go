package sdmp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Reading a YAML stream into a checked tree of yaml.Node. The limits of
// D4 are applied before anything is decoded into a document type:
//
//   - the stream is at most MaxDocument bytes, checked before parsing;
//   - it is UTF-8 without a byte order mark, and holds no tab and no lone
//     carriage return (SDMP's own examples are tab-indented, which YAML
//     forbids; refusing tabs everywhere keeps one rule for all);
//   - it is exactly one YAML document, "---" through "...";
//   - no anchors, aliases, merge keys, comments, or tags other than
//     !!binary;
//   - mapping keys are scalars, never repeated within a mapping;
//   - nesting is at most symlMaxDepth deep.
//
// Every refusal is a *DocumentError naming the field, so a node can answer
// 400 and say what was wrong.

// MaxDocument is the largest YAML stream DecodeDocument reads, in bytes:
// 1 MiB. The spec sets no limit. A resource is a few kilobytes of YAML
// plus, when encrypted, its payload in base64; 1 MiB holds any message or
// post a person writes and keeps a hostile peer from making us parse
// megabytes. Larger streams are refused before the YAML parser sees them.
const MaxDocument = 1 << 20

// symlMaxDepth bounds the nesting of mappings and sequences. SDMP's own
// fields are at most four levels deep (sdmp.communication.journal.entries);
// application content gets room, a stack-exhausting document does not.
const symlMaxDepth = 32

// symlMaxKey bounds the length of a mapping key: YAML 1.2 (section 7.4)
// limits implicit keys to 1024 characters, and the emitter writes only
// implicit keys; 256 bytes is plenty for any field name.
const symlMaxKey = 256

// DocumentError is why a YAML stream is not an acceptable SDMP document.
// Field is the dotted path of the offending field ("sdmp.identity.key",
// "sdmp.updates[1]"), or "" for the stream as a whole; Reason says what is
// wrong with it. A node answers a communication document that fails this
// way with a 400 response (Status).
type DocumentError struct {
	Field  string
	Reason string
}

func (e *DocumentError) Error() string {
	if e.Field == "" {
		return "sdmp: document: " + e.Reason
	}
	return "sdmp: document: " + e.Field + ": " + e.Reason
}

// Status is the SDMP response status for the error: 400, "bad request",
// which the spec (docs/communication) uses for a document that could not
// be interpreted.
func (e *DocumentError) Status() int { return StatusBadRequest }

func symlErrorf(field, format string, args ...any) *DocumentError {
	return &DocumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// symlParseStream checks stream against the limits above and returns the
// root node of its one document, a mapping.
func symlParseStream(stream []byte) (root *yaml.Node, err error) {
	if len(stream) > MaxDocument {
		return nil, symlErrorf("", "the stream is %d bytes, more than the %d-byte limit (MaxDocument)", len(stream), MaxDocument)
	}
	if err := symlCheckStream(stream); err != nil {
		return nil, &DocumentError{Reason: strings.TrimPrefix(err.Error(), "sdmp: SYML: ")}
	}
	if !utf8.Valid(stream) {
		return nil, symlErrorf("", "the stream is not valid UTF-8")
	}
	if i := bytes.IndexByte(stream, '\t'); i >= 0 {
		return nil, symlErrorf("", "line %d: a tab character; SDMP YAML is indented with spaces and has no tabs (write \\t inside a quoted string)", symlLine(stream, i))
	}
	for i := bytes.IndexByte(stream, '\r'); i >= 0; {
		if i+1 == len(stream) || stream[i+1] != '\n' {
			return nil, symlErrorf("", "line %d: a carriage return that is not part of a line break", symlLine(stream, i))
		}
		j := bytes.IndexByte(stream[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	// yaml.v3 reports errors, but a parser fed hostile input is where a
	// panic would hide; one must not take the node down.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, symlErrorf("", "the YAML parser failed on this stream: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(stream))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, symlErrorf("", "YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, symlErrorf("", "more than one YAML document in the stream; SDMP allows one")
	}
	if doc.HeadComment != "" || doc.LineComment != "" || doc.FootComment != "" {
		return nil, symlErrorf("", "a comment; SDMP documents have none")
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, symlErrorf("", "the document is not a mapping with an \"sdmp\" key")
	}
	root = doc.Content[0]
	if err := symlCheckNode(root, "", 0); err != nil {
		return nil, err
	}
	return root, nil
}

// symlCheckNode applies the D4 limits to n and everything under it; path
// names n in errors.
func symlCheckNode(n *yaml.Node, path string, depth int) error {
	at := path
	if n.HeadComment != "" || n.LineComment != "" || n.FootComment != "" {
		return symlErrorf(at, "a comment (line %d); SDMP documents have none", n.Line)
	}
	if n.Kind == yaml.AliasNode {
		return symlErrorf(at, "an alias (*%s, line %d); SDMP documents have no anchors or aliases", n.Value, n.Line)
	}
	if n.Anchor != "" {
		return symlErrorf(at, "an anchor (&%s, line %d); SDMP documents have no anchors or aliases", n.Anchor, n.Line)
	}
	if n.Style&yaml.TaggedStyle != 0 && !(n.Kind == yaml.ScalarNode && n.Tag == "!!binary") {
		return symlErrorf(at, "the tag %s (line %d); the only tag SDMP documents use is !!binary", n.Tag, n.Line)
	}
	if depth > symlMaxDepth {
		return symlErrorf(at, "nested more than %d levels deep", symlMaxDepth)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if !utf8.ValidString(n.Value) {
			return symlErrorf(at, "a string that is not valid UTF-8 (line %d)", n.Line)
		}
		switch n.Tag {
		case "!!merge":
			return symlErrorf(at, "a merge key (<<, line %d); SDMP documents have none", n.Line)
		case "!!binary":
			if _, err := symlDecodeBase64(n.Value); err != nil {
				return symlErrorf(at, "!!binary that is not base64: %v", err)
			}
		}
	case yaml.MappingNode:
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!binary" {
				return symlErrorf(at, "a mapping key that is not a plain scalar (line %d)", k.Line)
			}
			kp := symlJoin(path, symlSnippet([]byte(k.Value), false))
			if len(k.Value) > symlMaxKey {
				return symlErrorf(kp, "a key of %d bytes; keys are at most %d", len(k.Value), symlMaxKey)
			}
			// Keys that the emitter writes alike count as one: every null
			// is "null", a timestamp is a quoted string.
			id := k.Tag + ":" + k.Value
			switch k.Tag {
			case "!!null":
				id = k.Tag
			case "!!timestamp":
				id = "!!str:" + k.Value
			}
			if seen[id] {
				return symlErrorf(kp, "the key appears twice (line %d)", k.Line)
			}
			seen[id] = true
			if err := symlCheckNode(k, kp, depth+1); err != nil {
				return err
			}
			if err := symlCheckNode(v, kp, depth+1); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			if err := symlCheckNode(v, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	default:
		return symlErrorf(at, "an unexpected YAML node (line %d)", n.Line)
	}
	return nil
}

func symlJoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// symlDecodeBase64 decodes the text of a !!binary scalar: standard base64
// with padding, split over lines (a literal block) or not.
func symlDecodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.Strict().DecodeString(s)
}

// symlFields reads mapping n at path into a map by key, refusing any key
// not in allowed. Required keys are checked by the caller, which knows
// the rules between fields.
func symlFields(n *yaml.Node, path string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, symlErrorf(path, "want a mapping, got %s", symlDescribe(n))
	}
	got := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Tag != "!!str" || !symlContains(allowed, k.Value) {
			return nil, symlErrorf(symlJoin(path, k.Value), "unknown field (allowed under %s: %s)", symlOr(path, "the root"), strings.Join(allowed, ", "))
		}
		got[k.Value] = n.Content[i+1]
	}
	return got, nil
}

func symlContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func symlOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// symlDescribe names what a node is, for "want X, got Y" messages.
func symlDescribe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := symlSnippet([]byte(n.Value), false)
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer (" + v + ")"
		case "!!float":
			return "a number (" + v + ")"
		case "!!bool":
			return "a boolean (" + v + ")"
		case "!!null":
			return "nothing (null)"
		case "!!binary":
			return "!!binary data"
		case "!!timestamp":
			return "a timestamp (" + v + ")"
		}
		return n.Tag
	}
	return "an unexpected YAML node"
}

// symlString reads a string scalar. A plain scalar that YAML reads as
// something else (a number, a date, a boolean) is refused: a field meant
// as a string must not change type with its contents, so write it quoted.
func symlString(n *yaml.Node, path string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", symlErrorf(path, "want a string, got %s (quote it)", symlDescribe(n))
	}
	return n.Value, nil
}

// symlHex64Re is a fingerprint or a resource identifier: lowercase hex
// SHA-256.
var symlHex64Re = regexp.MustCompile(`^[0-9a-f]{64}$`)

// symlHex64 reads a fingerprint, resource identifier or journal line
// number: 64 lowercase hex digits.
func symlHex64(n *yaml.Node, path, what string) (string, error) {
	s, err := symlString(n, path)
	if err != nil {
		return "", err
	}
	if !symlHex64Re.MatchString(s) {
		return "", symlErrorf(path, "want %s (64 lowercase hex digits), got %q", what, symlSnippet([]byte(s), false))
	}
	return s, nil
}

// symlInt reads an integer scalar.
func symlInt(n *yaml.Node, path string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, symlErrorf(path, "want an integer, got %s", symlDescribe(n))
	}
	var v int
	if err := n.Decode(&v); err != nil {
		return 0, symlErrorf(path, "want an integer, got %q", n.Value)
	}
	return v, nil
}

// symlBinary reads a !!binary scalar.
func symlBinary(n *yaml.Node, path string) ([]byte, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!binary" {
		return nil, symlErrorf(path, "want !!binary data, got %s", symlDescribe(n))
	}
	b, err := symlDecodeBase64(n.Value)
	if err != nil {
		return nil, symlErrorf(path, "!!binary that is not base64: %v", err)
	}
	return b, nil
}

// symlList reads a sequence, calling item for each element.
func symlList(n *yaml.Node, path string, item func(n *yaml.Node, path string) error) error {
	if n.Kind != yaml.SequenceNode {
		return symlErrorf(path, "want a list, got %s", symlDescribe(n))
	}
	for i, v := range n.Content {
		if err := item(v, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// symlVersion checks sdmp.version: the number 0.9 (D5).
func symlVersion(n *yaml.Node, path string) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v == Version {
			return nil
		}
	}
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!float" || n.Tag == "!!int") {
		return symlErrorf(path, "version %s is not supported; this is SDMP 0.9", n.Value)
	}
	return symlErrorf(path, "want the number 0.9, got %s", symlDescribe(n))
}

// symlTimeLayout is how we write a time (D5): the minute, in UTC, in the
// form of the spec's examples ("2015-04-25 13:10").
const symlTimeLayout = "2006-01-02 15:04"

// symlTimeLayouts are the ISO 8601 forms we read (D5): the spec's minute,
// a date alone (the spec's own examples), and full timestamps with
// seconds, fractions and zones (the 0.10 drafts' form and what YAML calls
// a timestamp). A time without a zone is UTC.
var symlTimeLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02 15:04:05.999999999 -7",
}

// symlTime reads a date: a string, or a plain YAML timestamp (the spec's
// unquoted dates become those).
func symlTime(n *yaml.Node, path string) (time.Time, error) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
		return time.Time{}, symlErrorf(path, "want a date such as \"2015-04-25 13:10\", got %s", symlDescribe(n))
	}
	for _, l := range symlTimeLayouts {
		if t, err := time.Parse(l, n.Value); err == nil {
			if t = t.UTC(); t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, symlErrorf(path, "the year %d; want 1970 to 9999", t.Year())
			}
			return t, nil
		}
	}
	return time.Time{}, symlErrorf(path, "want an ISO 8601 date such as \"2015-04-25 13:10\", got %q", symlSnippet([]byte(n.Value), false))
}
