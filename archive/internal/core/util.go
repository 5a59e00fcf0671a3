package core

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func newHasher(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

func digestOf(alg string, b []byte) v1.Hash {
	h := newHasher(alg)
	h.Write(b)
	if alg != "sha512" {
		alg = "sha256"
	}
	return v1.Hash{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))}
}

func hashReader(r io.Reader) (v1.Hash, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return v1.Hash{}, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// digestOf2 finishes a hasher made by newHasher.
func digestOf2(alg string, h hash.Hash) v1.Hash {
	if alg != "sha512" {
		alg = "sha256"
	}
	return v1.Hash{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))}
}
