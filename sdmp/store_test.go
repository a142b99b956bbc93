package sdmp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// storeTestCheck stands in for the node's check (parse, verify, authorise):
// it accepts bytes that begin with "ok" and names them by their SHA-256.
func storeTestCheck(raw []byte) (string, error) {
	if !bytes.HasPrefix(raw, []byte("ok")) {
		return "", errors.New("signature does not verify")
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

func storeTestOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(dir, storeTestCheck)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

// storeTestFiles lists every name in dir, hidden ones included.
func storeTestFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestStorePutGet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "resources") // created by OpenStore
	s := storeTestOpen(t, dir)
	if s.Dir() != dir {
		t.Fatalf("Dir = %s", s.Dir())
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store directory: %v, %v", fi, err)
	}
	a, b := []byte("ok resource a"), []byte("ok resource b\n...")
	idA, err := s.Put(a, "")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := storeTestCheck(a); idA != want {
		t.Fatalf("Put returned %s, want %s", idA, want)
	}
	wantB, _ := storeTestCheck(b)
	idB, err := s.Put(b, wantB)
	if err != nil || idB != wantB {
		t.Fatalf("Put with the expected id = %s, %v", idB, err)
	}
	if again, err := s.Put(a, ""); err != nil || again != idA {
		t.Fatalf("second Put = %s, %v", again, err)
	}
	for id, want := range map[string][]byte{idA: a, idB: b} {
		got, err := s.Get(id)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get(%.8s) = %q, %v; want %q", id, got, err, want)
		}
		if !s.Has(id) {
			t.Fatalf("Has(%.8s) = false", id)
		}
	}
	ids, err := s.List()
	if err != nil || !slices.Equal(ids, slices.Sorted(slices.Values([]string{idA, idB}))) {
		t.Fatalf("List = %q, %v", ids, err)
	}
	// A file of some other kind in the directory is not a resource.
	journalTestWrite(t, filepath.Join(dir, "README"), "x")
	if ids, _ := s.List(); len(ids) != 2 {
		t.Fatalf("List counts a foreign file: %q", ids)
	}
	// It all survives a reopen.
	s2 := storeTestOpen(t, dir)
	if got, err := s2.Get(idB); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("Get after reopen = %q, %v", got, err)
	}
}

// TestStoreRefuses: whatever the reason Put refuses, nothing is written,
// not even a temporary file.
func TestStoreRefuses(t *testing.T) {
	dir := t.TempDir()
	s := storeTestOpen(t, dir)
	okID, _ := storeTestCheck([]byte("ok"))
	for _, tc := range []struct {
		name  string
		raw   []byte
		want  string
		check func([]byte) (string, error)
		err   string
	}{
		{"check fails", []byte("forged"), "", nil, "signature does not verify"},
		{"not the expected id", []byte("ok other"), okID, nil, "not the one expected"},
		{"malformed expected id", []byte("ok"), "../x", nil, "expected id"},
		{"empty", nil, "", nil, "empty"},
		{"too large", append([]byte("ok"), make([]byte, MaxResourceSize)...), "", nil, "larger than the limit"},
		{"check returns a path", []byte("ok"), "", func([]byte) (string, error) { return "../../etc/passwd", nil }, "not 64 lowercase hex"},
		{"check returns uppercase", []byte("ok"), "", func([]byte) (string, error) { return strings.ToUpper(okID), nil }, "not 64 lowercase hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s
			if tc.check != nil {
				st = &Store{dir: dir, check: tc.check}
			}
			id, err := st.Put(tc.raw, tc.want)
			if err == nil || id != "" || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "sdmp: store: ") {
				t.Fatalf("Put = %q, %v; want an error containing %q", id, err, tc.err)
			}
			if names := storeTestFiles(t, dir); len(names) != 0 {
				t.Fatalf("a refused Put left %q", names)
			}
		})
	}
	if _, err := OpenStore(dir, nil); err == nil {
		t.Fatal("OpenStore accepted a nil check")
	}
	file := filepath.Join(dir, "file")
	journalTestWrite(t, file, "x")
	if _, err := OpenStore(file, storeTestCheck); err == nil {
		t.Fatal("OpenStore accepted a file as its directory")
	}
}

