package scenario

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The decoder walks yaml.v3's node tree by hand instead of unmarshalling
// into structs: only the nodes know their lines, and a user's mistake must
// be reported at its line with the path of the field.

// parseError is every error Parse returns: "file:line: path: message",
// the form compilers use, so editors can jump to the line.
type parseError struct {
	file string
	line int
	path string // "scenarios[2].link.loss"; empty for YAML syntax errors
	msg  string
	err  error // the cause, for errors.Is and errors.As (linkemu's Validate)
}

func (e *parseError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.file, e.line, e.path, e.msg)
}

func (e *parseError) Unwrap() error { return e.err }

// decoder carries the file name into every error.
type decoder struct {
	file string
}

// errAt reports err at n's line (line 1 when n has none).
func (d *decoder) errAt(n *yaml.Node, path string, err error) error {
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	return &parseError{file: d.file, line: line, path: path, msg: err.Error(), err: err}
}

// errf reports a formatted message at n's line.
func (d *decoder) errf(n *yaml.Node, path, format string, args ...any) error {
	return d.errAt(n, path, fmt.Errorf(format, args...))
}

// resolve follows aliases (*name) to the anchored node, so anchors work
// everywhere. An alias never names an alias (YAML forbids anchoring one),
// but the bound keeps a malformed tree from looping.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n != nil && n.Kind == yaml.AliasNode; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports an empty value ("key:" with nothing after it), "~" or
// "null".
func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "want X, got Y" errors.
func describe(n *yaml.Node) string {
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return fmt.Sprintf("%q", v)
	}
	return "an unresolved alias"
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping calls f with each key and value of the mapping n, in file order,
// values with aliases resolved. Null counts as an empty mapping, so that a
// section whose lines are all commented out is empty rather than wrong.
// Keys must be plain names, each at most once, and in known unless known
// is nil: an unknown key is a typo that would otherwise do nothing.
func (d *decoder) mapping(n *yaml.Node, path string, known []string, f func(key string, k, v *yaml.Node) error) error {
	n = resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.errf(n, path, "want a mapping (key: value), got %s", describe(n))
	}
	seen := make(map[string]int) // key -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || k.Kind != yaml.ScalarNode || isNull(k) {
			return d.errf(n.Content[i], path, "want a name as key, got %s", describe(k))
		}
		key := k.Value
		if len(key) > maxScalar {
			return d.errf(k, path, "unknown key %s (%d bytes)", describe(k), len(key))
		}
		if k.ShortTag() == "!!merge" {
			return d.errf(k, path, "merge keys (<<) are not supported; repeat the fields or use an alias as a whole value")
		}
		if known != nil && !slices.Contains(known, key) {
			return d.errf(k, join(path, key), "unknown key%s (want one of %s)", suggest(key, known), strings.Join(known, ", "))
		}
		if line, ok := seen[key]; ok {
			return d.errf(k, join(path, key), "set twice (first at line %d)", line)
		}
		seen[key] = k.Line
		if err := f(key, k, v); err != nil {
			return err
		}
	}
	return nil
}

// sequence calls f with each item of the list n, aliases resolved.
func (d *decoder) sequence(n *yaml.Node, path, want string, f func(i int, item *yaml.Node) error) error {
	n = resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return d.errf(n, path, "want a list of %s, got %s", want, describe(n))
	}
	for i, item := range n.Content {
		if err := f(i, resolve(item)); err != nil {
			return err
		}
	}
	return nil
}

// maxScalar bounds the text of a key or value. No valid one comes near
// (names stop at 64 bytes, numbers with units at a few dozen), and errors
// quote what they refuse: a megabyte of it would bury the message.
const maxScalar = 100

// scalar returns the text of a scalar node, refusing lists, mappings and
// empty values. want names what the field takes, for the error.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, error) {
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return "", d.errf(n, path, "want %s, got %s", want, describe(n))
	}
	if len(n.Value) > maxScalar {
		return "", d.errf(n, path, "want %s, got %s (%d bytes)", want, describe(n), len(n.Value))
	}
	return n.Value, nil
}

// value parses a scalar with one of the unit parsers, reporting either
// failure at n.
func value[T any](d *decoder, n *yaml.Node, path, want string, parse func(string) (T, error)) (T, error) {
	var zero T
	s, err := d.scalar(n, path, want)
	if err != nil {
		return zero, err
	}
	v, err := parse(s)
	if err != nil {
		return zero, d.errAt(n, path, err)
	}
	return v, nil
}

// boolean accepts YAML's true and false, unquoted: "yes", "on" and a
// quoted "true" are strings in YAML 1.2 and refused here, so that a value
// means what it says.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, error) {
	// The tag alone is not enough: "!!bool yes" has it too.
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" ||
		!strings.EqualFold(n.Value, "true") && !strings.EqualFold(n.Value, "false") {
		return false, d.errf(n, path, "want true or false, got %s", describe(n))
	}
	return strings.EqualFold(n.Value, "true"), nil
}

// suggest returns `; did you mean "x"?` for the known name closest to a
// mistyped key, if one is within two edits.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance of a and b, in bytes. Keys
// longer than any known one are not worth comparing, and the bound keeps a
// megabyte-long key from costing a megabyte squared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
