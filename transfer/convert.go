package transfer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/tarball"
)

// ConvertOptions control a convert.
type ConvertOptions struct {
	// Platforms keeps only these platforms of an index (attestations are
	// dropped with them). Empty: every platform, except that a
	// single-platform sink (the store) takes the host's.
	Platforms []v1.Platform
	// AllPlatforms keeps every platform, even for a single-platform sink.
	AllPlatforms bool
	// SkipMissingPlatforms drops platforms whose blobs the source lacks
	// instead of failing.
	SkipMissingPlatforms bool

	// Keep copies layer blobs as stored (no --compress given); otherwise
	// OCI sinks write layers with Compression at Level.
	Keep        bool
	Compression tarball.Compression
	Level       int
	Epoch       time.Time
	Jobs        int
	// Legacy makes docker-archive sinks write Docker ≤24's layout.
	Legacy bool
	// Skipped, if set, is told about each platform dropped for missing blobs.
	Skipped func(platform string, digest v1.Hash)
}

// openItems opens a source and keeps the item its :REF selects (all items
// when there is none; the store resolves its own reference).
func openItems(ctx context.Context, t *Transport, ref Ref, env *Env, src string) (Source, []item.Item, error) {
	source, err := t.Source(ctx, ref, env)
	if err != nil {
		return nil, nil, err
	}
	items := source.Items()
	if ref.Name != "" && t.Name != "store" {
		it, err := SelectItem(items, ref.Name)
		if err != nil {
			source.Close()
			return nil, nil, fmt.Errorf("%s: %w", src, err)
		}
		items = []item.Item{it}
	}
	return source, items, nil
}

// Convert copies SRC to DST (see ParseRef), through v1.Image/v1.ImageIndex:
// every item of the source, or the one SRC's :REF selects (a tag, ref
// name, @sha256: digest or 0-based index number). DST's :REF renames a
// single item.
func Convert(ctx context.Context, src, dst string, env *Env, opts ConvertOptions) ([]Written, error) {
	sref, err := ParseRef(src)
	if err != nil {
		return nil, err
	}
	dref, err := ParseRef(dst)
	if err != nil {
		return nil, err
	}
	st, _ := LookupTransport(sref.Transport)
	dt, _ := LookupTransport(dref.Transport)
	if st.Source == nil {
		return nil, fmt.Errorf("%s: the %s transport cannot be read", src, st.Name)
	}
	if dt.Sink == nil {
		return nil, fmt.Errorf("%s: the %s transport cannot be written", dst, dt.Name)
	}
	if st.Name == "store" && dt.Name == "store" {
		return nil, errors.New("source and destination are both the store: use `imgtool tag`")
	}
	if sref.Path != "" && sref.Path == dref.Path && sref.Path != "-" {
		return nil, fmt.Errorf("%s and %s are the same path", src, dst)
	}
	source, items, err := openItems(ctx, st, sref, env, src)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no images", src)
	}
	if dref.Name != "" {
		if len(items) != 1 {
			return nil, fmt.Errorf("%s names one image, but %s holds %d: pick one with %s:REF", dst, src, len(items), src)
		}
		it := items[0]
		it.Tags, it.RefNames = nil, nil
		if t, err := reference.ParseNamedTagged(dref.Name); err == nil {
			it.Tags = []name.Tag{t}
		} else if dt.Name == "oci" || dt.Name == "oci-archive" {
			it.RefNames = []string{dref.Name} // a bare OCI ref name such as "latest"
		} else if t, err := reference.ParseTag(dref.Name); err == nil {
			it.Tags = []name.Tag{t}
		} else {
			return nil, fmt.Errorf("%s: %v", dst, err)
		}
		items = []item.Item{it}
	}
	items, err = FilterPlatforms(items, opts, dt.SinglePlatform)
	if err != nil {
		return nil, err
	}
	sink, err := dt.Sink(ctx, dref, env)
	if err != nil {
		return nil, err
	}
	return sink.Put(ctx, items, opts)
}

