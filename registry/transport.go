package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/transfer"
)

// The docker:// transport: convert (and anything else that resolves
// transports) reads from and writes to registries through it.
func init() {
	transfer.RegisterTransport(&transfer.Transport{
		Name: "docker",
		Split: func(arg string) (string, string, error) {
			ref, ok := strings.CutPrefix(arg, "//")
			if !ok || ref == "" {
				return "", "", fmt.Errorf("docker transport: want docker://REF, got docker:%s", arg)
			}
			return ref, "", nil
		},
		Source: func(ctx context.Context, r transfer.Ref, env *transfer.Env) (transfer.Source, error) {
			rem, err := Source(ctx, r.Path, Options{AllPlatforms: true})
			if err != nil {
				return nil, err
			}
			return remoteSource{rem}, nil
		},
		Sink: func(ctx context.Context, r transfer.Ref, env *transfer.Env) (transfer.Sink, error) {
			return registrySink{ref: r.Path}, nil
		},
	})
}

type remoteSource struct{ rem *Remote }

func (s remoteSource) Items() []item.Item {
	var out []item.Item
	for _, e := range s.rem.Images() {
		out = append(out, item.Item{Image: e.Image, Tags: e.Tags, Platform: e.Platform, Digest: e.Digest})
	}
	return out
}

func (s remoteSource) Close() error { return s.rem.Close() }

type registrySink struct{ ref string }

// Put pushes the items under the sink's reference: one image as itself,
// an index whole, several images as a new index of their platforms.
func (s registrySink) Put(ctx context.Context, items []item.Item, opts transfer.ConvertOptions) ([]transfer.Written, error) {
	ropts := Options{Jobs: opts.Jobs}
	var res *PushResult
	var err error
	switch {
	case len(items) == 1 && items[0].Index != nil:
		res, err = PushIndex(ctx, s.ref, items[0].Index, ropts)
	case len(items) >= 1:
		entries := make([]item.Item, 0, len(items))
		for _, it := range items {
			if it.Image == nil {
				return nil, errors.New("docker transport: cannot push an index together with other items")
			}
			entries = append(entries, item.Item{Image: it.Image, Tags: it.Tags, Platform: it.Platform})
		}
		res, err = PushEntries(ctx, s.ref, entries, ropts)
	default:
		return nil, fmt.Errorf("push %s: nothing to push", s.ref)
	}
	if err != nil {
		return nil, err
	}
	w := transfer.Written{Tags: []string{s.ref}, Digest: res.Digest}
	if len(items) == 1 && items[0].Image != nil {
		if id, err := items[0].Image.ConfigName(); err == nil {
			w.ID = id
		}
	}
	return []transfer.Written{w}, nil
}
