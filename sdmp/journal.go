// The node journal of SDMP 0.9 (research/sdmp.md §5, decisions D9–D11).
//
// A node keeps one journal: the ordered list of every resource it has
// stored, in the order it learned of them. It is a hash chain, one text
// line per resource:
//
//	line 0:  <node fingerprint>
//	line k:  <hex sha256(text of line k-1)>@<publisher fingerprint>/<resource id>
//
// every field 64 lowercase hex characters, so an entry line is exactly 194
// bytes. A line's "line number" (the spec's term; it is not an integer) is
// its 64-hex prefix, and for line 0 the fingerprint itself (D9), so
// "the entries after line number n" is defined for every line.
//
// On disk every line, the last included, ends with "\n" (the spec's example
// has no final newline; ours does so that a line cut short by a crash can
// be told from a whole one). An append is one write of the whole line and
// its newline followed by fsync, so a crash can only leave a prefix of one
// line (or, on some file systems, a zero-filled tail) after the last
// newline. OpenJournal cuts such a torn tail away and reports how many
// bytes it dropped (Journal.Repaired); anything else that is wrong with the
// file is an error naming the line, and the file is left as it was.
//
// The per-peer synchronisation state (D9, with the 0.10 split into last
// known and last sent) lives in a second small file beside the journal,
// replaced atomically on every change.

package sdmp

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

const (
	// journalHexLen is the length of every field: a SHA-256 digest
	// (line number, resource id) or key fingerprint in lowercase hex.
	journalHexLen = 2 * sha256.Size
	// journalEntryLen is the length of an entry line without its newline:
	// "<number>@<publisher>/<id>".
	journalEntryLen = 3*journalHexLen + 2
	// journalTornMax is the most bytes a crash in the middle of one Append
	// can leave after the last newline: one whole entry whose newline never
	// reached the disk, or a zero-filled block as long as the line and its
	// newline. Appends are serialised and each is fsynced before the next,
	// so at most one can be in flight. A longer tail is not a torn append
	// but damage, and is reported as such.
	journalTornMax = journalEntryLen + 1
	// journalReadBuf bounds one line while reading; far longer than any
	// valid line, so a longer one is damage.
	journalReadBuf = 4096
	// journalStatusNotFound is the SDMP status for "unknown or deleted"
	// (research/sdmp.md §8.5), which an unknown line number or a missing
	// resource maps to.
	journalStatusNotFound = 404
	// journalPeersHeader is the first line of the peer state file; a
	// version in it lets a later format be told apart.
	journalPeersHeader = "# sdmp journal peers v1: <peer fingerprint> <last known line> <last sent line number>"
)

// Journal is a node's journal file, open for appending, and the per-peer
// synchronisation state stored beside it. It keeps every line in memory.
//
// A Journal is safe for concurrent use: one mutex guards the lines, their
// indexes, the peer state and the files, and is held across each write and
// fsync, so appends are serialised in file order. Only one Journal may have
// a given file open at a time (nothing locks the file against a second
// process).
type Journal struct {
	path  string // the journal file
	peers string // the peer state file: path + ".peers"
	node  string // line 0

	mu       sync.Mutex // guards every field below and both files
	f        *os.File
	size     int64          // bytes of whole lines in f
	lines    []string       // line texts without newlines; lines[0] == node
	byNumber map[string]int // line number -> index in lines
	byPair   map[string]int // "<publisher>/<id>" -> index in lines
	state    map[string]journalPeer
	repaired int   // bytes of a torn last line cut away by OpenJournal
	broken   error // a write or fsync that failed: refuse further writes
	closed   bool
}

// journalPeer is what a Journal stores about one peer node.
type journalPeer struct {
	knownText string // full text of the last line of the peer's journal we know
	sent      string // line number of the last line of ours sent to the peer
}

// CorruptJournalError reports a journal or peer state file that is damaged
// in a way a crash during an append cannot explain: a malformed line in the
// middle, a wrong line 0, a broken chain, a repeated entry. The file is left
// as it was for a person to look at.
type CorruptJournalError struct {
	Path   string // the damaged file
	Line   int    // 0-based line number in the file (line 0 is the fingerprint)
	Reason string // what is wrong with that line
}

// Error implements error.
func (e *CorruptJournalError) Error() string {
	return fmt.Sprintf("sdmp: journal %s: line %d: %s", e.Path, e.Line, e.Reason)
}

// UnknownLineError reports a journal line number that is not in the
// journal, as in a synchronize request whose since is unknown here. It maps
// to SDMP status 404, after which the requester resynchronises from line 0
// (the node fingerprint), as decision D9 says.
type UnknownLineError struct {
	LineNumber string
}

