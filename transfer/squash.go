package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/progress"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// SquashSource is an image to flatten: its config bytes, its ID (the
// sha256 of those bytes) and its layers, bottom first, as flatten layers.
type SquashSource struct {
	ID     v1.Hash
	Config []byte
	Layers []flatten.Layer
}

// SquashSourceFromImage flattens any v1.Image (an archive's, an OCI
// layout's) by reading each layer's uncompressed tar: Flatten opens each
// layer at most twice, once for headers and once for the content it keeps.
func SquashSourceFromImage(img v1.Image) (*SquashSource, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	src := &SquashSource{ID: imageid.FromBytes(raw), Config: raw}
	for _, l := range ls {
		src.Layers = append(src.Layers, flatten.TarLayer(verifiedUncompressed(l)))
	}
	return src, nil
}

// verifiedUncompressed opens a layer's tar checked against its diff_id
// (flatten reads each layer to its end, so the check always runs).
func verifiedUncompressed(l v1.Layer) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		want, err := l.DiffID()
		if err != nil {
			return nil, err
		}
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		return tarball.VerifyReader(rc, want, func(got v1.Hash) error {
			return fmt.Errorf("layer %s: content does not match its diff_id (got %s)", want, got)
		}), nil
	}
}

// SquashSourceFromStore flattens a store image, its layers read as
// ExportImage reads them (storeImageLayers).
func SquashSourceFromStore(st store.Store, img store.Image) (*SquashSource, error) {
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := storeImageLayers(st, img)
	if err != nil {
		return nil, err
	}
	return &SquashSource{ID: img.ID(), Config: raw, Layers: layers}, nil
}

// SquashOptions control a flatten.
type SquashOptions struct {
	// Created is the history entry's "created" (e.g. from SOURCE_DATE_EPOCH);
	// the zero value means the source config's "created".
	Created time.Time
	// TempDir holds flatten's spill files and, for archive output, the
	// spooled layer ("" = os.TempDir()).
	TempDir string
	// Progress, if set, counts the flattened layer's tar as it is written.
	Progress progress.Reporter
}

// Squashed is the result of a flatten.
type Squashed struct {
	ID     v1.Hash // image ID of the flattened image
	DiffID v1.Hash // its single layer
	Config []byte
}

// historyEntry is Docker's image History in its field order.
type historyEntry struct {
	Created   json.RawMessage `json:"created"`
	CreatedBy string          `json:"created_by,omitempty"`
	Comment   string          `json:"comment,omitempty"`
}

// SquashConfig edits a source config minimally for its flattened image:
// rootfs.diff_ids becomes [diffID] and history one entry saying so; every
// other key is kept as it was. The top-level keys come out sorted and values
// compacted with HTML escaping, as Docker's image.Image.MarshalJSON writes
// them, so the result is deterministic.
func SquashConfig(src []byte, srcID, diffID v1.Hash, created time.Time) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return nil, fmt.Errorf("invalid image JSON: %w", err)
	}
	if top == nil {
		return nil, errors.New("invalid image JSON: not an object")
	}
	rootfs := map[string]json.RawMessage{}
	if raw, ok := top["rootfs"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &rootfs); err != nil {
			return nil, fmt.Errorf("config rootfs: %w", err)
		}
	}
	if _, ok := rootfs["type"]; !ok {
		rootfs["type"] = json.RawMessage(`"layers"`)
	}
	ids, _ := json.Marshal([]string{diffID.String()})
	rootfs["diff_ids"] = ids
	rb, err := marshalRootFS(rootfs)
	if err != nil {
		return nil, err
	}
	top["rootfs"] = rb

	var createdRaw json.RawMessage
	switch {
	case !created.IsZero():
		createdRaw, _ = json.Marshal(created.UTC().Format(time.RFC3339Nano))
	default:
		var s string
		if raw, ok := top["created"]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			createdRaw = raw
		} else {
			createdRaw = json.RawMessage(`"1970-01-01T00:00:00Z"`)
		}
	}
	hb, err := json.Marshal([]historyEntry{{
		Created:   createdRaw,
		CreatedBy: "imgtool flatten",
		Comment:   "flattened from " + srcID.String(),
	}})
	if err != nil {
		return nil, err
	}
	top["history"] = hb
	return json.Marshal(top)
}

