package sdmp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The v0.9 journal example (docs/journal/index.md at tag v0.9 of
// sdmp/sdmp.github.io; research/sdmp.md §5): a node that publishes two
// resources of one user.
const (
	journalV09Node  = "7a5179eecc0fe18760ba615f92603372ae3fe302860098a019e15927551fee3b"
	journalV09User  = "d341ba4104e7c004c2fe56d65636b945b57550081711a1d306a9f41d2b440c75"
	journalV09ID1   = "ad700edf9094f10db2f4e56185645fd3630bbbab832d6f659dad08f0d9f43743"
	journalV09ID2   = "9094f10db2f4e56185645fd3630bbbab832d6f659dad08f0d9f43743ad700edf"
	journalV09Line1 = "1467d232075b693bd528521179679ec07a083e4f0076ecd2af61607d6b5b2b38@" + journalV09User + "/" + journalV09ID1
	journalV09Line2 = "7f6b5d882777fa3620c2a0c86c31537b30cbfaa55f09fb948c9ed491e0968fce@" + journalV09User + "/" + journalV09ID2
	// Another revision of the same page prints line 2 with the line
	// number 08dcde77…, which is not the SHA-256 of line 1: a real broken
	// chain.
	journalV09BadLine2 = "08dcde77e36f7206e31ce839449ccb07c46ab7c65328670051dc142c3f0c76d4@" + journalV09User + "/" + journalV09ID2
)

// journalV09File is the example as OpenJournal stores it: every line ends
// with a newline.
const journalV09File = journalV09Node + "\n" + journalV09Line1 + "\n" + journalV09Line2 + "\n"

// journalTestHex returns a distinct 64-hex string for s.
func journalTestHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func journalTestOpen(t testing.TB, path, node string) *Journal {
	t.Helper()
	j, err := OpenJournal(path, node)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func journalTestWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestJournalSpecExample(t *testing.T) {
	// The published chain verifies...
	if err := VerifyJournalSegment(journalV09Node, []string{journalV09Line1, journalV09Line2}); err != nil {
		t.Fatalf("the v0.9 example does not verify: %v", err)
	}
	// ...and appending the same two resources to a new journal writes it
	// byte for byte.
	path := filepath.Join(t.TempDir(), "journal")
	j := journalTestOpen(t, path, journalV09Node)
	for i, id := range []string{journalV09ID1, journalV09ID2} {
		line, err := j.Append(journalV09User, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{journalV09Line1, journalV09Line2}[i]; line != want {
			t.Fatalf("line %d = %s, want %s", i+1, line, want)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != journalV09File {
		t.Fatalf("file = %q, want %q", data, journalV09File)
	}
	// The file as published opens.
	path2 := filepath.Join(t.TempDir(), "journal")
	journalTestWrite(t, path2, journalV09File)
	j2 := journalTestOpen(t, path2, journalV09Node)
	if got, want := j2.Lines(), []string{journalV09Node, journalV09Line1, journalV09Line2}; !slices.Equal(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
	if j2.Len() != 3 || j2.Last() != journalV09Line2 || j2.Repaired() != 0 || j2.Node() != journalV09Node {
		t.Fatalf("Len %d Last %s Repaired %d Node %s", j2.Len(), j2.Last(), j2.Repaired(), j2.Node())
	}
	// The misprinted revision does not.
	err = VerifyJournalSegment(journalV09Node, []string{journalV09Line1, journalV09BadLine2})
	if err == nil || !strings.Contains(err.Error(), "entry 1:") {
		t.Fatalf("the misprinted chain: %v, want an error at entry 1", err)
	}
}

func TestJournalParseLine(t *testing.T) {
	n, p, id, err := ParseJournalLine(journalV09Line2)
	if err != nil || n != journalV09Line2[:64] || p != journalV09User || id != journalV09ID2 {
		t.Fatalf("ParseJournalLine = %s %s %s %v", n, p, id, err)
	}
	if got := JournalLineNumber(journalV09Node); got != journalV09Node {
		t.Fatalf("line number of line 0 = %s", got)
	}
	if got := JournalLineNumber(journalV09Line1); got != journalV09Line1[:64] {
		t.Fatalf("line number of line 1 = %s", got)
	}
	upper := strings.ToUpper(journalV09Line1[:64]) + journalV09Line1[64:]
	for _, bad := range []string{"", "x", journalV09Line1 + "\n", journalV09Line1[:193], upper,
		strings.Replace(journalV09Line1, "@", "/", 1), strings.Replace(journalV09Line1, "/", "@", 1),
		journalV09Line1[:100] + "g" + journalV09Line1[101:], journalV09Line1[:150] + "G" + journalV09Line1[151:]} {
		if _, _, _, err := ParseJournalLine(bad); err == nil {
			t.Errorf("ParseJournalLine(%q) succeeded", bad)
		}
		if JournalLineNumber(bad) != "" {
			t.Errorf("JournalLineNumber(%q) is not empty", bad)
		}
	}
}

func TestJournalVerifySegment(t *testing.T) {
	a := NextJournalLine(journalV09Node, journalV09User, journalV09ID1)
	b := NextJournalLine(a, journalV09User, journalV09ID2)
	for _, tc := range []struct {
		name    string
		prev    string
		entries []string
		bad     string // substring of the error, "" for success
	}{
		{"empty segment", journalV09Node, nil, ""},
		{"from line 0", journalV09Node, []string{a, b}, ""},
		{"from an entry", a, []string{b}, ""},
		{"gap", journalV09Node, []string{b}, "entry 0: line number"},
		{"reordered", journalV09Node, []string{a, b, a}, "entry 2: line number"},
		{"malformed entry", journalV09Node, []string{a, b[:100]}, "entry 1: is 100 bytes"},
		{"bad previous line", "nope", []string{a}, "the line before it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyJournalSegment(tc.prev, tc.entries)
			if tc.bad == "" && err != nil || tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)) {
				t.Fatalf("VerifyJournalSegment: %v, want %q", err, tc.bad)
			}
		})
	}
}

// TestJournalTornLine simulates a crash in the middle of an append: bytes
// of a line that never got its newline after the last whole line.
func TestJournalTornLine(t *testing.T) {
	next := NextJournalLine(journalV09Line2, journalV09User, journalTestHex("third"))
	for _, tc := range []struct {
		name string
		base string
		tail string
	}{
		{"one byte", journalV09File, next[:1]},
		{"half a line", journalV09File, next[:100]},
		{"a whole line without its newline", journalV09File, next},
		{"zero-filled line and newline", journalV09File, strings.Repeat("\x00", journalTornMax)},
		{"a few zeros", journalV09File, "\x00\x00\x00"},
		{"after line 0 only", journalV09Node + "\n", journalV09Line1[:150]},
		{"the published form, no final newline", journalV09Node + "\n" + journalV09Line1 + "\n", journalV09Line2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			journalTestWrite(t, path, tc.base+tc.tail)
			j := journalTestOpen(t, path, journalV09Node)
			if j.Repaired() != len(tc.tail) {
				t.Fatalf("Repaired = %d, want %d", j.Repaired(), len(tc.tail))
			}
			data, _ := os.ReadFile(path)
			if string(data) != tc.base {
				t.Fatalf("after repair the file is %q, want %q", data, tc.base)
			}
			// The journal goes on from the last whole line.
			line, err := j.Append(journalV09User, journalTestHex("after the crash"))
			if err != nil {
				t.Fatal(err)
			}
			lines := j.Lines()
			if err := VerifyJournalSegment(lines[0], lines[1:]); err != nil || lines[len(lines)-1] != line {
				t.Fatalf("after repair and append: %v", err)
			}
			j.Close()
			j2 := journalTestOpen(t, path, journalV09Node)
			if j2.Repaired() != 0 || !slices.Equal(j2.Lines(), lines) {
				t.Fatalf("reopen: Repaired %d, lines %q, want 0, %q", j2.Repaired(), j2.Lines(), lines)
			}
		})
	}
}

// TestJournalCorrupt: damage a crash cannot explain is an error naming the
// line, and the file is left alone.
func TestJournalCorrupt(t *testing.T) {
	p := journalV09User
	dupA := NextJournalLine(journalV09Node, p, journalV09ID1)
	dupB := NextJournalLine(dupA, p, journalV09ID1)
	flip := func(s string, i int) string {
		c := byte('0')
		if s[i] == '0' {
			c = '1'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for _, tc := range []struct {
		name    string
		content string
		line    int
	}{
		{"empty file", "", 0},
		{"line 0 without newline", journalV09Node, 0},
		{"another node's journal", journalTestHex("other") + "\n", 0},
		{"uppercase fingerprint", strings.ToUpper(journalV09Node) + "\n", 0},
		{"CRLF line 0", journalV09Node + "\r\n" + journalV09Line1 + "\n", 0},
		{"garbage line 0", "hello\n", 0},
		{"blank line", journalV09Node + "\n\n" + journalV09Line1 + "\n", 1},
		{"CRLF entry", journalV09Node + "\n" + journalV09Line1 + "\r\n" + journalV09Line2 + "\n", 1},
		{"line number changed", journalV09Node + "\n" + flip(journalV09Line1, 10) + "\n" + journalV09Line2 + "\n", 1},
		{"publisher changed: the next line's chain breaks", journalV09Node + "\n" + flip(journalV09Line1, 70) + "\n" + journalV09Line2 + "\n", 2},
		{"resource id changed in the middle", journalV09Node + "\n" + flip(journalV09Line1, 150) + "\n" + journalV09Line2 + "\n", 2},
		{"the misprinted v0.9 example", journalV09Node + "\n" + journalV09Line1 + "\n" + journalV09BadLine2 + "\n", 2},
		{"line dropped", journalV09Node + "\n" + journalV09Line2 + "\n", 1},
		{"repeated pair", journalV09Node + "\n" + dupA + "\n" + dupB + "\n", 2},
		{"short line in the middle", journalV09Node + "\n" + journalV09Line1[:100] + "\n" + journalV09Line2 + "\n", 1},
		{"very long line", journalV09Node + "\n" + strings.Repeat("a", 5000) + "\n", 1},
		{"tail longer than one append", journalV09File + strings.Repeat("a", journalTornMax+1), 3},
		{"uppercase in an entry", journalV09Node + "\n" + strings.ToUpper(journalV09Line1) + "\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			journalTestWrite(t, path, tc.content)
			j, err := OpenJournal(path, journalV09Node)
			if err == nil {
				j.Close()
				t.Fatal("OpenJournal accepted a damaged journal")
			}
			var ce *CorruptJournalError
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Path != path {
				t.Fatalf("OpenJournal: %v, want a CorruptJournalError at line %d", err, tc.line)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d:", tc.line)) || !strings.HasPrefix(err.Error(), "sdmp: ") {
				t.Fatalf("error %q does not name line %d", err, tc.line)
			}
			if data, _ := os.ReadFile(path); string(data) != tc.content {
				t.Fatal("OpenJournal modified a journal it refused")
			}
		})
	}
}

func TestJournalOpenArguments(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenJournal(filepath.Join(dir, "j"), "not hex"); err == nil {
		t.Fatal("accepted a malformed node fingerprint")
	}
	if _, err := os.Stat(filepath.Join(dir, "j")); err == nil {
		t.Fatal("created a journal for a malformed fingerprint")
	}
	if _, err := OpenJournal(filepath.Join(dir, "missing", "j"), journalV09Node); err == nil {
		t.Fatal("opened a journal in a missing directory")
	}
	if _, err := OpenJournal(dir, journalV09Node); err == nil {
		t.Fatal("opened a directory as a journal")
	}
}

func TestJournalCreateAndTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal")
	// Leftovers of a crash during journalWriteAtomic; and a file of
	// someone else that must stay.
	for _, name := range []string{".journal.tmp123", ".journal.peers.tmp456", "other"} {
		journalTestWrite(t, filepath.Join(dir, name), "x")
	}
	j := journalTestOpen(t, path, journalV09Node)
	data, err := os.ReadFile(path)
	if err != nil || string(data) != journalV09Node+"\n" {
		t.Fatalf("new journal = %q, %v", data, err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"journal", "other"}) {
		t.Fatalf("directory holds %q after open", names)
	}
	if j.Len() != 1 || j.Last() != journalV09Node || j.Path() != path {
		t.Fatalf("new journal: Len %d Last %s Path %s", j.Len(), j.Last(), j.Path())
	}
}

func TestJournalAppendDedup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j := journalTestOpen(t, path, journalV09Node)
	l1, err := j.Append(journalV09User, journalV09ID1)
	if err != nil {
		t.Fatal(err)
	}
	l2, _ := j.Append(journalV09User, journalV09ID2)
	again, err := j.Append(journalV09User, journalV09ID1)
	if err != nil || again != l1 {
		t.Fatalf("appending a known pair = %s, %v; want the existing line %s", again, err, l1)
	}
	if j.Len() != 3 || j.Last() != l2 {
		t.Fatalf("a known pair was appended again: Len %d", j.Len())
	}
	// The same resource id under another publisher is another pair.
	other := journalTestHex("other publisher")
	if _, err := j.Append(other, journalV09ID1); err != nil || j.Len() != 4 {
		t.Fatalf("other publisher: Len %d, %v", j.Len(), err)
	}
	if !j.Has(journalV09User, journalV09ID1) || !j.Has(other, journalV09ID1) || j.Has(other, journalV09ID2) {
		t.Fatal("Has is wrong")
	}
	for _, tc := range []struct{ pub, id string }{
		{"", journalV09ID1},
		{journalV09User, ""},
		{strings.ToUpper(journalV09User), journalV09ID1},
		{journalV09User, "../../etc/passwd"},
		{journalV09User + "0", journalV09ID1},
		{journalV09User, journalV09ID1[:63] + "g"},
		{journalV09User[:64-2] + "\n0", journalV09ID1},
	} {
		if _, err := j.Append(tc.pub, tc.id); err == nil || !strings.HasPrefix(err.Error(), "sdmp: ") {
			t.Errorf("Append(%q, %q): %v", tc.pub, tc.id, err)
		}
	}
	if j.Len() != 4 {
		t.Fatalf("malformed appends changed the journal: Len %d", j.Len())
	}
	j.Close()
	if _, err := j.Append(journalV09User, journalTestHex("closed")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if len(j.Lines()) != 4 {
		t.Fatal("Lines after Close")
	}
}

// TestJournalFailedWrite: after a write fails the journal refuses writes
// until it is reopened, and reopening finds it whole.
func TestJournalFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j := journalTestOpen(t, path, journalV09Node)
	if _, err := j.Append(journalV09User, journalV09ID1); err != nil {
		t.Fatal(err)
	}
	j.f.Close() // behind the Journal's back: the next write fails
	if _, err := j.Append(journalV09User, journalV09ID2); err == nil {
		t.Fatal("Append to a closed file succeeded")
	}
	_, err := j.Append(journalV09User, journalTestHex("later"))
	if err == nil || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Append after a failed write: %v, want a refusal", err)
	}
	if err := j.SetKnown(journalV09User, journalV09User); err == nil {
		t.Fatal("SetKnown after a failed write succeeded")
	}
	j2 := journalTestOpen(t, path, journalV09Node)
	if !slices.Equal(j2.Lines(), []string{journalV09Node, journalV09Line1}) {
		t.Fatalf("reopened: %q", j2.Lines())
	}
}

