package tarball

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// HashingReader passes bytes through unchanged while hashing (sha256) and
// counting them. Digests in the image formats cover the exact bytes read, so
// every stream whose digest matters is read through one of these.
type HashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewHashingReader wraps r.
func NewHashingReader(r io.Reader) *HashingReader {
	return &HashingReader{r: r, h: sha256.New()}
}

func (hr *HashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if n > 0 {
		hr.h.Write(p[:n]) // sha256 writes never fail
		hr.n += int64(n)
	}
	return n, err
}

// Sum is the sha256 of the bytes read so far.
func (hr *HashingReader) Sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(hr.h.Sum(nil))}
}

// N is the number of bytes read so far.
func (hr *HashingReader) N() int64 { return hr.n }