func TestStoreIDs(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s := storeTestOpen(t, dir)
	// A file that a path-traversing id would reach.
	secret := filepath.Join(parent, "secret")
	journalTestWrite(t, secret, "secret")
	for _, id := range []string{"", "../secret", "..", "/etc/passwd", strings.Repeat("A", 64),
		strings.Repeat("a", 63), strings.Repeat("a", 65), strings.Repeat("a", 62) + "/.", strings.Repeat("a", 63) + "\x00"} {
		if s.Has(id) {
			t.Errorf("Has(%q) = true", id)
		}
		if _, err := s.Get(id); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Get(%q): %v, want a malformed-id error", id, err)
		}
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%q) succeeded", id)
		}
	}
	if _, err := os.Stat(secret); err != nil {
		t.Fatal("the file outside the store is gone")
	}
}

func TestStoreDelete(t *testing.T) {
	s := storeTestOpen(t, t.TempDir())
	id, err := s.Put([]byte("ok revoked later"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if s.Has(id) {
		t.Fatal("Has after Delete")
	}
	_, err = s.Get(id)
	var me *MissingResourceError
	if !errors.As(err, &me) || me.ID != id || me.Status() != 404 || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Get after Delete: %v, want a MissingResourceError (404, fs.ErrNotExist)", err)
	}
	if err := s.Delete(id); err != nil {
		t.Fatalf("deleting again: %v", err)
	}
	if ids, err := s.List(); err != nil || len(ids) != 0 {
		t.Fatalf("List after Delete = %q, %v", ids, err)
	}
}

// TestStoreCrashLeftovers: the temporary file of a Put cut short by a
// crash is removed on open; a whole resource and foreign files stay.
func TestStoreCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := storeTestOpen(t, dir)
	id, _ := s.Put([]byte("ok whole"), "")
	journalTestWrite(t, filepath.Join(dir, storeTempPrefix+"123456"), "ok ha")
	journalTestWrite(t, filepath.Join(dir, "notes"), "x")
	s = storeTestOpen(t, dir)
	if got, want := storeTestFiles(t, dir), slices.Sorted(slices.Values([]string{id, "notes"})); !slices.Equal(got, want) {
		t.Fatalf("after open the directory holds %q, want %q", got, want)
	}
	if ids, _ := s.List(); !slices.Equal(ids, []string{id}) {
		t.Fatalf("List = %q", ids)
	}
}

func TestStoreGetOversize(t *testing.T) {
	dir := t.TempDir()
	s := storeTestOpen(t, dir)
	id := journalTestHex("planted")
	journalTestWrite(t, filepath.Join(dir, id), string(make([]byte, MaxResourceSize+1)))
	if _, err := s.Get(id); err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Fatalf("Get of an oversize file: %v", err)
	}
}

// TestStoreThenJournal: AppendStored journals only what the store holds
// (decision D10's order: store, then journal).
func TestStoreThenJournal(t *testing.T) {
	dir := t.TempDir()
	s := storeTestOpen(t, filepath.Join(dir, "resources"))
	j := journalTestOpen(t, filepath.Join(dir, "journal"), journalV09Node)
	missing := journalTestHex("not stored")
	if _, err := j.AppendStored(s, journalV09User, missing); err == nil || !strings.Contains(err.Error(), "not in the store") {
		t.Fatalf("AppendStored of a missing resource: %v", err)
	}
	if j.Len() != 1 {
		t.Fatal("a refused AppendStored wrote a line")
	}
	if _, err := j.AppendStored(s, journalV09User, "../x"); err == nil {
		t.Fatal("AppendStored of a malformed id succeeded")
	}
	id, err := s.Put([]byte("ok stored"), "")
	if err != nil {
		t.Fatal(err)
	}
	line, err := j.AppendStored(s, journalV09User, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, got, _ := ParseJournalLine(line); got != id || !j.Has(journalV09User, id) {
		t.Fatalf("AppendStored wrote %s", line)
	}
	// Every resource the journal names is in the store.
	for _, l := range j.Lines()[1:] {
		if _, _, rid, _ := ParseJournalLine(l); !s.Has(rid) {
			t.Fatalf("the journal names %s, which the store lacks", rid)
		}
	}
}