func TestJournalAfter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	journalTestWrite(t, path, journalV09File)
	j := journalTestOpen(t, path, journalV09Node)
	n1, n2 := journalV09Line1[:64], journalV09Line2[:64]
	for _, tc := range []struct {
		since string
		limit int
		want  []string
	}{
		{journalV09Node, 0, []string{journalV09Line1, journalV09Line2}},
		{journalV09Node, -1, []string{journalV09Line1, journalV09Line2}},
		{journalV09Node, 1, []string{journalV09Line1}},
		{journalV09Node, 5, []string{journalV09Line1, journalV09Line2}},
		{n1, 0, []string{journalV09Line2}},
		{n2, 0, []string{}},
	} {
		got, err := j.After(tc.since, tc.limit)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("After(%.8s, %d) = %q, %v; want %q", tc.since, tc.limit, got, err, tc.want)
		}
	}
	for _, unknown := range []string{journalTestHex("unknown"), journalV09Line1, "", journalV09User} {
		_, err := j.After(unknown, 0)
		var ue *UnknownLineError
		if !errors.As(err, &ue) || ue.LineNumber != unknown || ue.Status() != 404 {
			t.Errorf("After(%.8q): %v, want an UnknownLineError with status 404", unknown, err)
		}
	}
	// The result is a copy.
	got, _ := j.After(journalV09Node, 0)
	got[0] = "x"
	if j.Lines()[1] != journalV09Line1 {
		t.Fatal("After returned the journal's own slice")
	}
}

