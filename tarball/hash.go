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

// VerifyReader passes rc through and, at its end, fails the read that
// would return io.EOF when the bytes do not hash to want. mismatch makes
// the error, so each caller words it as its users expect.
func VerifyReader(rc io.ReadCloser, want v1.Hash, mismatch func(got v1.Hash) error) io.ReadCloser {
	return &verifyReader{HashingReader: NewHashingReader(rc), rc: rc, want: want, mismatch: mismatch}
}

type verifyReader struct {
	*HashingReader
	rc       io.ReadCloser
	want     v1.Hash
	mismatch func(v1.Hash) error
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.HashingReader.Read(p)
	if err == io.EOF {
		if got := v.Sum(); got != v.want {
			return n, v.mismatch(got)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }

// CountingWriter passes writes on to W (io.Discard when nil) and counts them.
type CountingWriter struct {
	W io.Writer
	N int64
}

func (c *CountingWriter) Write(p []byte) (int, error) {
	w := c.W
	if w == nil {
		w = io.Discard
	}
	n, err := w.Write(p)
	c.N += int64(n)
	return n, err
}
