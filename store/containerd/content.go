package containerd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// containerd's content store: blobs/<alg>/<hex>, written through ingest/.

func (s *Store) contentDir() string {
	return filepath.Join(s.ctrdRoot, "io.containerd.content.v1.content")
}

func (s *Store) blobPath(dgst string) (string, error) {
	h, err := v1.NewHash(dgst)
	if err != nil {
		return "", fmt.Errorf("containerd content: bad digest %q: %w", dgst, err)
	}
	return filepath.Join(s.contentDir(), "blobs", h.Algorithm, h.Hex), nil
}

// openBlob opens a blob the namespace's metadata names.
func (s *Store) openBlob(dgst string) (*os.File, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("containerd content %s: %w (ctr content fetch, or pull the image again)", dgst, err)
	}
	return f, nil
}

// readBlob reads a small blob (manifest, index, config), checking its digest.
func (s *Store) readBlob(dgst string) ([]byte, error) {
	f, err := s.openBlob(dgst)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, err
	}
	if got := digestOf(b); got != dgst {
		return nil, fmt.Errorf("containerd content %s: blob hashes to %s", dgst, got)
	}
	return b, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ingest writes a blob the way containerd's content writer does: into a
// file under ingest/, hashed while written, renamed into blobs/ once its
// digest is the one expected (empty want: whatever it hashes to). It
// returns the digest, the size and whether the blob is new.
func (s *Store) ingest(r io.Reader, want string) (dgst string, size int64, created bool, err error) {
	dir := filepath.Join(s.contentDir(), "ingest")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, false, err
	}
	tmp, err := os.CreateTemp(dir, "imgtool-")
	if err != nil {
		return "", 0, false, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), r)
	if err == nil && !s.opts.NoSync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("containerd content ingest: %w", err)
	}
	dgst = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && dgst != want {
		return "", 0, false, fmt.Errorf("blob %s: content hashes to %s", want, dgst)
	}
	p, _ := s.blobPath(dgst)
	if _, err := os.Stat(p); err == nil {
		return dgst, size, false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", 0, false, err
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return "", 0, false, err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", 0, false, fmt.Errorf("containerd content ingest: %w", err)
	}
	return dgst, size, true, nil
}

// ingestBytes is ingest for a blob in memory.
func (s *Store) ingestBytes(b []byte) (string, bool, error) {
	d, _, created, err := s.ingest(strings.NewReader(string(b)), digestOf(b))
	return d, created, err
}

// verifyBlob hashes a blob and compares it with its name.
func (s *Store) verifyBlob(dgst string) error {
	f, err := s.openBlob(dgst)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != dgst {
		return fmt.Errorf("blob %s hashes to %s", dgst, got)
	}
	return nil
}