func TestJournalPeerState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal")
	j := journalTestOpen(t, path, journalV09Node)
	mine, _ := j.Append(journalV09User, journalV09ID1)

	// The peer's own journal.
	peer := journalTestHex("peer node")
	p1 := NextJournalLine(peer, journalV09User, journalV09ID1)
	p2 := NextJournalLine(p1, journalV09User, journalV09ID2)
	p3 := NextJournalLine(p2, journalV09User, journalTestHex("p3"))

	known, knownText, sent := j.PeerState(peer)
	if known != peer || knownText != peer || sent != journalV09Node {
		t.Fatalf("state of a new peer = %s %s %s; want its fingerprint twice and ours", known, knownText, sent)
	}
	if err := j.VerifyPeerEntries(peer, []string{p1, p2}); err != nil {
		t.Fatalf("entries from line 1: %v", err)
	}
	if err := j.VerifyPeerEntries(peer, []string{p2}); err == nil {
		t.Fatal("a segment that skips a line verified")
	}
	if err := j.SetKnown(peer, p2); err != nil {
		t.Fatal(err)
	}
	if err := j.VerifyPeerEntries(peer, []string{p3}); err != nil {
		t.Fatalf("entries after the known line: %v", err)
	}
	if err := j.VerifyPeerEntries(peer, []string{p2, p3}); err == nil {
		t.Fatal("a segment that repeats the known line verified")
	}
	if err := j.SetSent(peer, JournalLineNumber(mine)); err != nil {
		t.Fatal(err)
	}
	var ue *UnknownLineError
	if err := j.SetSent(peer, journalTestHex("not ours")); !errors.As(err, &ue) {
		t.Fatalf("SetSent of an unknown line number: %v", err)
	}
	for _, bad := range []struct{ peer, line string }{
		{"nope", p1}, {peer, "nope"}, {peer, journalTestHex("another fingerprint")}, {strings.ToUpper(peer), p1},
	} {
		if err := j.SetKnown(bad.peer, bad.line); err == nil {
			t.Errorf("SetKnown(%.8q, %.8q) succeeded", bad.peer, bad.line)
		}
	}
	if err := j.SetSent("nope", journalV09Node); err == nil {
		t.Error("SetSent for a malformed peer succeeded")
	}
	other := journalTestHex("second peer")
	if err := j.SetSent(other, journalV09Node); err != nil {
		t.Fatal(err)
	}

	// All of it survives a reopen.
	j.Close()
	j2 := journalTestOpen(t, path, journalV09Node)
	known, knownText, sent = j2.PeerState(peer)
	if known != p2[:64] || knownText != p2 || sent != mine[:64] {
		t.Fatalf("after reopen: %s %s %s", known, knownText, sent)
	}
	if got, want := j2.Peers(), []string{peer, other}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("Peers = %q", got)
	}
	// Back to the start after a 404.
	if err := j2.SetKnown(peer, peer); err != nil {
		t.Fatal(err)
	}
	if known, _, _ := j2.PeerState(peer); known != peer {
		t.Fatalf("after reset known = %s", known)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("directory holds %d files; want the journal and its peer file", len(ents))
	}
}

