package overlay2

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/moby/sys/atomicwriter"
	"golang.org/x/sys/unix"
)

// writeFileAtomic replaces path with data through moby's atomicwriter
// (temp file in the same directory, fsynced, chmodded, renamed: Docker's
// own helper), then fsyncs the directory so the rename itself survives a
// crash. This is the store's one atomic-write policy. With --no-sync the
// same temp-file-and-rename happens without the fsyncs: a killed process
// still leaves the old or the new file, a power loss may leave neither.
func (s *Store) writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if s.opts.NoSync {
		return renameInto(path, data, mode)
	}
	if err := atomicwriter.WriteFile(path, data, mode); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// renameInto writes data to a temp file beside path and renames it there.
func renameInto(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// syncDir fsyncs a directory (its new and renamed entries); a no-op with
// --no-sync.
func (s *Store) syncDir(dir string) error {
	if s.opts.NoSync {
		return nil
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// randomID returns 64 hex characters whose first 12 do not parse as a
// number, as Docker's stringid.GenerateRandomID does (cache and mount IDs).
func randomID() string {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseInt(id[:12], 10, 64); err != nil {
			return id
		}
	}
}

// linkID returns the 26-character base32 name of an overlay2/l symlink,
// like overlayutils.GenerateID(26).
func linkID() string {
	b := make([]byte, 17)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base32.StdEncoding.EncodeToString(b)[:26]
}

// syncfs flushes the store's filesystem once before a commit renames its
// write-sets: a layer that exists (its write-set renamed into layerdb)
// must have its files, tar-split and write-set on disk, and one syncfs
// costs less than an fsync of every extracted file. --no-sync skips it;
// the renames stay atomic, but a power loss may then lose the layers of
// the last command. n is the number of layers about to be registered.
func (s *Store) syncfs(n int) error {
	if n == 0 || s.opts.NoSync {
		return nil
	}
	// Layer files live under overlay2/, write-sets under image/: one call
	// unless someone mounted them apart.
	dirs := []string{s.overlayDir()}
	var a, b unix.Stat_t
	if unix.Stat(s.overlayDir(), &a) == nil && unix.Stat(s.layerDBDir(), &b) == nil && a.Dev != b.Dev {
		dirs = append(dirs, s.layerDBDir())
	}
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = unix.Syncfs(int(f.Fd()))
		f.Close()
		if err != nil {
			return fmt.Errorf("syncing the store's filesystem: %w", err)
		}
	}
	return nil
}
