package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// tx stages blobs in the content store and records them, with their GC
// labels and a moby-dangling@ image record per new image, in one bolt
// transaction at Commit. Abort removes the blob files it created.
type tx struct {
	s         *Store
	blobs     []stagedBlob
	created   []string // blob files this tx created
	targets   []descriptor
	newLayers int
	labelAll  bool                      // AddIndex labels every child of an index
	layers    map[v1.Hash]v1.Descriptor // diff ID -> blob, for AddConfig
	done      bool
}

type stagedBlob struct {
	digest string
	size   int64
	labels map[string]string
}

func (t *tx) stage(dgst string, size int64, created bool, labels map[string]string) {
	t.blobs = append(t.blobs, stagedBlob{digest: dgst, size: size, labels: labels})
	if created {
		p, _ := t.s.blobPath(dgst)
		t.created = append(t.created, p)
	}
}

func (t *tx) putBytes(b []byte, labels map[string]string) (string, error) {
	d, created, err := t.s.ingestBytes(b)
	if err != nil {
		return "", err
	}
	t.stage(d, int64(len(b)), created, labels)
	return d, nil
}

// AddImage stages an image as its manifest names it: config, layer blobs
// as they come (compressed or not), the manifest. Its ID is the manifest
// digest.
func (t *tx) AddImage(img v1.Image, _ v1.Hash) (v1.Hash, error) {
	d, err := t.stageImage(img)
	if err != nil {
		return v1.Hash{}, err
	}
	t.targets = append(t.targets, d)
	return v1.NewHash(d.Digest)
}

// stageImage stages an image's blobs and manifest, without an image
// record (the child of an index, or AddImage's target).
func (t *tx) stageImage(img v1.Image) (descriptor, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return descriptor{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return descriptor{}, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return descriptor{}, err
	}
	if got := digestOf(config); got != m.Config.Digest.String() {
		return descriptor{}, fmt.Errorf("config hashes to %s, the manifest says %s", got, m.Config.Digest)
	}
	if _, err := t.putBytes(config, nil); err != nil {
		return descriptor{}, err
	}
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return descriptor{}, err
	}
	if len(diffIDs) != len(m.Layers) {
		return descriptor{}, fmt.Errorf("manifest has %d layers, the config %d diff_ids", len(m.Layers), len(diffIDs))
	}
	for i, d := range m.Layers {
		if err := t.addBlobLayer(img, d, diffIDs[i]); err != nil {
			return descriptor{}, fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	dgst, err := t.putBytes(raw, gcLabels(m))
	if err != nil {
		return descriptor{}, err
	}
	mt := string(m.MediaType)
	if mt == "" {
		mt = string(types.OCIManifestSchema1)
	}
	return descriptor{Digest: dgst, MediaType: mt, Size: int64(len(raw))}, nil
}

func (t *tx) addBlobLayer(img v1.Image, d v1.Descriptor, diffID v1.Hash) error {
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return err
	}
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	// The blob is checked against its digest by ingest and, uncompressed
	// on the way, against the config's diff ID, as containerd's unpack
	// would check it later: a wrong layer is refused now, not on first use.
	pr, pw := io.Pipe()
	got := make(chan diffResult, 1)
	go func() { got <- hashUncompressed(pr) }()
	dgst, size, created, err := t.s.ingest(io.TeeReader(rc, pw), d.Digest.String())
	pw.CloseWithError(err)
	res := <-got
	if created {
		p, _ := t.s.blobPath(dgst)
		t.created = append(t.created, p)
	}
	if err != nil {
		return err
	}
	if res.err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, res.err)
	}
	if res.diffID != diffID {
		return fmt.Errorf("blob %s: uncompressed content hashes to %s, the config's diff_id is %s", d.Digest, res.diffID, diffID)
	}
	if created {
		t.newLayers++
	}
	t.blobs = append(t.blobs, stagedBlob{digest: dgst, size: size})
	return nil
}

type diffResult struct {
	diffID v1.Hash
	err    error
}

// hashUncompressed hashes a layer blob's uncompressed stream (draining r,
// so that the writer feeding it never blocks).
func hashUncompressed(r *io.PipeReader) diffResult {
	defer io.Copy(io.Discard, r)
	dr, _, err := tarball.Decompress(r)
	if err != nil {
		return diffResult{err: err}
	}
	defer dr.Close()
	h := sha256.New()
	if _, err := io.Copy(h, dr); err != nil {
		return diffResult{err: err}
	}
	return diffResult{diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}}
}