func TestJournalPeerFileCorrupt(t *testing.T) {
	peer := journalTestHex("peer")
	good := journalPeersHeader + "\n" + peer + " " + peer + " " + journalV09Node + "\n"
	for _, tc := range []struct {
		name    string
		content string
		line    int
	}{
		{"no header", peer + " " + peer + " " + journalV09Node + "\n", 0},
		{"no final newline", strings.TrimSuffix(good, "\n"), 1},
		{"two fields", journalPeersHeader + "\n" + peer + " " + peer + "\n", 1},
		{"bad peer", journalPeersHeader + "\n" + "x " + peer + " " + journalV09Node + "\n", 1},
		{"bad known line", journalPeersHeader + "\n" + peer + " " + journalV09Node + " " + journalV09Node + "\n", 1},
		{"sent line not in the journal", journalPeersHeader + "\n" + peer + " " + peer + " " + peer + "\n", 1},
		{"repeated peer", good + peer + " " + peer + " " + journalV09Node + "\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal")
			journalTestWrite(t, path, journalV09Node+"\n")
			journalTestWrite(t, path+".peers", good)
			j := journalTestOpen(t, path, journalV09Node)
			j.Close()
			journalTestWrite(t, path+".peers", tc.content)
			_, err := OpenJournal(path, journalV09Node)
			var ce *CorruptJournalError
			if !errors.As(err, &ce) || ce.Path != path+".peers" || ce.Line != tc.line {
				t.Fatalf("OpenJournal: %v, want a CorruptJournalError at line %d of the peer file", err, tc.line)
			}
		})
	}
}

func TestJournalConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	j := journalTestOpen(t, path, journalV09Node)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every writer appends the same ids: most calls race on a
				// pair another writer may have added.
				if _, err := j.Append(journalV09User, journalTestHex(fmt.Sprint(i))); err != nil {
					t.Error(err)
				}
				if err := j.SetKnown(journalTestHex(fmt.Sprint("peer", w)), journalTestHex(fmt.Sprint("peer", w))); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range each {
				_, _ = j.After(journalV09Node, 3)
				_ = j.Lines()
				_, _, _ = j.PeerState(journalV09User)
				_ = j.Has(journalV09User, journalV09ID1)
			}
		}()
	}
	wg.Wait()
	lines := j.Lines()
	if len(lines) != each+1 {
		t.Fatalf("%d lines, want %d", len(lines), each+1)
	}
	if err := VerifyJournalSegment(lines[0], lines[1:]); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if j2 := journalTestOpen(t, path, journalV09Node); !slices.Equal(j2.Lines(), lines) || len(j2.Peers()) != writers {
		t.Fatal("reopened journal differs")
	}
}

// journalRef is the naive reference: a slice of lines and linear search.
type journalRef struct {
	lines []string
	known map[string]string // peer -> known line text
	sent  map[string]string // peer -> sent line number
}

