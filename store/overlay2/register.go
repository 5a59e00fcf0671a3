package overlay2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// staged is a layer extracted into its overlay2 dir and recorded in a
// layerdb write-set, not yet visible: Commit renames the write-set into
// layerdb/sha256/<chainID>, which is the moment the layer exists.
type staged struct {
	chain, parent, diffID v1.Hash
	cacheID, link, lower  string
	writeSet              string
	parentCacheID         string
	source                v1.Layer
	index                 int // position in its image, for messages
	size                  int64
	newParent             *staged // parent staged in the same transaction
}

// Tx collects the layers and images of one write (a load of a whole
// archive, an import, a commit) so that either all of it lands or nothing.
// The caller holds the writer lock.
type Tx struct {
	s       *Store
	layers  []*staged
	byChain map[v1.Hash]*staged
	images  []txImage
	opts    tarball.ApplyOptions
}

type txImage struct {
	config []byte
	parent v1.Hash
}

// Begin starts a transaction; call Abort if Commit is not reached.
func (s *Store) Begin() store.Tx { return s.begin() }

func (s *Store) begin() *Tx {
	return &Tx{s: s, byChain: map[v1.Hash]*staged{}, opts: tarball.DefaultApplyOptions()}
}

// AddImage stages an image's missing layers and its config. Layers whose
// chain ID exists are reused without reading their data, as Docker does.
// parent is the imagedb parent to record (zero for none).
func (tx *Tx) AddImage(img v1.Image, parent v1.Hash) (v1.Hash, error) {
	config, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading config: %w", err)
	}
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(layers) != len(diffIDs) {
		return v1.Hash{}, fmt.Errorf("invalid manifest, layers length mismatch: expected %d, got %d", len(diffIDs), len(layers))
	}
	chains := imageid.ChainIDs(diffIDs)
	for i, chain := range chains {
		if tx.s.hasLayer(chain) || tx.byChain[chain] != nil {
			continue
		}
		st := &staged{chain: chain, diffID: diffIDs[i], source: layers[i], index: i}
		if i > 0 {
			st.parent = chains[i-1]
			st.newParent = tx.byChain[st.parent]
		}
		tx.byChain[chain] = st
		tx.layers = append(tx.layers, st)
	}
	tx.images = append(tx.images, txImage{config: config, parent: parent})
	return imageid.FromBytes(config), nil
}

// Extract creates the overlay2 dirs of every staged layer and applies the
// layer data into them, in parallel: each layer's stream is decompressed,
// hashed, tar-split-recorded and unpacked in one pass.
func (tx *Tx) Extract(ctx context.Context, progress func(diffID v1.Hash, done bool)) error {
	for _, st := range tx.layers {
		if err := tx.prepare(st); err != nil {
			return err
		}
	}
	// The first failure cancels the layers still streaming: each stops at
	// its next read instead of expanding the rest of its data for nothing;
	// Wait returns that first failure, not the cancellations it caused.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, st := range tx.layers {
		g.Go(func() error {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if progress != nil {
				progress(st.diffID, false)
			}
			if err := tx.apply(ctx, st); err != nil {
				return err
			}
			if progress != nil {
				progress(st.diffID, true)
			}
			return nil
		})
	}
	return g.Wait()
}

// prepare creates overlay2/<cache-id>/{diff,link,[lower,work]}, the l/
// symlink and a layerdb write-set, as overlay2's Create does.
func (tx *Tx) prepare(st *staged) error {
	s := tx.s
	st.cacheID, st.link = randomID(), linkID()
	if st.parent != (v1.Hash{}) {
		var parentLink, parentLower string
		if st.newParent != nil {
			st.parentCacheID, parentLink, parentLower = st.newParent.cacheID, st.newParent.link, st.newParent.lower
		} else {
			pl, err := s.layer(st.parent)
			if err != nil {
				return err
			}
			st.parentCacheID = pl.CacheID
			if parentLink, err = s.linkOf(pl.CacheID); err != nil {
				return fmt.Errorf("layer %s: link: %w", st.parent, err)
			}
			if parentLower, err = s.lowerOf(pl.CacheID); err != nil {
				return fmt.Errorf("layer %s: %w", st.parent, err)
			}
		}
		st.lower = "l/" + parentLink
		if parentLower != "" {
			st.lower += ":" + parentLower
		}
	}
	dir := filepath.Join(s.overlayDir(), st.cacheID)
	if err := os.Mkdir(dir, 0o710); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "diff"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "link"), []byte(st.link), 0o644); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join("..", st.cacheID, "diff"), filepath.Join(s.overlayDir(), "l", st.link)); err != nil {
		return err
	}
	if st.lower != "" {
		if err := os.WriteFile(filepath.Join(dir, "lower"), []byte(st.lower), 0o644); err != nil {
			return err
		}
		if err := os.Mkdir(filepath.Join(dir, "work"), 0o700); err != nil {
			return err
		}
	}
	ws, err := os.MkdirTemp(filepath.Join(s.layerDBDir(), "tmp"), "write-set-")
	if err != nil {
		return err
	}
	st.writeSet = ws
	return nil
}