// gcLabels are the labels containerd's collector follows from a manifest
// to its config and layers (containerd's images.ChildGCLabels).
func gcLabels(m *v1.Manifest) map[string]string {
	labels := map[string]string{"containerd.io/gc.ref.content.config": m.Config.Digest.String()}
	for i, l := range m.Layers {
		labels[fmt.Sprintf("containerd.io/gc.ref.content.l.%d", i)] = l.Digest.String()
	}
	return labels
}

// AddLayer stages an uncompressed layer tar (import, commit): its digest
// is its diff ID.
func (t *tx) AddLayer(r io.Reader, parent v1.Hash) (v1.Hash, v1.Hash, error) {
	dgst, size, created, err := t.s.ingest(r, "")
	if err != nil {
		return v1.Hash{}, v1.Hash{}, err
	}
	if created {
		t.newLayers++
	}
	t.stage(dgst, size, created, nil)
	diffID, err := v1.NewHash(dgst)
	if err != nil {
		return v1.Hash{}, v1.Hash{}, err
	}
	if t.layers == nil {
		t.layers = map[v1.Hash]v1.Descriptor{}
	}
	t.layers[diffID] = v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: diffID, Size: size}
	chain := diffID
	if parent != (v1.Hash{}) {
		chain = imageid.ChainIDs([]v1.Hash{parent, diffID})[1]
	}
	return diffID, chain, nil
}

// AddConfig stages a config and an OCI manifest over layers staged by
// AddLayer or stored in any image of the namespace.
func (t *tx) AddConfig(config []byte, _ v1.Hash) (v1.Hash, error) {
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return v1.Hash{}, err
	}
	known := t.s.layerBlobs()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: imageid.FromBytes(config), Size: int64(len(config))}}
	for _, d := range diffIDs {
		desc, ok := t.layers[d]
		if !ok {
			if desc, ok = known[d]; !ok {
				return v1.Hash{}, fmt.Errorf("config rootfs: layer %s is in no image of the containerd store", d)
			}
		}
		m.Layers = append(m.Layers, desc)
	}
	if _, err := t.putBytes(config, nil); err != nil {
		return v1.Hash{}, err
	}
	raw := marshal(m)
	dgst, err := t.putBytes(raw, gcLabels(&m))
	if err != nil {
		return v1.Hash{}, err
	}
	t.targets = append(t.targets, descriptor{Digest: dgst, MediaType: string(m.MediaType), Size: int64(len(raw))})
	return v1.NewHash(dgst)
}

// layerBlobs maps the diff IDs of every stored image to their blobs.
func (s *Store) layerBlobs() map[v1.Hash]v1.Descriptor {
	out := map[v1.Hash]v1.Descriptor{}
	all, err := s.targets()
	if err != nil {
		return out
	}
	for _, recs := range all {
		if r, err := s.resolve(recs[0].Target); err == nil {
			for i, d := range r.diffIDs {
				out[d] = r.parsed.Layers[i]
			}
		}
	}
	return out
}

// Extract: the containerd store keeps blobs; containerd unpacks on first use.
func (t *tx) Extract(context.Context, func(v1.Hash, bool)) error { return nil }
func (t *tx) NewLayers() int                                     { return t.newLayers }

// Commit records the staged blobs and gives every new target without an
// image record a moby-dangling@ one, in one bolt transaction.
func (t *tx) Commit() error {
	now := time.Now().UTC()
	err := t.s.update(func(btx *bolt.Tx) error {
		for _, b := range t.blobs {
			if err := writeBlob(btx, t.s.ns(), b.digest, b.size, b.labels, now); err != nil {
				return err
			}
		}
		recs, err := readImages(btx, t.s.ns())
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, r := range recs {
			have[r.Target.Digest] = true
		}
		for _, d := range t.targets {
			if have[d.Digest] {
				continue
			}
			rec := imageRecord{Name: danglingPrefix + d.Digest, Target: d, Created: now, Updated: now}
			if err := writeImage(btx, t.s.ns(), rec); err != nil {
				return err
			}
			have[d.Digest] = true
		}
		return nil
	})
	if err == nil {
		t.done = true
	}
	return err
}

// Abort removes the blob files this transaction created.
func (t *tx) Abort() {
	if t.done {
		return
	}
	t.done = true
	for _, p := range t.created {
		os.Remove(p)
	}
}
