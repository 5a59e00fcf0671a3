package overlay2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
)

// AddLayer stages a layer whose diff ID is not known in advance (import,
// commit): the stream is unpacked on top of parent right away, and its
// diff ID and chain ID come out of the same pass. A chain that exists
// already is reused and the staged copy dropped.
func (tx *Tx) AddLayer(r io.Reader, parent v1.Hash) (diffID, chain v1.Hash, err error) {
	st := &staged{parent: parent, source: nil}
	if parent != (v1.Hash{}) {
		st.newParent = tx.byChain[parent]
		if st.newParent == nil && !tx.s.hasLayer(parent) {
			return v1.Hash{}, v1.Hash{}, store.Errorf(store.ErrNotFound, "parent layer %s does not exist", parent)
		}
	}
	if err := tx.prepare(st); err != nil {
		tx.drop(st)
		return v1.Hash{}, v1.Hash{}, err
	}
	res, err := tx.applyStream(context.Background(), st, r) // the caller wraps r with its context
	if err != nil {
		tx.drop(st)
		var be *budgetError
		if errors.As(err, &be) {
			err = fmt.Errorf("new layer: %w", err)
		}
		return v1.Hash{}, v1.Hash{}, err
	}
	st.diffID = res
	st.chain = imageid.ChainID(parent, st.diffID)
	if tx.s.hasLayer(st.chain) || tx.byChain[st.chain] != nil {
		tx.drop(st)
		return st.diffID, st.chain, nil
	}
	if err := tx.writeSetFiles(st); err != nil {
		tx.drop(st)
		return v1.Hash{}, v1.Hash{}, err
	}
	tx.byChain[st.chain] = st
	tx.layers = append(tx.layers, st)
	return st.diffID, st.chain, nil
}

// AddConfig stages an image config built by the caller (import, commit)
// over layers already registered or staged.
func (tx *Tx) AddConfig(config []byte, parent v1.Hash) (v1.Hash, error) {
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return v1.Hash{}, err
	}
	for _, c := range imageid.ChainIDs(diffIDs) {
		if !tx.s.hasLayer(c) && tx.byChain[c] == nil {
			return v1.Hash{}, store.Errorf(store.ErrNotFound, "config names layer %s, which does not exist", c)
		}
	}
	tx.images = append(tx.images, txImage{config: config, parent: parent})
	return imageid.FromBytes(config), nil
}

// drop removes one staged layer's files.
func (tx *Tx) drop(st *staged) {
	if st.writeSet != "" {
		os.RemoveAll(st.writeSet)
	}
	if st.cacheID != "" {
		os.RemoveAll(filepath.Join(tx.s.overlayDir(), st.cacheID))
		os.Remove(filepath.Join(tx.s.overlayDir(), "l", st.link))
	}
}

func (tx *Tx) writeSetFiles(st *staged) error {
	files := map[string]string{
		"diff":     st.diffID.String(),
		"size":     strconv.FormatInt(st.size, 10),
		"cache-id": st.cacheID,
	}
	if st.parent != (v1.Hash{}) {
		files["parent"] = st.parent.String()
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(st.writeSet, k), []byte(v), 0o644); err != nil {
			return err
		}
	}
	// No fsync here: Commit's one syncfs covers the write-set with the
	// layer's files.
	return nil
}
