package registry

import (
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/imgtool/imgtool/imageid"
)

// The manifests a push writes: an image's own, or a new one around the
// compressed layers; an index byte for byte, or rewritten around changed
// images.

func (s *session) finishImage(ip *imgPlan) error {
	if !ip.rewrite {
		raw, err := ip.img.RawManifest()
		if err != nil {
			return err
		}
		mt, err := ip.img.MediaType()
		if err != nil {
			return err
		}
		ip.raw, ip.mt = raw, mt
		return nil
	}
	flavor := ip.flavor
	if flavor == "" {
		flavor = types.DockerManifestSchema2
		for _, l := range ip.layers {
			if !l.compress && l.mt != types.DockerLayer && l.mt != types.OCILayer && l.mt != types.DockerForeignLayer {
				flavor = types.OCIManifestSchema1 // zstd and other OCI-only types
			}
		}
	}
	docker := flavor == types.DockerManifestSchema2
	cmt := types.OCIConfigJSON
	if docker {
		cmt = types.DockerConfigJSON
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     flavor,
		Config:        v1.Descriptor{MediaType: cmt, Size: int64(len(ip.config)), Digest: imageid.FromBytes(ip.config)},
		Layers:        make([]v1.Descriptor, len(ip.layers)),
	}
	for i, l := range ip.layers {
		d := v1.Descriptor{MediaType: l.mt, Size: l.size, Digest: l.digest}
		if !l.compress && ip.srcDescs != nil {
			d.URLs, d.Annotations = ip.srcDescs[i].URLs, ip.srcDescs[i].Annotations
		}
		switch {
		case l.compress || l.mt == types.DockerLayer || l.mt == types.OCILayer:
			d.MediaType = types.OCILayer
			if docker {
				d.MediaType = types.DockerLayer
			}
		}
		m.Layers[i] = d
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ip.raw, ip.mt = raw, flavor
	return nil
}

func (s *session) finishIndex(xp *idxPlan, res *PushResult) error {
	changed := xp.src == nil
	descs := make([]v1.Descriptor, len(xp.children))
	for i, c := range xp.children {
		var raw []byte
		var mt types.MediaType
		switch {
		case c.art != nil:
			raw, _ = c.art.RawManifest()
			mt, _ = c.art.MediaType()
		case c.img != nil:
			if err := s.finishImage(c.img); err != nil {
				return err
			}
			raw, mt = c.img.raw, c.img.mt
		default:
			if err := s.finishIndex(c.idx, res); err != nil {
				return err
			}
			raw, mt = c.idx.raw, c.idx.mt
		}
		dg := imageid.FromBytes(raw)
		d := c.desc
		if d.Digest != dg || d.MediaType != mt || d.Size != int64(len(raw)) {
			changed = true
		}
		d.Digest, d.MediaType, d.Size = dg, mt, int64(len(raw))
		descs[i] = d
		if err := s.putManifest(s.repo.Digest(dg.String()), raw, mt); err != nil {
			return err
		}
		if c.img != nil {
			res.Manifests = append(res.Manifests, PushedManifest{Digest: dg, MediaType: mt, Size: d.Size, Config: imageid.FromBytes(c.img.config), Platform: d.Platform})
		}
	}
	if !changed {
		raw, err := xp.src.RawManifest()
		if err != nil {
			return err
		}
		xp.raw = raw
		return nil
	}
	var im v1.IndexManifest
	if xp.src != nil {
		src, err := xp.src.IndexManifest()
		if err != nil {
			return err
		}
		im = *src
	} else {
		im = v1.IndexManifest{SchemaVersion: 2, MediaType: xp.mt}
	}
	im.Manifests = descs
	raw, err := json.Marshal(im)
	if err != nil {
		return err
	}
	xp.raw = raw
	return nil
}
