package sdmp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The emitter writes a tree of yaml.Node as the YAML subset of D4, so
// that our own documents are the same bytes every time, whatever library
// reads them:
//
//	---
//	sdmp:
//	  version: 0.9
//	  publisher: "fa11fdfe..."
//	  created: "2015-06-18 12:00"
//	  updates:
//	    - "85c4bf46..."
//	  identity:
//	    type: "user"
//	    key: !!binary |
//	      MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA...  (76 characters)
//	...
//
//   - 2-space indentation; a list sits 2 spaces under its key, and a
//     mapping in a list starts on the "- " line;
//   - no tabs, comments, anchors, aliases, directives or flow style
//     (except "{}" and "[]" for empty ones);
//   - every string double-quoted, so no value changes type with its
//     contents (a date, "yes", a hex string of digits, an IPv6 address);
//     escapes for control characters, nothing else escaped;
//   - keys plain when they are identifiers that no YAML version reads as
//     anything but a string, quoted otherwise;
//   - !!binary as a literal block of 76-character base64 lines;
//   - numbers, booleans and null plain, as their node says;
//   - the stream ends with "..." and no line break (D3).
//
// Yaml.v3's own encoder cannot do this: it indents lists under their key
// by the mapping's indent plus two only with SetIndent(2) quirks, writes
// !!binary on one line, and quotes strings only when it must.

// symlEmit writes root, a mapping, as a YAML stream.
func symlEmit(root *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("---\n")
	if err := symlEmitBlock(&b, root, 0, false); err != nil {
		return nil, err
	}
	b.WriteString("...")
	return b.Bytes(), nil
}

// symlEmitBlock writes a mapping or a sequence in block style at indent.
// If inline, the first line's indentation has been written already (the
// "- " of an enclosing list item).
func symlEmitBlock(b *bytes.Buffer, n *yaml.Node, indent int, inline bool) error {
	pad := strings.Repeat(" ", indent)
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content)%2 != 0 {
			return fmt.Errorf("sdmp: emit: a mapping with an odd number of nodes")
		}
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 || !inline {
				b.WriteString(pad)
			}
			k, err := symlEmitKey(n.Content[i])
			if err != nil {
				return err
			}
			b.WriteString(k)
			b.WriteByte(':')
			if err := symlEmitValue(b, n.Content[i+1], indent, false); err != nil {
				return fmt.Errorf("%w (under %s)", err, k)
			}
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			if i > 0 || !inline {
				b.WriteString(pad)
			}
			b.WriteByte('-')
			if err := symlEmitValue(b, item, indent, true); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("sdmp: emit: a block that is not a mapping or a list")
	}
	return nil
}

// symlEmitValue writes what follows a "key:" or (item) a "-" at indent,
// through the end of its last line.
func symlEmitValue(b *bytes.Buffer, n *yaml.Node, indent int, item bool) error {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		if len(n.Content) == 0 {
			if n.Kind == yaml.MappingNode {
				b.WriteString(" {}\n")
			} else {
				b.WriteString(" []\n")
			}
			return nil
		}
		if item {
			// A list item: its mapping or list starts on the "- " line.
			b.WriteByte(' ')
			return symlEmitBlock(b, n, indent+2, true)
		}
		b.WriteByte('\n')
		return symlEmitBlock(b, n, indent+2, false)
	case yaml.ScalarNode:
		if n.Tag == "!!binary" {
			data, err := symlDecodeBase64(n.Value)
			if err != nil {
				return fmt.Errorf("sdmp: emit: !!binary that is not base64: %v", err)
			}
			symlEmitBinary(b, data, indent+2)
			return nil
		}
		s, err := symlEmitScalar(n)
		if err != nil {
			return err
		}
		b.WriteByte(' ')
		b.WriteString(s)
		b.WriteByte('\n')
		return nil
	}
	return fmt.Errorf("sdmp: emit: an alias or document node inside a document")
}

// symlEmitBinary writes data as " !!binary |" and a literal block of
// 76-character base64 lines at indent (D4); no data is `!!binary ""`.
func symlEmitBinary(b *bytes.Buffer, data []byte, indent int) {
	s := base64.StdEncoding.EncodeToString(data)
	if s == "" {
		b.WriteString(" !!binary \"\"\n")
		return
	}
	b.WriteString(" !!binary |\n")
	pad := strings.Repeat(" ", indent)
	for len(s) > 0 {
		n := min(symlLineWidth, len(s))
		b.WriteString(pad)
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
}

// symlPlainKeyRe: keys written without quotes. Anything else, and the
// words that YAML 1.1 reads as booleans or null (the "N" of a connection
// message is false to PyYAML), is quoted.
var symlPlainKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

var symlYAML11Words = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true,
}

func symlEmitKey(k *yaml.Node) (string, error) {
	if k.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("sdmp: emit: a mapping key that is not a scalar")
	}
	if k.Tag == "!!str" || k.Tag == "" {
		if symlPlainKeyRe.MatchString(k.Value) && !symlYAML11Words[strings.ToLower(k.Value)] {
			return k.Value, nil
		}
		return symlQuote(k.Value)
	}
	return symlEmitScalar(k)
}

// symlEmitScalar writes a scalar that is not !!binary on one line.
func symlEmitScalar(n *yaml.Node) (string, error) {
	switch n.Tag {
	case "!!str", "", "!!timestamp":
		// D4: timestamps are written as quoted strings.
		return symlQuote(n.Value)
	case "!!int", "!!float", "!!bool":
		// The value is as the parser read it (or as we made it): plain
		// text that resolves to this tag again.
		if n.Value == "" || strings.ContainsAny(n.Value, "\n\r\"'#:{}[],&*!|>%@`") {
			return "", fmt.Errorf("sdmp: emit: %s %q cannot be written plain", n.Tag, n.Value)
		}
		return n.Value, nil
	case "!!null":
		return "null", nil
	}
	return "", fmt.Errorf("sdmp: emit: the tag %s is not in the SDMP subset", n.Tag)
}

// symlQuote writes s double-quoted, escaping what YAML does not allow
// there or would fold: control characters, non-printable characters, the
// Unicode line separators and the byte order mark. Invalid UTF-8 cannot be
// written at all.
func symlQuote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("sdmp: emit: a string that is not valid UTF-8")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == 0:
			b.WriteString(`\0`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x85:
			b.WriteString(`\N`)
		case r == 0x2028:
			b.WriteString(`\L`)
		case r == 0x2029:
			b.WriteString(`\P`)
		case (r >= 0x80 && r < 0xa0) || r == 0xfeff || r == 0xfffe || r == 0xffff || (r >= 0xd800 && r < 0xe000):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// Node constructors for the encoders.

func symlStrNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func symlIntNode(v int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(v)}
}

func symlBinaryNode(b []byte) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: base64.StdEncoding.EncodeToString(b)}
}

func symlStrList(list []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, s := range list {
		n.Content = append(n.Content, symlStrNode(s))
	}
	return n
}

// symlMapNode makes a mapping of key and value pairs, skipping pairs whose
// value is nil (an absent optional field).
func symlMapNode(pairs ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(pairs); i += 2 {
		v, _ := pairs[i+1].(*yaml.Node)
		if v == nil {
			continue
		}
		n.Content = append(n.Content, symlStrNode(pairs[i].(string)), v)
	}
	return n
}
