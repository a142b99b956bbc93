package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// document parses data as one YAML document and returns its root node, nil
// when the file holds nothing but comments.
func (d *decoder) document(data []byte) (root *yaml.Node, err error) {
	if err := d.checkText(data); err != nil {
		return nil, err
	}
	// yaml.v3 has panicked on crafted input before (CVE-2022-28948, fixed
	// in v3.0.0); a scenario file is user input, and Parse promises not to
	// panic whatever the library does.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, &parseError{file: d.file, line: 1, msg: fmt.Sprintf("yaml: cannot parse: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, d.syntaxError(data, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, d.errf(&next, "", "a second YAML document (after ---): a scenario file is one document")
	} else if !errors.Is(err, io.EOF) {
		return nil, d.syntaxError(data, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// yamlLineRE splits yaml.v3's "yaml: line N: problem".
var yamlLineRE = regexp.MustCompile(`(?s)^yaml: line ([0-9]+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser, as opposed to its
// scanner. yaml.v3 (decode.go, parser.fail) reports a scanner error's line
// counting from 1 but a parser error's line counting from 0, and no line
// at all when that would be 0; Parse reports both from 1.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// unknownAnchorRE matches the one composer error without a line.
var unknownAnchorRE = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// syntaxError turns a yaml.v3 error into "file:line: yaml: problem".
func (d *decoder) syntaxError(data []byte, err error) error {
	text := err.Error()
	line, msg := 0, strings.TrimPrefix(text, "yaml: ")
	if m := yamlLineRE.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	for _, p := range parserProblems {
		if msg == p {
			line++
			break
		}
	}
	if m := unknownAnchorRE.FindStringSubmatch(text); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			line = lineAt(data, i)
		}
	}
	// Without a line, yaml.v3's marks were at the start: line 1.
	line = max(line, 1)
	return &parseError{file: d.file, line: line, msg: "yaml: " + msg, err: err}
}

// checkText refuses what yaml.v3's reader would refuse without saying
// where: bytes that are not UTF-8 and characters YAML does not allow
// (YAML 1.2, section 5.1). UTF-16 files are refused too; nobody writes
// scenarios in UTF-16.
func (d *decoder) checkText(data []byte) error {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return &parseError{file: d.file, line: lineAt(data, i), msg: fmt.Sprintf("byte %#02x is not UTF-8", data[i])}
		case !printable(r):
			return &parseError{file: d.file, line: lineAt(data, i), msg: fmt.Sprintf("character %U is not allowed in YAML", r)}
		}
		i += size
	}
	return nil
}

// printable is YAML's c-printable set.
func printable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7E || r == 0x85 ||
		r >= 0xA0 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// lineAt is the line, from 1, of byte offset i of data, counting line
// breaks as YAML (and yaml.v3's node lines) do: LF, CR, CR LF, NEL, and
// the Unicode line and paragraph separators.
func lineAt(data []byte, i int) int {
	line := 1
	for j := 0; j < i && j < len(data); {
		r, size := utf8.DecodeRune(data[j:])
		switch {
		case r == '\r' && j+1 < len(data) && data[j+1] == '\n':
			size = 2
			line++
		case r == '\n' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029:
			line++
		}
		j += size
	}
	return line
}
