package sdmp

// A journal's state per peer (D9, and the 0.10 split into last known and
// last sent), kept in a small file next to the journal.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// PeerState returns what the journal stores about the peer node with
// fingerprint peer: the line number of the last line of the peer's journal
// known here, that line's full text (so the next segment the peer sends can
// be checked against it, D9), and the line number of the last line of this
// journal sent to the peer. For a peer with no stored state the known line
// is the peer's line 0 (its fingerprint, for both known and knownText) and
// the sent line is this journal's line 0 (this node's fingerprint): ask
// for, and send, everything from the first entry on.
//
// In communication documents (research/sdmp.md §5, §8): a synchronize
// request's since is known; a journal broadcast's since is sent.
func (j *Journal) PeerState(peer string) (known, knownText, sent string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := j.peerLocked(peer)
	return JournalLineNumber(p.knownText), p.knownText, p.sent
}

func (j *Journal) peerLocked(peer string) journalPeer {
	if p, ok := j.state[peer]; ok {
		return p
	}
	return journalPeer{knownText: peer, sent: j.node}
}

// Peers returns the fingerprints of the peers with stored state, sorted.
func (j *Journal) Peers() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	peers := make([]string, 0, len(j.state))
	for p := range j.state {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	return peers
}

// SetKnown records line, the full text of a line of peer's journal, as the
// last line of it known here; call it after the entries up to line have
// been received and checked (VerifyPeerEntries). line is either a
// well-formed entry or peer itself (line 0: start again from the beginning,
// as after a 404). The state is on disk before SetKnown returns.
func (j *Journal) SetKnown(peer, line string) error {
	if !journalIsHex64(peer) {
		return fmt.Errorf("sdmp: journal peer %s is not a fingerprint (64 lowercase hex characters)", journalQuote(peer))
	}
	if line != peer {
		if reason := journalCheckEntry(line); reason != "" {
			return fmt.Errorf("sdmp: journal peer %s: last known line %s: %s", peer, journalQuote(line), reason)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	p := j.peerLocked(peer)
	p.knownText = line
	return j.setPeerLocked(peer, p)
}

// SetSent records lineNumber, the line number of a line of this journal,
// as the last one sent to peer (and acknowledged, if the caller waits for
// that). An unknown line number is an *UnknownLineError. The state is on
// disk before SetSent returns.
func (j *Journal) SetSent(peer, lineNumber string) error {
	if !journalIsHex64(peer) {
		return fmt.Errorf("sdmp: journal peer %s is not a fingerprint (64 lowercase hex characters)", journalQuote(peer))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.hasNumber(lineNumber) {
		return &UnknownLineError{LineNumber: lineNumber}
	}
	p := j.peerLocked(peer)
	p.sent = lineNumber
	return j.setPeerLocked(peer, p)
}

// setPeerLocked writes the peer state file with peer's state replaced and,
// once it is durable, updates memory. The file is small (one line per
// peer) and rewritten whole, so it is never torn.
func (j *Journal) setPeerLocked(peer string, p journalPeer) error {
	if err := j.writable(); err != nil {
		return err
	}
	next := make(map[string]journalPeer, len(j.state)+1)
	for k, v := range j.state {
		next[k] = v
	}
	next[peer] = p
	peers := make([]string, 0, len(next))
	for k := range next {
		peers = append(peers, k)
	}
	sort.Strings(peers)
	var b strings.Builder
	b.WriteString(journalPeersHeader + "\n")
	for _, k := range peers {
		fmt.Fprintf(&b, "%s %s %s\n", k, next[k].knownText, next[k].sent)
	}
	if err := journalWriteAtomic(j.peers, []byte(b.String())); err != nil {
		return fmt.Errorf("sdmp: journal %s: writing peer state: %w", j.path, err)
	}
	j.state = next
	return nil
}

// loadPeers reads the peer state file, if there is one. It is replaced
// only by rename, so any fault in it is damage, not a crash.
func (j *Journal) loadPeers() error {
	data, err := os.ReadFile(j.peers)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sdmp: journal peer state: %w", err)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return &CorruptJournalError{Path: j.peers, Line: strings.Count(text, "\n"), Reason: "no newline at the end of the file"}
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != journalPeersHeader {
		return &CorruptJournalError{Path: j.peers, Line: 0, Reason: fmt.Sprintf("is %s; want %q", journalQuote(lines[0]), journalPeersHeader)}
	}
	for n, line := range lines[1:] {
		n++
		f := strings.Split(line, " ")
		var reason string
		switch {
		case len(f) != 3:
			reason = fmt.Sprintf("has %d fields; want 3 separated by single spaces", len(f))
		case !journalIsHex64(f[0]):
			reason = "the peer is not a fingerprint (64 lowercase hex characters)"
		case f[1] != f[0] && journalCheckEntry(f[1]) != "":
			reason = "the last known line is neither the peer's fingerprint nor a journal entry: " + journalCheckEntry(f[1])
		case !j.hasNumber(f[2]):
			reason = fmt.Sprintf("the last sent line number %s is not in the journal", journalQuote(f[2]))
		}
		if _, dup := j.state[f[0]]; reason == "" && dup {
			reason = "repeats the peer " + f[0]
		}
		if reason != "" {
			return &CorruptJournalError{Path: j.peers, Line: n, Reason: reason}
		}
		j.state[f[0]] = journalPeer{knownText: f[1], sent: f[2]}
	}
	return nil
}

// hasNumber reports whether lineNumber is a line number of this journal.
func (j *Journal) hasNumber(lineNumber string) bool {
	_, ok := j.byNumber[lineNumber]
	return ok
}

// VerifyPeerEntries checks entries received from peer, the lines that
// follow the last line of the peer's journal known here (PeerState): each
// must be a well-formed entry and the chain must continue from the stored
// last line, entries[0]'s line number being the SHA-256 of that line's text
// (D9). It does not record anything; SetKnown does, once the caller has
// dealt with the entries.
func (j *Journal) VerifyPeerEntries(peer string, entries []string) error {
	_, knownText, _ := j.PeerState(peer)
	if err := VerifyJournalSegment(knownText, entries); err != nil {
		return fmt.Errorf("%w (from peer %s)", err, journalQuote(peer))
	}
	return nil
}