func (r *journalRef) append(pub, id string) string {
	for _, l := range r.lines[1:] {
		if l[65:] == pub+"/"+id {
			return l
		}
	}
	sum := sha256.Sum256([]byte(r.lines[len(r.lines)-1]))
	l := hex.EncodeToString(sum[:]) + "@" + pub + "/" + id
	r.lines = append(r.lines, l)
	return l
}

func (r *journalRef) after(number string, limit int) ([]string, bool) {
	for i, l := range r.lines {
		if i == 0 && l == number || i > 0 && l[:64] == number {
			rest := r.lines[i+1:]
			if limit > 0 && limit < len(rest) {
				rest = rest[:limit]
			}
			return append([]string{}, rest...), true
		}
	}
	return nil, false
}

// TestJournalRandom runs random appends, queries, peer updates, reopens and
// crashes against journalRef.
func TestJournalRandom(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "journal")
	node := journalTestHex("random node")
	pubs := []string{journalTestHex("p0"), journalTestHex("p1"), journalTestHex("p2")}
	peers := []string{journalTestHex("peer0"), journalTestHex("peer1")}
	id := func() string { return journalTestHex(fmt.Sprint("id", rng.IntN(40))) }
	ref := &journalRef{lines: []string{node}, known: map[string]string{}, sent: map[string]string{}}
	j, err := OpenJournal(path, node)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.Close() }()
	fail := func(step int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, step %d: %s", seed, step, fmt.Sprintf(format, args...))
	}
	for step := range 250 {
		switch op := rng.IntN(10); {
		case op < 4:
			pub, rid := pubs[rng.IntN(len(pubs))], id()
			want := ref.append(pub, rid)
			got, err := j.Append(pub, rid)
			if err != nil || got != want {
				fail(step, "Append = %s, %v; want %s", got, err, want)
			}
		case op == 4:
			number := journalTestHex("unknown")
			if rng.IntN(5) > 0 {
				number = JournalLineNumber(ref.lines[rng.IntN(len(ref.lines))])
			}
			limit := rng.IntN(5) - 1
			want, ok := ref.after(number, limit)
			got, err := j.After(number, limit)
			if ok != (err == nil) || !slices.Equal(got, want) {
				fail(step, "After(%.8s, %d) = %d lines, %v; want %d lines", number, limit, len(got), err, len(want))
			}
		case op == 5:
			pub, rid := pubs[rng.IntN(len(pubs))], id()
			ok := false
			for _, l := range ref.lines[1:] {
				ok = ok || l[65:] == pub+"/"+rid
			}
			if j.Has(pub, rid) != ok {
				fail(step, "Has = %v, want %v", !ok, ok)
			}
		case op == 6:
			peer := peers[rng.IntN(len(peers))]
			if rng.IntN(2) == 0 {
				text := NextJournalLine(id(), pubs[0], id())
				if err := j.SetKnown(peer, text); err != nil {
					fail(step, "SetKnown: %v", err)
				}
				ref.known[peer] = text
			} else {
				number := JournalLineNumber(ref.lines[rng.IntN(len(ref.lines))])
				if err := j.SetSent(peer, number); err != nil {
					fail(step, "SetSent: %v", err)
				}
				ref.sent[peer] = number
			}
		case op == 7 || op == 8:
			// Reopen; on op 8 after a crash in the middle of an append.
			j.Close()
			torn := 0
			if op == 8 {
				next := NextJournalLine(ref.lines[len(ref.lines)-1], pubs[0], id()) + "\n"
				torn = 1 + rng.IntN(len(next)-1)
				tail := next[:torn]
				if rng.IntN(3) == 0 {
					tail = strings.Repeat("\x00", torn)
				}
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString(tail)
				f.Close()
			}
			if j, err = OpenJournal(path, node); err != nil {
				fail(step, "reopen: %v", err)
			}
			if j.Repaired() != torn {
				fail(step, "Repaired = %d, want %d", j.Repaired(), torn)
			}
		case op == 9:
			peer := peers[rng.IntN(len(peers))]
			known, knownText, sent := j.PeerState(peer)
			wantText, ok := ref.known[peer]
			if !ok {
				wantText = peer
			}
			wantSent, ok := ref.sent[peer]
			if !ok {
				wantSent = node
			}
			if knownText != wantText || known != JournalLineNumber(wantText) || sent != wantSent {
				fail(step, "PeerState = %.8s %.8s %.8s, want %.8s %.8s", known, knownText, sent, wantText, wantSent)
			}
		}
		if !slices.Equal(j.Lines(), ref.lines) {
			fail(step, "lines differ from the reference")
		}
	}
	data, _ := os.ReadFile(path)
	if string(data) != strings.Join(ref.lines, "\n")+"\n" {
		t.Fatalf("seed %d: the file differs from the reference", seed)
	}
}