// SelectItem picks one item by a 0-based index number, a digest
// (@sha256:…, sha256:…; a manifest, index, image ID or a platform
// manifest inside an index), an OCI ref name, or a tag.
func SelectItem(items []item.Item, sel string) (item.Item, error) {
	if d := strings.TrimPrefix(sel, "@"); strings.HasPrefix(d, "sha256:") || strings.HasPrefix(d, "sha512:") {
		h, err := v1.NewHash(d)
		if err != nil {
			return item.Item{}, fmt.Errorf("invalid digest %q: %v", d, err)
		}
		for _, it := range items {
			if it.Digest == h {
				return it, nil
			}
			if it.Image != nil {
				if id, err := it.Image.ConfigName(); err == nil && id == h {
					return it, nil
				}
				continue
			}
			if pis, err := platformImagesLenient(it.Index); err == nil {
				for _, pi := range pis {
					if pi.Digest == h {
						return item.Item{Image: pi.Image, Tags: it.Tags, RefNames: it.RefNames, Digest: h, Platform: pi.Platform}, nil
					}
				}
			}
		}
		return item.Item{}, fmt.Errorf("no image or index with digest %s", h)
	}
	// OCI ref names first (as skopeo's oci: transport), then full tags
	var hits []int
	for i, it := range items {
		match := containsStr(it.RefNames, sel)
		for _, t := range it.Tags {
			match = match || t.TagStr() == sel && it.Digest != (v1.Hash{})
		}
		if match {
			hits = append(hits, i)
		}
	}
	if len(hits) == 0 {
		if t, err := reference.ParseTag(sel); err == nil && strings.Contains(sel, ":") {
			for i, it := range items {
				for _, have := range it.Tags {
					if reference.FullyQualified(have) == reference.FullyQualified(t) {
						hits = append(hits, i)
						break
					}
				}
			}
		}
	}
	if len(hits) == 1 {
		return items[hits[0]], nil
	}
	if len(hits) > 1 {
		return item.Item{}, fmt.Errorf("%q names %d images (%s); pick one by number or digest", sel, len(hits), listItems(items))
	}
	if n, err := strconv.Atoi(sel); err == nil {
		if n < 0 || n >= len(items) {
			return item.Item{}, fmt.Errorf("no image number %d (the source holds %d, numbered from 0)", n, len(items))
		}
		return items[n], nil
	}
	if t, err := reference.ParseTag(sel); err == nil {
		for _, it := range items {
			for _, have := range it.Tags {
				if reference.FullyQualified(have) == reference.FullyQualified(t) {
					return it, nil
				}
			}
		}
	}
	return item.Item{}, fmt.Errorf("no image named %q (the source holds: %s)", sel, listItems(items))
}

func listItems(items []item.Item) string {
	var names []string
	for i, it := range items {
		ns := []string{}
		for _, t := range it.Tags {
			ns = append(ns, reference.Familiar(t))
		}
		for _, n := range it.RefNames {
			if !containsStr(ns, n) {
				ns = append(ns, n)
			}
		}
		if len(ns) == 0 {
			ns = []string{"untagged"}
		}
		d := it.Digest
		if d == (v1.Hash{}) && it.Image != nil {
			d, _ = it.Image.ConfigName()
		}
		names = append(names, fmt.Sprintf("%d=%s %s", i, strings.Join(ns, ","), d))
	}
	return strings.Join(names, "; ")
}

// platformImagesLenient lists an index's images that are present.
func platformImagesLenient(idx v1.ImageIndex) ([]item.Item, error) {
	f, _, err := archive.FilterIndex(idx, func(parent v1.ImageIndex, d v1.Descriptor) (bool, error) {
		_, err := parent.Image(d.Digest)
		return err == nil, nil
	})
	if err != nil {
		return nil, err
	}
	return archive.IndexImages(f)
}

// FilterPlatforms applies the platform options to every index item: it
// keeps the asked platforms (the host's for a single-platform sink when
// none are asked and not AllPlatforms), and fails on a kept platform
// whose blobs are absent, naming it, unless SkipMissingPlatforms.
func FilterPlatforms(items []item.Item, opts ConvertOptions, singlePlatform bool) ([]item.Item, error) {
	wanted := opts.Platforms
	if len(wanted) == 0 && singlePlatform && !opts.AllPlatforms {
		wanted = []v1.Platform{platform.Host()}
	}
	var out []item.Item
	for _, it := range items {
		if it.Index == nil {
			out = append(out, it)
			continue
		}
		var seen []string
		keep := func(parent v1.ImageIndex, d v1.Descriptor) (bool, error) {
			if len(wanted) > 0 {
				if archive.IsAttestation(d) {
					return false, nil
				}
				p := d.Platform
				if p == nil {
					img, err := parent.Image(d.Digest)
					if err != nil {
						return false, nil
					}
					cf, err := img.ConfigFile()
					if err != nil {
						return false, nil
					}
					p = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
				}
				seen = append(seen, platform.String(p))
				if !platform.Matches(*p, wanted) {
					return false, nil
				}
			}
			img, err := parent.Image(d.Digest)
			if err == nil {
				err = archive.CheckImage(img)
			}
			if err != nil {
				if !errors.Is(err, archive.ErrMissing) {
					return false, err
				}
				what := "platform " + platform.String(d.Platform)
				if archive.IsAttestation(d) {
					what = "attestation manifest"
				}
				if opts.SkipMissingPlatforms {
					if opts.Skipped != nil {
						opts.Skipped(what, d.Digest)
					}
					return false, nil
				}
				return false, fmt.Errorf("%s (%s): blobs absent from the source (%w); choose platforms with --platform or pass --skip-missing-platforms", what, d.Digest, err)
			}
			return true, nil
		}
		idx, n, err := archive.FilterIndex(it.Index, keep)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if len(wanted) > 0 {
				return nil, fmt.Errorf("no image for platform %s in the index (it has: %s)", platform.Join(wanted), strings.Join(seen, ", "))
			}
			return nil, errors.New("no platform of the index has its blobs in the source")
		}
		it.Index = idx
		if d, err := idx.Digest(); err == nil {
			it.Digest = d
		}
		out = append(out, it)
	}
	return out, nil
}
