// Package imageid computes the identities Docker gives layers and images:
// chain IDs from diff IDs (with OCI image-spec's identity package, the
// code Docker's and containerd's layer stores use), and image IDs from
// config bytes.
package imageid

import (
	"crypto/sha256"
	"encoding/hex"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
)

// EmptyTarDiffID is the diff ID of a tar of two zero blocks (1024 bytes),
// which Docker treats as an empty layer on commit.
const EmptyTarDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// ChainID returns the chain ID of a layer whose parent chain is parent
// (the zero Hash for a base layer).
func ChainID(parent, diffID v1.Hash) v1.Hash {
	if parent == (v1.Hash{}) {
		return diffID
	}
	return fromDigest(identity.ChainID([]digest.Digest{toDigest(parent), toDigest(diffID)}))
}

// ChainIDs returns the chain ID of every prefix of diffIDs.
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	ds := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		ds[i] = toDigest(d)
	}
	identity.ChainIDs(ds) // in place
	out := make([]v1.Hash, len(ds))
	for i, d := range ds {
		out[i] = fromDigest(d)
	}
	return out
}

// FromBytes is the sha256 Hash of b; an image ID is FromBytes(config).
func FromBytes(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

func toDigest(h v1.Hash) digest.Digest {
	return digest.NewDigestFromEncoded(digest.Algorithm(h.Algorithm), h.Hex)
}

func fromDigest(d digest.Digest) v1.Hash {
	return v1.Hash{Algorithm: string(d.Algorithm()), Hex: d.Encoded()}
}