// Error implements error.
func (e *UnknownLineError) Error() string {
	return fmt.Sprintf("sdmp: journal line number %s is not in this journal", journalQuote(e.LineNumber))
}

// Status returns the SDMP status this error is answered with: 404.
func (e *UnknownLineError) Status() int { return journalStatusNotFound }

// OpenJournal opens the journal file at path, whose directory must exist,
// for the node with fingerprint nodeFingerprint. A missing file is created
// with line 0 only, atomically (written to a temporary file, fsynced,
// renamed, directory fsynced), so a crash never leaves a half-made journal.
//
// An existing file is read whole and checked: line 0 must be
// nodeFingerprint, every other line a well-formed entry whose line number
// is the SHA-256 of the line before it, and no (publisher, resource id)
// pair may appear twice. A torn tail (bytes after the last newline, at
// most one line and its newline long) is what a crash during Append
// leaves; it is truncated away, durably, and Repaired reports its length.
// Any other fault is a *CorruptJournalError naming the line, and the file
// is not modified.
//
// The peer state file (path + ".peers") is read too, and temporary files
// that a crash left beside either file are removed.
func OpenJournal(path string, nodeFingerprint string) (*Journal, error) {
	if !journalIsHex64(nodeFingerprint) {
		return nil, fmt.Errorf("sdmp: journal %s: node fingerprint %s is not 64 lowercase hex characters", path, journalQuote(nodeFingerprint))
	}
	j := &Journal{
		path:     path,
		peers:    path + ".peers",
		node:     nodeFingerprint,
		byNumber: make(map[string]int),
		byPair:   make(map[string]int),
		state:    make(map[string]journalPeer),
	}
	if err := journalRemoveTemps(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if err := journalWriteAtomic(path, []byte(nodeFingerprint+"\n")); err != nil {
			return nil, fmt.Errorf("sdmp: journal %s: creating it: %w", path, err)
		}
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("sdmp: journal: %w", err)
	}
	if err := j.load(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := j.loadPeers(); err != nil {
		f.Close()
		return nil, err
	}
	j.f = f
	return j, nil
}

// load reads and checks the whole journal from f and cuts a torn tail.
func (j *Journal) load(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sdmp: journal: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("sdmp: journal %s is not a regular file", j.path)
	}
	r := bufio.NewReaderSize(f, journalReadBuf)
	torn := 0
	for n := 0; ; n++ {
		b, err := r.ReadSlice('\n')
		if err == nil {
			if reason := j.add(n, string(b[:len(b)-1])); reason != "" {
				return &CorruptJournalError{Path: j.path, Line: n, Reason: reason}
			}
			j.size += int64(len(b))
			continue
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return &CorruptJournalError{Path: j.path, Line: n, Reason: fmt.Sprintf("longer than %d bytes without a newline", journalReadBuf)}
		case err != io.EOF:
			return fmt.Errorf("sdmp: journal %s: reading line %d: %w", j.path, n, err)
		case len(b) > journalTornMax:
			return &CorruptJournalError{Path: j.path, Line: n, Reason: fmt.Sprintf(
				"%d bytes without a newline at the end of the file: more than one append (%d bytes) could leave, so not a torn line", len(b), journalTornMax)}
		}
		torn = len(b)
		break
	}
	if len(j.lines) == 0 {
		reason := "the file is empty; want the node fingerprint and a newline"
		if torn > 0 {
			reason = "has no newline: OpenJournal writes line 0 atomically, so this file was not made by it"
		}
		return &CorruptJournalError{Path: j.path, Line: 0, Reason: reason}
	}
	if torn == 0 {
		return nil
	}
	// Cut the torn line, durably: a second crash must not bring it back
	// under a line appended after this open.
	if err := f.Truncate(j.size); err != nil {
		return fmt.Errorf("sdmp: journal %s: cutting a torn last line of %d bytes: %w", j.path, torn, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sdmp: journal %s: cutting a torn last line of %d bytes: %w", j.path, torn, err)
	}
	j.repaired = torn
	return nil
}

// add checks line n of the file against the lines before it and indexes
// it. It returns why the line is wrong, or "".
func (j *Journal) add(n int, line string) string {
	if n == 0 {
		if line != j.node {
			if journalIsHex64(line) {
				return fmt.Sprintf("is the fingerprint %s, not this node's %s", line, j.node)
			}
			return fmt.Sprintf("is %s; want the node fingerprint %s", journalQuote(line), j.node)
		}
		j.index(line)
		return ""
	}
	if reason := journalCheckEntry(line); reason != "" {
		return reason
	}
	prev := j.lines[len(j.lines)-1]
	if want := journalHash(prev); line[:journalHexLen] != want {
		return fmt.Sprintf("line number %s is not the SHA-256 of line %d (%s): the chain is broken", line[:journalHexLen], n-1, want)
	}
	if first, ok := j.byPair[line[journalHexLen+1:]]; ok {
		return fmt.Sprintf("names %s again (first on line %d)", line[journalHexLen+1:], first)
	}
	j.index(line)
	return ""
}

// index appends a checked line to the in-memory journal.
func (j *Journal) index(line string) {
	n := len(j.lines)
	j.lines = append(j.lines, line)
	if n == 0 {
		j.byNumber[line] = 0
		return
	}
	j.byNumber[line[:journalHexLen]] = n
	j.byPair[line[journalHexLen+1:]] = n
}

// Append adds the entry for the resource resourceID signed by publisher
// (the resource's sdmp.publisher, D11) and returns its line. The line is on
// disk before Append returns: one write of the line and its newline, then
// fsync. A pair already in the journal is not added again; Append returns
// its existing line (D9: merging deduplicates on the pair).
//
// Malformed arguments (anything but 64 lowercase hex characters) are an
// error. If the write or the fsync fails, Append cuts the partial line
// away as best it can and the Journal refuses all further writes: after a
// failed fsync the kernel's view of the file can no longer be trusted, and
// OpenJournal on the same path re-reads and repairs it.
//
// Append does not check that the resource is stored; AppendStored does.
func (j *Journal) Append(publisher, resourceID string) (line string, err error) {
	if err := journalCheckPair(publisher, resourceID); err != nil {
		return "", err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if i, ok := j.byPair[publisher+"/"+resourceID]; ok {
		return j.lines[i], nil
	}
	if err := j.writable(); err != nil {
		return "", err
	}
	line = NextJournalLine(j.lines[len(j.lines)-1], publisher, resourceID)
	buf := []byte(line + "\n")
	_, err = j.f.WriteAt(buf, j.size)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		j.f.Truncate(j.size) // best effort; the next OpenJournal repairs what is left
		j.broken = err
		return "", fmt.Errorf("sdmp: journal %s: append: %w (no more writes until the journal is reopened)", j.path, err)
	}
	j.size += int64(len(buf))
	j.index(line)
	return line, nil
}

// AppendStored is Append for a resource that must already be in s: it
// refuses when s does not hold resourceID. This is the order decision D10
// needs: the node verifies the resource, stores it (Store.Put returns only
// once the file is durable), then journals it. A crash between the two
// leaves a stored resource the journal does not name yet, which the next
// synchronisation appends again; never a journal entry whose resource the
// store lacks. (A resource deleted later, revoked by an updates document,
// keeps its entry; the journal is append-only and answers 404 for it.)
func (j *Journal) AppendStored(s *Store, publisher, resourceID string) (line string, err error) {
	if err := journalCheckPair(publisher, resourceID); err != nil {
		return "", err
	}
	if !s.Has(resourceID) {
		return "", fmt.Errorf("sdmp: journal %s: resource %s is not in the store %s; store it before journaling it", j.path, resourceID, s.Dir())
	}
	return j.Append(publisher, resourceID)
}

// writable reports why the journal may not be written, or nil. Called with
// j.mu held.
func (j *Journal) writable() error {
	if j.closed {
		return fmt.Errorf("sdmp: journal %s: %w", j.path, os.ErrClosed)
	}
	if j.broken != nil {
		return fmt.Errorf("sdmp: journal %s: an earlier write failed (%v); reopen the journal", j.path, j.broken)
	}
	return nil
}

// Close closes the journal file. Reading methods keep working on the lines
// in memory; writing methods fail with an error wrapping os.ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	return j.f.Close()
}

