package transfer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive/dir"
)

// The dir: location: containers/image's directory layout (skopeo copy …
// dir:PATH, podman save --format docker-dir). One image or index per
// directory, so a sink takes exactly one item.
func init() {
	RegisterTransport(&Transport{
		Name: "dir",
		Source: func(_ context.Context, r Ref, _ *Env) (Source, error) {
			it, err := dir.Open(r.Path)
			if err != nil {
				return nil, err
			}
			return &dirSource{items: []Item{it}}, nil
		},
		Sink: func(_ context.Context, r Ref, _ *Env) (Sink, error) { return &dirSink{path: r.Path}, nil },
	})
}

type dirSource struct{ items []Item }

func (s *dirSource) Items() []Item { return s.items }
func (s *dirSource) Close() error  { return nil }

type dirSink struct{ path string }

func (s *dirSink) Put(ctx context.Context, items []Item, opts ConvertOptions) ([]Written, error) {
	if len(items) != 1 {
		return nil, fmt.Errorf("dir:%s holds one image or index, but the source gives %d: pick one with SRC:REF", s.path, len(items))
	}
	if items[0].Image != nil && opts.Progress != nil {
		items[0].Image = wrapImage(items[0].Image, ctx, opts.Progress)
	}
	if err := dir.Write(s.path, items[0]); err != nil {
		return nil, err
	}
	out := describe(items)
	// the digest of the manifest.json written, which dir: names the image by
	if f, err := os.Open(filepath.Join(s.path, "manifest.json")); err == nil {
		out[0].Digest, _, _ = v1.SHA256(f)
		f.Close()
	}
	return out, nil
}
