// Package imageid computes the identities Docker gives layers and images:
// chain IDs from diff IDs, and image IDs from config bytes.
package imageid

import (
	"crypto/sha256"
	"encoding/hex"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// EmptyTarDiffID is the diff ID of a tar of two zero blocks (1024 bytes),
// which Docker treats as an empty layer on commit.
const EmptyTarDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// ChainID returns the chain ID of a layer whose parent chain is parent
// (the zero Hash for a base layer): sha256(parent + " " + diffID).
func ChainID(parent, diffID v1.Hash) v1.Hash {
	if parent == (v1.Hash{}) {
		return diffID
	}
	return FromBytes([]byte(parent.String() + " " + diffID.String()))
}

// ChainIDs returns the chain ID of every prefix of diffIDs.
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	var parent v1.Hash
	for i, d := range diffIDs {
		parent = ChainID(parent, d)
		out[i] = parent
	}
	return out
}

// FromBytes is the sha256 Hash of b; an image ID is FromBytes(config).
func FromBytes(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