// Path returns the journal file's path.
func (j *Journal) Path() string { return j.path }

// Node returns the node fingerprint, line 0.
func (j *Journal) Node() string { return j.node }

// Repaired returns how many bytes of a torn last line OpenJournal cut from
// the end of the file, 0 if the file was whole. A node should log it: the
// line was never acknowledged by Append, but it is gone.
func (j *Journal) Repaired() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.repaired
}

// Lines returns a copy of every line, line 0 (the node fingerprint) first,
// without newlines.
func (j *Journal) Lines() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

// Len returns the number of lines, line 0 included; the journal holds
// Len()-1 entries.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.lines)
}

// Last returns the text of the last line (line 0 for an empty journal).
// Its line number is JournalLineNumber(Last()).
func (j *Journal) Last() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lines[len(j.lines)-1]
}

// Has reports whether the journal has an entry for resourceID signed by
// publisher.
func (j *Journal) Has(publisher, resourceID string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.byPair[publisher+"/"+resourceID]
	return ok
}

// After returns the entries that follow the line whose line number is
// lineNumber, at most limit of them (all when limit <= 0): the answer to a
// synchronize request whose since is lineNumber (D9). The node fingerprint
// is line 0's number, so After(fingerprint, n) starts at the first entry. An
// unknown line number is an *UnknownLineError (status 404). A known last
// line gives no entries and no error.
func (j *Journal) After(lineNumber string, limit int) (entries []string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	i, ok := j.byNumber[lineNumber]
	if !ok {
		return nil, &UnknownLineError{LineNumber: lineNumber}
	}
	rest := j.lines[i+1:]
	if limit > 0 && limit < len(rest) {
		rest = rest[:limit]
	}
	return append([]string{}, rest...), nil
}

