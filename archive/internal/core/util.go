package core

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// newHasher is the hash of a digest algorithm: sha512, else sha256.
func newHasher(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// sum finishes a hasher made by newHasher(alg) (sha256.New for "sha256").
func sum(alg string, h hash.Hash) v1.Hash {
	if alg != "sha512" {
		alg = "sha256"
	}
	return v1.Hash{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))}
}

// digestOf is the digest of b with alg.
func digestOf(alg string, b []byte) v1.Hash {
	h := newHasher(alg)
	h.Write(b)
	return sum(alg, h)
}

// hashReader is the sha256 digest of what r holds (ggcr's v1.SHA256).
func hashReader(r io.Reader) (v1.Hash, error) {
	h, _, err := v1.SHA256(r)
	return h, err
}
