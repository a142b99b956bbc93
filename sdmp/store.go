package sdmp

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxResourceSize is the largest resource, in bytes of its whole SYML file,
// that a Store accepts: 1 MiB. The 0.9 spec sets no limit; this one keeps a
// peer from filling the disk or memory with one resource, and is far above
// a signed text document. Content that needs more belongs in several
// resources.
const MaxResourceSize = 1 << 20

// storeTempPrefix begins the name of a resource file being written. No
// resource id begins with a dot, so List never mistakes one for a
// resource, and OpenStore removes what a crash left.
const storeTempPrefix = ".tmp-"

// Store is a content-addressed store of raw resources (whole SYML files,
// signature block included) in one directory, one file per resource, named
// by its resource id: the lowercase hex SHA-256 of its YAML stream
// (research/sdmp.md §4.1). The bytes are kept exactly as received, never
// re-serialised, so a stored resource is what any peer can verify.
//
// The store does not parse SYML. It is opened with a check function that
// does: it parses the resource, recomputes the id, verifies the signature
// and the publisher's authorisation, and returns the id or an error. Put
// runs it on every resource before writing anything, so the directory
// holds only resources that passed it, and the file name is the id that
// check returned.
//
// Every write is atomic and durable (temporary file, fsync, rename,
// directory fsync): after a crash a resource is either whole or absent.
// Ids are checked to be 64 lowercase hex characters before they become
// file names, so none names a path outside the directory.
//
// A Store has no state but the directory, and is safe for concurrent use:
// two Puts of the same resource both write the same bytes, and the rename
// that lands last wins. Only one process should use a directory at a time,
// because OpenStore removes temporary files it takes for a crash's leftovers.
type Store struct {
	dir   string
	check func(raw []byte) (id string, err error)
}

// MissingResourceError reports a resource the store does not hold, never
// held or deleted. It unwraps to fs.ErrNotExist and maps to SDMP status
// 404, which the spec uses for both cases (research/sdmp.md §8.5).
type MissingResourceError struct {
	ID string
}

// Error implements error.
func (e *MissingResourceError) Error() string {
	return fmt.Sprintf("sdmp: store: resource %s is not stored", e.ID)
}

// Status returns the SDMP status this error is answered with: 404.
func (e *MissingResourceError) Status() int { return journalStatusNotFound }

// Unwrap returns fs.ErrNotExist.
func (e *MissingResourceError) Unwrap() error { return fs.ErrNotExist }

// OpenStore opens the store in dir, creating the directory (mode 0700) if
// it is missing, and removes any half-written temporary files a crash left
// in it. check is the function Put runs on every resource (see Store); it
// must not be nil.
func OpenStore(dir string, check func(raw []byte) (id string, err error)) (*Store, error) {
	if check == nil {
		return nil, errors.New("sdmp: store: no check function; the store would hold unverified bytes")
	}
	if err := storeMkdir(dir); err != nil {
		return nil, fmt.Errorf("sdmp: store: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sdmp: store: %w", err)
	}
	removed := false
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), storeTempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, fmt.Errorf("sdmp: store: removing a half-written file: %w", err)
			}
			removed = true
		}
	}
	if removed {
		if err := journalSyncDir(dir); err != nil {
			return nil, fmt.Errorf("sdmp: store: %w", err)
		}
	}
	return &Store{dir: dir, check: check}, nil
}

// storeMkdir creates dir if it is missing, durably (the parent directory
// is fsynced so that the new directory survives a crash).
func storeMkdir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return journalSyncDir(filepath.Dir(filepath.Clean(dir)))
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Put checks raw with the store's check function and stores it under the
// id check returns, which Put also returns. If want is not empty, it is
// the id the caller expects (the resource it requested); a resource with
// another id is refused. Nothing is written unless check succeeds, the id
// is well-formed and the size is at most MaxResourceSize. Put returns once
// the resource is durable. Storing a resource already held does nothing.
func (s *Store) Put(raw []byte, want string) (id string, err error) {
	if len(raw) == 0 {
		return "", errors.New("sdmp: store: empty resource")
	}
	if len(raw) > MaxResourceSize {
		return "", fmt.Errorf("sdmp: store: resource of %d bytes is larger than the limit of %d", len(raw), MaxResourceSize)
	}
	if want != "" && !journalIsHex64(want) {
		return "", fmt.Errorf("sdmp: store: expected id %s is not 64 lowercase hex characters", journalQuote(want))
	}
	id, err = s.check(raw)
	if err != nil {
		return "", fmt.Errorf("sdmp: store: resource refused: %w", err)
	}
	if !journalIsHex64(id) {
		return "", fmt.Errorf("sdmp: store: the check function returned the id %s, which is not 64 lowercase hex characters", journalQuote(id))
	}
	if want != "" && id != want {
		return "", fmt.Errorf("sdmp: store: resource %s is not the one expected (%s)", id, want)
	}
	if s.Has(id) {
		return id, nil
	}
	if err := s.write(id, raw); err != nil {
		return "", fmt.Errorf("sdmp: store: writing resource %s: %w", id, err)
	}
	return id, nil
}

// write stores raw as the file id: temporary file, fsync, rename, fsync of
// the directory. A crash before the rename leaves only a temporary file,
// which OpenStore removes.
func (s *Store) write(id string, raw []byte) error {
	f, err := os.CreateTemp(s.dir, storeTempPrefix+"*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.dir, id))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return journalSyncDir(s.dir)
}

// Get returns the stored bytes of the resource id, exactly as they were
// put. A resource not held is a *MissingResourceError. Get does not run
// the check function again.
func (s *Store) Get(id string) ([]byte, error) {
	if !journalIsHex64(id) {
		return nil, fmt.Errorf("sdmp: store: resource id %s is not 64 lowercase hex characters", journalQuote(id))
	}
	f, err := os.Open(filepath.Join(s.dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingResourceError{ID: id}
	}
	if err != nil {
		return nil, fmt.Errorf("sdmp: store: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxResourceSize+1))
	if err != nil {
		return nil, fmt.Errorf("sdmp: store: reading resource %s: %w", id, err)
	}
	if len(raw) > MaxResourceSize {
		return nil, fmt.Errorf("sdmp: store: resource file %s is larger than the limit of %d bytes; it was not put there by Put", id, MaxResourceSize)
	}
	return raw, nil
}

// Has reports whether the store holds the resource id. It is false for a
// malformed id.
func (s *Store) Has(id string) bool {
	if !journalIsHex64(id) {
		return false
	}
	fi, err := os.Stat(filepath.Join(s.dir, id))
	return err == nil && fi.Mode().IsRegular()
}

// Delete removes the resource id, durably; it is for resources revoked by
// an updates (or delete) document. Deleting a resource not held is not an
// error, so a revocation can be applied more than once. The journal keeps
// the resource's entry (it is append-only); requests for it get 404.
func (s *Store) Delete(id string) error {
	if !journalIsHex64(id) {
		return fmt.Errorf("sdmp: store: resource id %s is not 64 lowercase hex characters", journalQuote(id))
	}
	err := os.Remove(filepath.Join(s.dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = journalSyncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("sdmp: store: deleting resource %s: %w", id, err)
	}
	return nil
}

// List returns the ids of all stored resources, sorted. Files in the
// directory whose names are not resource ids are ignored.
func (s *Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("sdmp: store: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if journalIsHex64(e.Name()) && e.Type().IsRegular() {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
