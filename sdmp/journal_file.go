package sdmp

// Durable file writes for the journal and the store: temporary files,
// fsync, rename, and the directory's fsync.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// journalTempPrefix is how temporary files made by journalWriteAtomic for
// final begin, so that OpenJournal can find what a crash left.
func journalTempPrefix(final string) string {
	return "." + filepath.Base(final) + ".tmp"
}

// journalWriteAtomic replaces the file final with data so that a crash
// leaves the old file or the new one, never a mix: write a temporary file
// in the same directory, fsync it, rename it over final, fsync the
// directory (without which the rename itself may not survive a crash).
func journalWriteAtomic(final string, data []byte) error {
	dir := filepath.Dir(final)
	f, err := os.CreateTemp(dir, journalTempPrefix(final)+"*") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return journalSyncDir(dir)
}

// journalSyncDir fsyncs a directory, making the creation, rename or
// removal of a name in it durable.
func journalSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// journalRemoveTemps removes the temporary files a crash during
// journalWriteAtomic left beside the journal and its peer state file.
func journalRemoveTemps(path string) error {
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sdmp: journal: %w", err)
	}
	prefixes := []string{journalTempPrefix(path), journalTempPrefix(path + ".peers")}
	removed := false
	for _, e := range ents {
		for _, p := range prefixes {
			if strings.HasPrefix(e.Name(), p) && e.Type().IsRegular() {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					return fmt.Errorf("sdmp: journal: removing a leftover temporary file: %w", err)
				}
				removed = true
				break
			}
		}
	}
	if removed {
		return journalSyncDir(dir)
	}
	return nil
}
