package transfer

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/reference"
)

// Select is the one policy that decides which images of a source a command
// takes; load, save, convert, push, pull, flatten and verify all call it.
//
//   - name (a location's :REF part) picks one item: a 0-based number, an
//     @N (skopeo's docker-archive:PATH:@N), a digest, an OCI ref name or a tag.
//   - Plain images are taken whatever their platform, as docker load takes
//     every image of a docker save archive; only an explicit --platform
//     (opts.Platforms) filters them.
//   - An index is cut to opts.Platforms; with none, a single-platform
//     destination (the store, flatten) takes the host's platform and any
//     other destination the whole index, unless opts.AllPlatforms.
func Select(items []Item, name string, opts ConvertOptions, singlePlatform bool) ([]Item, error) {
	if name != "" {
		it, err := SelectItem(items, name)
		if err != nil {
			return nil, err
		}
		items = []Item{it}
	}
	if len(items) == 0 {
		return nil, errors.New("no images")
	}
	return FilterPlatforms(items, opts, singlePlatform)
}

// SelectItem picks one item by a 0-based index number, a digest
// (@sha256:…, sha256:…; a manifest, index, image ID or a platform
// manifest inside an index), an OCI ref name, or a tag.
func SelectItem(items []Item, sel string) (Item, error) { return selectItem(items, sel, true) }

// selectItem is SelectItem; numbered says whether a number picks an item
// by position (docker-archive:PATH:@N, as containers/image numbers them).
// An OCI location's :REF is a ref name, a tag or a digest only: "0" that
// names no ref fails instead of quietly taking the first image.
func selectItem(items []Item, sel string, numbered bool) (Item, error) {
	if n, ok := strings.CutPrefix(sel, "@"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		if !numbered {
			return Item{}, fmt.Errorf("@%s: only docker-archive: numbers its images (the source holds: %s)", n, listItems(items))
		}
		return itemNumber(items, n)
	}
	if d := strings.TrimPrefix(sel, "@"); strings.HasPrefix(d, "sha256:") || strings.HasPrefix(d, "sha512:") {
		h, err := v1.NewHash(d)
		if err != nil {
			return Item{}, fmt.Errorf("invalid digest %q: %v", d, err)
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
						return Item{Image: pi.Image, Tags: it.Tags, RefNames: it.RefNames, Digest: h, Platform: pi.Platform}, nil
					}
				}
			}
		}
		return Item{}, fmt.Errorf("no image or index with digest %s", h)
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
		return Item{}, fmt.Errorf("%q names %d images (%s); pick one by number or digest", sel, len(hits), listItems(items))
	}
	if numbered && strings.Trim(sel, "0123456789") == "" {
		return itemNumber(items, sel)
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
	return Item{}, fmt.Errorf("no image named %q (the source holds: %s)", sel, listItems(items))
}

// itemNumber is the n-th item, counted from 0 as skopeo's :@N does.
func itemNumber(items []Item, n string) (Item, error) {
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(items) {
		return Item{}, fmt.Errorf("no image number %s (the source holds %d, numbered from 0)", n, len(items))
	}
	return items[i], nil
}

func listItems(items []Item) string {
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
func platformImagesLenient(idx v1.ImageIndex) ([]Item, error) {
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
func FilterPlatforms(items []Item, opts ConvertOptions, singlePlatform bool) ([]Item, error) {
	wanted := opts.Platforms
	if len(wanted) == 0 && singlePlatform && !opts.AllPlatforms {
		wanted = []v1.Platform{platform.Host()}
	}
	var out []Item
	for _, it := range items {
		if it.Index == nil {
			if len(opts.Platforms) == 0 || it.Platform == nil || platform.Matches(*it.Platform, opts.Platforms) {
				out = append(out, it)
			} else if opts.StrictPlatform {
				return nil, platformMismatch(it, opts.Platforms)
			}
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
					if errors.Is(err, archive.ErrNotImage) && opts.Warn != nil {
						opts.Warn("skipping %v: it has no platform", err) // an artifact, left out by a platform choice
					}
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
			if errors.Is(err, archive.ErrNotImage) && opts.CarryArtifacts {
				_, err = archive.ChildArtifact(parent, d.Digest) // carried unchanged
			}
			if errors.Is(err, archive.ErrNotImage) {
				// an artifact (signature, SBOM, …) this sink does not carry: say so
				if opts.Warn != nil {
					opts.Warn("skipping %v", err)
				}
				return false, nil
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
				return nil, fmt.Errorf("no matching manifest for %s in the manifest list entries (available: %s)", platform.Join(wanted), strings.Join(seen, ", "))
			}
			return nil, errors.New("no platform of the index has its blobs in the source")
		}
		if it.Whole == nil && idx != it.Index {
			it.Whole = it.Index
		}
		it.Index = idx
		if d, err := idx.Digest(); err == nil {
			it.Digest = d
		}
		out = append(out, it)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no matching manifest for %s in the source (it has: %s)", platform.Join(opts.Platforms), itemPlatforms(items))
	}
	return out, nil
}

func itemPlatforms(items []Item) string {
	var ps []string
	for _, it := range items {
		ps = append(ps, platform.String(it.Platform))
	}
	return strings.Join(ps, ", ")
}

// platformMismatch is dockerd's error for an image of another platform
// than the one asked for (daemon/images GetImage, which Docker 28's save
// --platform reports).
func platformMismatch(it Item, wanted []v1.Platform) error {
	ref := it.ID().String()
	if names := it.Names(); len(names) > 0 {
		ref = names[0]
	}
	return fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
		ref, platform.Join(wanted), platform.String(it.Platform))
}
