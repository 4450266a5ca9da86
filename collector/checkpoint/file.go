package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore keeps one JSON file per tenant in a directory. A save writes a
// temporary file, fsyncs it, renames it over the old one and fsyncs the
// directory, so a crash leaves either the old or the new checkpoint, whole.
type FileStore struct {
	dir string
}

// tmpPrefix marks temporary files; leftovers of a crash are removed on open.
const tmpPrefix = ".tmp-"

// OpenFileStore creates dir if needed (mode 0700) and removes temporary
// files a crash left behind.
func OpenFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("checkpoint: empty state directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("checkpoint: create state directory %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &CorruptError{Where: dir, Reason: "cannot list the state directory", Err: err}
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &FileStore{dir: dir}, nil
}

// Path is the file holding tenant's checkpoint.
func (s *FileStore) Path(tenant string) string { return filepath.Join(s.dir, tenant+".json") }

// Load returns tenant's checkpoint, or (nil, nil) when there is none. A file
// that exists but cannot be read or decoded is a *CorruptError.
func (s *FileStore) Load(_ context.Context, tenant string) (*State, error) {
	if err := ValidTenant(tenant); err != nil {
		return nil, err
	}
	p := s.Path(tenant)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &CorruptError{Where: p, Reason: "read failed", Err: err}
	}
	return Unmarshal(data, tenant, p)
}

// Save replaces tenant's checkpoint atomically and durably.
func (s *FileStore) Save(_ context.Context, st *State) error {
	if err := ValidTenant(st.Tenant); err != nil {
		return err
	}
	data, err := st.Marshal()
	if err != nil {
		return fmt.Errorf("checkpoint: encode %s: %w", st.Tenant, err)
	}
	p := s.Path(st.Tenant)
	f, err := os.CreateTemp(s.dir, tmpPrefix+st.Tenant+"-*")
	if err != nil {
		return fmt.Errorf("checkpoint: save %s: %w", p, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("checkpoint: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("checkpoint: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("checkpoint: rename %s to %s: %w", tmp, p, err)
	}
	ok = true
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("checkpoint: open %s for fsync: %w", s.dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("checkpoint: fsync %s: %w", s.dir, err)
	}
	return nil
}

// Close implements the store interface; it does nothing.
func (s *FileStore) Close() error { return nil }