// VerifyJournalSegment checks that entries are well-formed journal entries
// that chain on from prev, the full text of the line before entries[0]
// (a node fingerprint if entries start at line 1): entries[0]'s line number
// must be the SHA-256 of prev and each next one the SHA-256 of the entry
// before it. An error names the index in entries of the first bad one.
func VerifyJournalSegment(prev string, entries []string) error {
	if !journalIsHex64(prev) {
		if reason := journalCheckEntry(prev); reason != "" {
			return fmt.Errorf("sdmp: journal segment: the line before it is neither a fingerprint nor an entry: %s", reason)
		}
	}
	for i, e := range entries {
		if reason := journalCheckEntry(e); reason != "" {
			return fmt.Errorf("sdmp: journal segment: entry %d: %s", i, reason)
		}
		if want := journalHash(prev); e[:journalHexLen] != want {
			return fmt.Errorf("sdmp: journal segment: entry %d: line number %s is not the SHA-256 of the line before it (%s)", i, e[:journalHexLen], want)
		}
		prev = e
	}
	return nil
}

// ParseJournalLine splits a journal entry line (without newline) into its
// line number, publisher fingerprint and resource id. It checks the form
// only, not the chain.
func ParseJournalLine(line string) (lineNumber, publisher, resourceID string, err error) {
	if reason := journalCheckEntry(line); reason != "" {
		return "", "", "", fmt.Errorf("sdmp: journal line %s: %s", journalQuote(line), reason)
	}
	h := journalHexLen
	return line[:h], line[h+1 : 2*h+1], line[2*h+2:], nil
}

// JournalLineNumber returns the line number of a journal line: the line
// itself for line 0 (a fingerprint, D9), the 64-hex prefix for an entry,
// and "" for anything else.
func JournalLineNumber(line string) string {
	switch {
	case journalIsHex64(line):
		return line
	case journalCheckEntry(line) == "":
		return line[:journalHexLen]
	}
	return ""
}

// NextJournalLine returns the entry that follows the line prev for the
// resource resourceID signed by publisher:
// hex(SHA-256(prev)) + "@" + publisher + "/" + resourceID. It checks
// nothing.
func NextJournalLine(prev, publisher, resourceID string) string {
	return journalHash(prev) + "@" + publisher + "/" + resourceID
}

// journalCheckEntry returns why line is not a well-formed entry, or "".
func journalCheckEntry(line string) string {
	h := journalHexLen
	switch {
	case len(line) != journalEntryLen:
		return fmt.Sprintf("is %d bytes; an entry is %d: <line number>@<publisher>/<resource id>", len(line), journalEntryLen)
	case line[h] != '@' || line[2*h+1] != '/':
		return "is not <line number>@<publisher>/<resource id>"
	case !journalIsHex64(line[:h]):
		return "the line number is not 64 lowercase hex characters"
	case !journalIsHex64(line[h+1 : 2*h+1]):
		return "the publisher is not a fingerprint (64 lowercase hex characters)"
	case !journalIsHex64(line[2*h+2:]):
		return "the resource id is not 64 lowercase hex characters"
	}
	return ""
}

func journalCheckPair(publisher, resourceID string) error {
	if !journalIsHex64(publisher) {
		return fmt.Errorf("sdmp: journal: publisher %s is not a fingerprint (64 lowercase hex characters)", journalQuote(publisher))
	}
	if !journalIsHex64(resourceID) {
		return fmt.Errorf("sdmp: journal: resource id %s is not 64 lowercase hex characters", journalQuote(resourceID))
	}
	return nil
}

// journalIsHex64 reports whether s is 64 lowercase hex characters: the form
// of every SHA-256 digest and key fingerprint in SDMP 0.9. It is also what
// keeps a resource id from naming any path but one file in the store.
func journalIsHex64(s string) bool {
	if len(s) != journalHexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func journalHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// journalQuote quotes s for an error message, cut to a readable length:
// the input may be anything, up to a whole damaged file line.
func journalQuote(s string) string {
	const journalQuoteMax = 80
	if len(s) > journalQuoteMax {
		return strconv.Quote(s[:journalQuoteMax]) + "…"
	}
	return strconv.Quote(s)
}