// FuzzOpenJournal feeds arbitrary file contents to OpenJournal. It must not
// panic; a refused file must be left as it was; an accepted one must be a
// verified chain, on disk exactly as the lines say, less only the torn
// bytes it reports; and reopening must give the same lines with nothing
// to repair. When the input begins with 64 hex characters they are taken
// as the node fingerprint, so the fuzzer can reach valid journals.
func FuzzOpenJournal(f *testing.F) {
	// One directory for all inputs (each worker process has its own):
	// a directory per input would cost more than OpenJournal itself.
	path := filepath.Join(f.TempDir(), "journal")
	f.Fuzz(func(t *testing.T, data []byte) {
		node := journalV09Node
		if len(data) >= journalHexLen && journalIsHex64(string(data[:journalHexLen])) {
			node = string(data[:journalHexLen])
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := OpenJournal(path, node)
		after, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			var ce *CorruptJournalError
			if !errors.As(err, &ce) || ce.Line < 0 {
				t.Fatalf("OpenJournal: %v is not a CorruptJournalError", err)
			}
			if !bytes.Equal(after, data) {
				t.Fatal("a refused journal was modified")
			}
			return
		}
		lines := j.Lines()
		j.Close()
		if lines[0] != node {
			t.Fatalf("line 0 = %q", lines[0])
		}
		if err := VerifyJournalSegment(lines[0], lines[1:]); err != nil {
			t.Fatalf("accepted chain does not verify: %v", err)
		}
		if string(after) != strings.Join(lines, "\n")+"\n" {
			t.Fatal("the file is not the lines it was read as")
		}
		if !bytes.HasPrefix(data, after) || len(data)-len(after) != j.Repaired() || j.Repaired() > journalTornMax {
			t.Fatalf("repair cut %d bytes, reported %d", len(data)-len(after), j.Repaired())
		}
		j2, err := OpenJournal(path, node)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer j2.Close()
		if j2.Repaired() != 0 || !slices.Equal(j2.Lines(), lines) {
			t.Fatal("reopen differs")
		}
	})
}
