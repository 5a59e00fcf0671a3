package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/imageconfig"
	"github.com/imgtool/imgtool/platform"
)

// MutateOptions say how Mutate changes an image, as crane mutate and
// crane append do.
type MutateOptions struct {
	// Changes are Dockerfile instructions applied to the config's
	// "config" object, as commit --change and import --change take them.
	Changes []string
	// Append are layer tars (uncompressed, gzip or zstd) added on top, in
	// order, each with the history entry crane append writes.
	Append []string
	// Platforms pick the image of an index (the host's when empty).
	Platforms []v1.Platform
}

// Mutate reads the one image src names (an index's image for the host's
// platform, or opts.Platforms'), changes it without a container, and puts
// the result into dst under dst's :REF (untagged without one). The source
// may be the store while dst is too: the store image is read without the
// shared lock, since the store sink takes the writer lock.
func Mutate(ctx context.Context, src, dst Ref, env *Env, opts MutateOptions, copts ConvertOptions) ([]Written, error) {
	dt, ok := LookupTransport(dst.Transport)
	if !ok || dt.Sink == nil {
		return nil, fmt.Errorf("%s: the %s transport cannot be written", dst, dst.Transport)
	}
	img, closeSrc, err := mutateSource(ctx, src, env, opts.Platforms)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	out, err := mutateImage(img, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	items := []Item{{Image: out, Platform: platformOf(out)}}
	if items, err = rename(items, dst, dt); err != nil {
		return nil, err
	}
	sink, err := dt.Sink(ctx, dst, env)
	if err != nil {
		return nil, err
	}
	return sink.Put(ctx, items, copts)
}

// mutateSource opens src and picks its one image.
func mutateSource(ctx context.Context, src Ref, env *Env, want []v1.Platform) (v1.Image, func() error, error) {
	if src.Transport == "store" {
		st, err := env.Store()
		if err != nil {
			return nil, nil, err
		}
		items, err := Selected(st, []string{src.Name})
		if err != nil {
			return nil, nil, err
		}
		return items[0].Image, func() error { return nil }, nil
	}
	source, items, err := Open(ctx, src, env, ConvertOptions{Platforms: want}, true)
	if err != nil {
		return nil, nil, err
	}
	if len(items) != 1 {
		source.Close()
		return nil, nil, fmt.Errorf("%s holds %d images (%s): name one with %s:REF", src, len(items), listItems(items), src)
	}
	if items[0].Image != nil {
		return items[0].Image, source.Close, nil
	}
	pis, err := archive.IndexImages(items[0].Index)
	if err == nil && len(pis) == 0 {
		host := platform.Host()
		err = fmt.Errorf("the index holds no image for %s", platform.String(&host))
	}
	if err != nil {
		source.Close()
		return nil, nil, fmt.Errorf("%s: %w", src, err)
	}
	return pis[0].Image, source.Close, nil
}

func platformOf(img v1.Image) *v1.Platform {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil
	}
	return platform.Of(cf)
}

// mutateImage appends the layers with ggcr's mutate (it gives the
// manifest), then sets the config edited from the source's own bytes, so
// keys ggcr's ConfigFile does not know (container_config, …) stay.
func mutateImage(img v1.Image, opts MutateOptions) (v1.Image, error) {
	if len(opts.Changes) == 0 && len(opts.Append) == 0 {
		return nil, errors.New("nothing to change: give -c/--change or --append")
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	var diffIDs []v1.Hash
	for _, p := range opts.Append {
		l, err := appendLayer(p, mt)
		if err != nil {
			return nil, err
		}
		d, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("--append %s: %v", p, err)
		}
		adds = append(adds, mutate.Addendum{Layer: l})
		diffIDs = append(diffIDs, d)
	}
	withLayers, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cfg, err := MutatedConfig(raw, opts.Changes, diffIDs)
	if err != nil {
		return nil, err
	}
	return withRawConfig(withLayers, cfg)
}

// appendLayer reads a layer tar once (fileLayer): plain, gzip or zstd,
// typed in the base manifest's family (Docker or OCI).
func appendLayer(path string, base types.MediaType) (v1.Layer, error) {
	l, err := newFileLayer(path, base)
	if err != nil {
		return nil, fmt.Errorf("--append %s: %v", path, err)
	}
	return l, nil
}

// MutatedConfig edits an image config minimally: the changes applied to
// its "config" object (Docker's container.Config shape, as commit writes
// it), the added diff IDs appended to rootfs.diff_ids, each with a history
// entry as crane append writes it ({"created":"0001-01-01T00:00:00Z"}).
// Every other key is kept as it was; top-level keys come out sorted, as
// Docker's image.Image.MarshalJSON writes them.
func MutatedConfig(raw []byte, changes []string, added []v1.Hash) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("invalid image config: %v", err)
	}
	if top == nil {
		return nil, errors.New("invalid image config: not a JSON object")
	}
	if len(changes) > 0 {
		cc, err := imageconfig.ParseContainerConfig(raw)
		if err != nil {
			return nil, err
		}
		if err := imageconfig.ApplyChanges(cc, changes); err != nil {
			return nil, err
		}
		if top["config"], err = json.Marshal(cc); err != nil {
			return nil, err
		}
	}
	if len(added) > 0 {
		if err := appendRootFS(top, added); err != nil {
			return nil, err
		}
	}
	return json.Marshal(top)
}

func appendRootFS(top map[string]json.RawMessage, added []v1.Hash) error {
	rootfs := map[string]json.RawMessage{"type": json.RawMessage(`"layers"`)}
	if r, ok := top["rootfs"]; ok && !bytes.Equal(r, []byte("null")) {
		if err := json.Unmarshal(r, &rootfs); err != nil {
			return fmt.Errorf("config rootfs: %w", err)
		}
	}
	var ids []string
	if r, ok := rootfs["diff_ids"]; ok && !bytes.Equal(r, []byte("null")) {
		if err := json.Unmarshal(r, &ids); err != nil {
			return fmt.Errorf("config rootfs.diff_ids: %w", err)
		}
	}
	var history []json.RawMessage
	if r, ok := top["history"]; ok && !bytes.Equal(r, []byte("null")) {
		if err := json.Unmarshal(r, &history); err != nil {
			return fmt.Errorf("config history: %w", err)
		}
	}
	for _, d := range added {
		ids = append(ids, d.String())
		history = append(history, json.RawMessage(`{"created":"0001-01-01T00:00:00Z"}`))
	}
	var err error
	if rootfs["diff_ids"], err = json.Marshal(ids); err != nil {
		return err
	}
	if top["rootfs"], err = marshalRootFS(rootfs); err != nil {
		return err
	}
	top["history"], err = json.Marshal(history)
	return err
}