// marshalRootFS writes rootfs in Docker's RootFS field order (type,
// diff_ids), any other keys after them, sorted.
func marshalRootFS(m map[string]json.RawMessage) (json.RawMessage, error) {
	keys := []string{"type", "diff_ids"}
	var rest []string
	for k := range m {
		if k != "type" && k != "diff_ids" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range append(keys, rest...) {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(m[k])
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Compact(&out, b.Bytes()); err != nil {
		return nil, fmt.Errorf("config rootfs: %w", err)
	}
	return out.Bytes(), nil
}

// SquashToStore flattens src into a one-layer image in st and tags it. The
// merged tar streams from flatten.Flatten into the store's layer
// registration through a pipe: one pass, memory bounded by the tree of
// entries, not by their content. The caller holds st's writer lock (which
// also covers reading a source that lives in st).
func SquashToStore(st store.Store, src *SquashSource, tags []name.Reference, opts SquashOptions) (*Squashed, error) {
	tx := st.Begin()
	defer tx.Abort()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		cw := progress.Writer(pw, progress.Start(opts.Progress, squashTask(src), 0))
		err := flatten.Flatten(cw, src.Layers, flatten.Options{TempDir: opts.TempDir})
		cw.Finish(err)
		pw.CloseWithError(err)
		done <- err
	}()
	diffID, _, err := tx.AddLayer(pr, v1.Hash{})
	pr.CloseWithError(errors.New("layer registration stopped reading"))
	if ferr := <-done; ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, fmt.Errorf("registering the flattened layer: %w", err)
	}
	cfg, err := SquashConfig(src.Config, src.ID, diffID, opts.Created)
	if err != nil {
		return nil, err
	}
	id, err := tx.AddConfig(cfg, v1.Hash{})
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		if _, err := store.SetTags(st.Refs(), id, tags, true); err != nil {
			return nil, err
		}
	}
	return &Squashed{ID: id, DiffID: diffID, Config: cfg}, nil
}

// SquashToArchive flattens src and writes the one-layer image to w with
// archive.Write (aopts.Format; Docker's save form by default). The layer is
// spooled once to a temp file while its diff ID is computed, since the
// config that names it comes first in the archive's layout.
func SquashToArchive(w io.Writer, src *SquashSource, tags []name.Tag, opts SquashOptions) (*Squashed, error) {
	aopts := archive.Options{Format: archive.Docker, Epoch: opts.Created}
	f, err := os.CreateTemp(opts.TempDir, "imgtool-flatten-layer-")
	if err != nil {
		return nil, err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	h := sha256.New()
	cw := &tarball.CountingWriter{W: io.MultiWriter(f, h)}
	pw := progress.Writer(cw, progress.Start(opts.Progress, squashTask(src), 0))
	err = flatten.Flatten(pw, src.Layers, flatten.Options{TempDir: opts.TempDir})
	pw.Finish(err)
	if err != nil {
		return nil, err
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	cfg, err := SquashConfig(src.Config, src.ID, diffID, opts.Created)
	if err != nil {
		return nil, err
	}
	img := &squashedImage{config: cfg, layer: &squashLayerFile{path: f.Name(), size: cw.N, diffID: diffID}}
	if err := archive.Write(w, []item.Item{{Image: img, Tags: tags}}, aopts); err != nil {
		return nil, err
	}
	return &Squashed{ID: imageid.FromBytes(cfg), DiffID: diffID, Config: cfg}, nil
}

// squashLayerFile is an uncompressed layer tar in a temp file.
type squashLayerFile struct {
	path   string
	size   int64
	diffID v1.Hash
}

func (l *squashLayerFile) Digest() (v1.Hash, error)             { return l.diffID, nil }
func (l *squashLayerFile) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *squashLayerFile) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *squashLayerFile) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l *squashLayerFile) Size() (int64, error)                 { return l.size, nil }
func (l *squashLayerFile) UncompressedSize() (int64, bool)      { return l.size, true }
func (l *squashLayerFile) MediaType() (types.MediaType, error) {
	return types.OCIUncompressedLayer, nil
}

// squashedImage is the flattened image: a config and one layer.
type squashedImage struct {
	config []byte
	layer  *squashLayerFile
}