// apply streams a source layer into its diff dir, checks the diff ID the
// config promised, and fills the write-set.
func (tx *Tx) apply(ctx context.Context, st *staged) error {
	rc, err := st.source.Uncompressed()
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", st.index, st.diffID, err)
	}
	defer rc.Close()
	got, err := tx.applyStream(ctx, st, rc)
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx) // interrupted, or another layer failed first
	}
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w", st.index, st.diffID, err)
	}
	if got != st.diffID {
		return fmt.Errorf("invalid diffID for layer %d: expected %q, got %q", st.index, st.diffID, got)
	}
	return tx.writeSetFiles(st)
}

// applyStream unpacks an uncompressed layer tar into st's diff dir,
// recording tar-split in the write-set; it returns the stream's diff ID.
// The stream is read through the layer budget and ctx.
func (tx *Tx) applyStream(ctx context.Context, st *staged, r io.Reader) (v1.Hash, error) {
	ts, err := os.OpenFile(filepath.Join(st.writeSet, "tar-split.json.gz"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return v1.Hash{}, err
	}
	lr := &limitReader{ctx: ctx, r: r, budget: tx.s.budget()}
	res, err := tarball.Apply(lr, tx.s.diffPath(st.cacheID), ts, tx.opts)
	if cerr := ts.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return v1.Hash{}, err
	}
	st.size = res.Size
	return res.DiffID, nil
}

// NewLayers is the number of layers the transaction registers.
func (tx *Tx) NewLayers() int { return len(tx.layers) }

// Commit makes the staged layers and images visible: write-sets are
// renamed into layerdb in chain order (parents first), then configs are
// stored. A crash in between leaves unreferenced layers, which `check
// --repair` removes, never an image without its layers.
func (tx *Tx) Commit() (err error) {
	s := tx.s
	var registered []v1.Hash // layers renamed into layerdb, undone if a later step fails
	var newConfigs []v1.Hash
	defer func() {
		if err == nil {
			return
		}
		for _, id := range newConfigs {
			os.Remove(s.contentPath(id.Hex))
			os.RemoveAll(s.metadataDir(id.Hex))
		}
		for i := len(registered) - 1; i >= 0; i-- {
			s.removeLayer(registered[i])
		}
	}()
	if err := s.syncfs(len(tx.layers)); err != nil {
		return err
	}
	var markers []string // committed markers this commit made, undone with it
	defer func() {
		if err != nil {
			for _, m := range markers {
				os.Remove(m)
			}
		}
	}()
	for _, st := range tx.layers {
		// overlay2's "committed" marker tells a mount that the layer has
		// children; Docker writes it when it creates a child. It goes on
		// the parent before the child is registered, so that no kill can
		// leave a registered child whose parent lacks it (the next load
		// finds every layer and would not write it). A kill between the
		// two leaves a marker on a parent without a child yet: harmless,
		// as in Docker's own stores.
		if m, made, err := s.markCommitted(st.parentCacheID); err != nil {
			return err
		} else if made {
			markers = append(markers, m)
		}
		if err := os.Rename(st.writeSet, s.layerPath(st.chain.Hex)); err != nil {
			return fmt.Errorf("registering layer %s: %w", st.chain, err)
		}
		st.writeSet, st.cacheID = "", "" // registered: Abort must not touch it now
		registered = append(registered, st.chain)
	}
	if err := s.syncDir(filepath.Join(s.layerDBDir(), "sha256")); err != nil {
		return err
	}
	for _, im := range tx.images {
		id := imageid.FromBytes(im.config)
		if _, statErr := os.Stat(s.contentPath(id.Hex)); statErr != nil {
			newConfigs = append(newConfigs, id)
		}
		if _, err := s.putConfig(im.config); err != nil {
			return err
		}
		if im.parent != (v1.Hash{}) {
			if err := s.writeMetadata(id, "parent", []byte(im.parent.String())); err != nil {
				return err
			}
		}
	}
	tx.layers = nil
	return nil
}

// markCommitted writes overlay2's empty "committed" marker into the layer
// dir cacheID unless it is there; made says whether it wrote it.
func (s *Store) markCommitted(cacheID string) (path string, made bool, err error) {
	if cacheID == "" {
		return "", false, nil
	}
	path = filepath.Join(s.overlayDir(), cacheID, "committed")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return path, false, nil
	}
	if err != nil {
		return path, false, err
	}
	return path, true, f.Close()
}

// Abort removes everything the transaction staged and did not commit.
func (tx *Tx) Abort() {
	for _, st := range tx.layers {
		tx.drop(st)
	}
	tx.layers = nil
}