var _ v1.Image = (*squashedImage)(nil)

func (i *squashedImage) Layers() ([]v1.Layer, error)         { return []v1.Layer{i.layer}, nil }
func (i *squashedImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *squashedImage) ConfigName() (v1.Hash, error)        { return imageid.FromBytes(i.config), nil }
func (i *squashedImage) RawConfigFile() ([]byte, error)      { return bytes.Clone(i.config), nil }
func (i *squashedImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.config))
}

func (i *squashedImage) RawManifest() ([]byte, error) {
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(i.config)),
			Digest: imageid.FromBytes(i.config)},
		Layers: []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: i.layer.size, Digest: i.layer.diffID}},
	}
	return json.Marshal(m)
}

func (i *squashedImage) Manifest() (*v1.Manifest, error) {
	b, err := i.RawManifest()
	if err != nil {
		return nil, err
	}
	return v1.ParseManifest(bytes.NewReader(b))
}

func (i *squashedImage) Digest() (v1.Hash, error) {
	b, err := i.RawManifest()
	if err != nil {
		return v1.Hash{}, err
	}
	return imageid.FromBytes(b), nil
}

func (i *squashedImage) Size() (int64, error) {
	b, err := i.RawManifest()
	return int64(len(b)), err
}

func (i *squashedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) { return i.LayerByDiffID(h) }
func (i *squashedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	if h == i.layer.diffID {
		return i.layer, nil
	}
	return nil, fmt.Errorf("no layer %s", h)
}

// SquashInput is a resolved flatten SRC; Close releases an opened archive.
type SquashInput struct {
	Image v1.Image    // set for archive and layout sources
	Store store.Image // set for store sources
	src   Source
}

// Close releases the archive the input came from, if any.
func (in *SquashInput) Close() error {
	if in.src != nil {
		return in.src.Close()
	}
	return nil
}

// Source returns the flatten source for in.
func (in *SquashInput) Source(st store.Store) (*SquashSource, error) {
	if in.Store != nil {
		return SquashSourceFromStore(st, in.Store)
	}
	return SquashSourceFromImage(in.Image)
}

// ResolveSquashInput resolves flatten's SRC with convert's transports
// (ParseRef): docker-archive:PATH[:REF], oci-archive:PATH[:REF],
// oci:DIR[:REF], or a store reference (store:REF or a plain tag, ID or ID
// prefix). A store image is resolved here, without the store source's
// shared lock, because the caller already holds the store's lock (the
// writer lock when the result goes into the store). A source holding
// several images needs :REF; an index yields the host's platform.
func ResolveSquashInput(ctx context.Context, st store.Store, arg string, env *Env) (*SquashInput, error) {
	ref, err := ResolveSource(arg, env)
	if err != nil {
		return nil, err
	}
	if ref.Transport == "store" {
		id, err := st.Refs().Resolve(ref.Name)
		if err != nil {
			return nil, err
		}
		img, err := st.Images().Get(id)
		if err != nil {
			return nil, err
		}
		return &SquashInput{Store: img}, nil
	}
	src, items, err := Open(ctx, ref, env, ConvertOptions{}, true)
	if err != nil {
		return nil, err
	}
	in, err := pickSquashImage(items, arg)
	if err != nil {
		src.Close()
		return nil, err
	}
	in.src = src
	return in, nil
}

// pickSquashImage takes the one image Select left: a plain image, or the
// host's platform of an index.
func pickSquashImage(items []Item, arg string) (*SquashInput, error) {
	if len(items) != 1 {
		return nil, fmt.Errorf("%s holds %d images: pick one with %s:REF", arg, len(items), arg)
	}
	it := items[0]
	if it.Image != nil {
		return &SquashInput{Image: it.Image}, nil
	}
	pis, err := archive.IndexImages(it.Index)
	if err != nil {
		return nil, err
	}
	if host := platform.Host(); len(pis) == 0 {
		return nil, fmt.Errorf("%s: the index holds no image for %s", arg, platform.String(&host))
	}
	return &SquashInput{Image: pis[0].Image}, nil
}

// squashTask names flatten's one progress task after the source image.
func squashTask(src *SquashSource) string {
	if len(src.ID.Hex) < 12 {
		return "layer"
	}
	return "layer of " + src.ID.Hex[:12]
}
