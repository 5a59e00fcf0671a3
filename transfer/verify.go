package transfer

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
	"github.com/imgtool/imgtool/tarball"
)

// VerifyResult counts what Verify checked.
type VerifyResult struct {
	Images   int
	Layers   int
	Problems []string // one per mismatch, naming the blob
	Warnings []string // what Docker accepts but a strict reader may not
}

// ErrVerify is returned (wrapped) when any check failed.
var ErrVerify = errors.New("verification failed")

// Verify re-hashes every blob of SRC (any source transport; :REF picks one
// item): manifests and indexes, configs (against their digest and, in
// manifest.json archives, their file name), every layer blob (against its
// digest and size) and its uncompressed stream (against the config's
// diff_id). It prints one status line per check to w, and the chain IDs.
// For store images it also checks layerdb: each chain directory's diff
// file against the config's diff_id and its parent link. Platforms of an
// index whose blobs are absent are reported, not failed.
func Verify(ctx context.Context, src string, env *Env, w io.Writer) (*VerifyResult, error) {
	ref, err := ResolveSource(src, env)
	if err != nil {
		return nil, err
	}
	source, items, err := openWithArtifacts(ctx, ref, env)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	v := &verifier{w: w, res: &VerifyResult{}, env: env, isStore: ref.Transport == "store"}
	for _, it := range items {
		label := itemLabel(it)
		if what, ok := archive.IsArtifact(it.Image); ok {
			v.artifact(it.Image, what)
			continue
		}
		if it.Index != nil {
			if err := v.index(ctx, it.Index, label, 0); err != nil {
				return v.res, err
			}
			continue
		}
		if err := v.image(ctx, it.Image, label, it.Digest); err != nil {
			return v.res, err
		}
	}
	if len(v.res.Problems) > 0 {
		fmt.Fprintf(w, "FAILED: %d problem(s) in %d image(s), %d layer(s)\n", len(v.res.Problems), v.res.Images, v.res.Layers)
		return v.res, fmt.Errorf("%w: %s", ErrVerify, strings.Join(v.res.Problems, "; "))
	}
	fmt.Fprintf(w, "OK: %d image(s), %d layer(s) verified\n", v.res.Images, v.res.Layers)
	return v.res, nil
}

func itemLabel(it item.Item) string {
	var ns []string
	for _, t := range it.Tags {
		ns = append(ns, reference.Familiar(t))
	}
	for _, n := range it.RefNames {
		if !containsStr(ns, n) {
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return "untagged"
	}
	return strings.Join(ns, ", ")
}

type verifier struct {
	w       io.Writer
	res     *VerifyResult
	env     *Env
	isStore bool
}

func (v *verifier) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.res.Problems = append(v.res.Problems, msg)
	fmt.Fprintf(v.w, "  MISMATCH %s\n", msg)
}

func (v *verifier) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.res.Warnings = append(v.res.Warnings, msg)
	fmt.Fprintf(v.w, "  WARNING %s\n", msg)
}

func (v *verifier) index(ctx context.Context, idx v1.ImageIndex, label string, depth int) error {
	d, _ := idx.Digest()
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	fmt.Fprintf(v.w, "index %s %s\n", label, d)
	if got := digestBytes(d.Algorithm, raw); got != d {
		v.fail("index %s: content hashes to %s", d, got)
	} else {
		fmt.Fprintf(v.w, "  index blob %s ok (%d bytes)\n", d, len(raw))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, c := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return err
		}
		plat := platform.String(c.Platform)
		if archive.IsAttestation(c) {
			plat = "attestation"
		}
		if c.MediaType == "application/vnd.oci.image.index.v1+json" || c.MediaType == "application/vnd.docker.distribution.manifest.list.v2+json" {
			sub, err := idx.ImageIndex(c.Digest)
			if err != nil {
				fmt.Fprintf(v.w, "  nested index %s: absent (%v)\n", c.Digest, err)
				continue
			}
			if err := v.index(ctx, sub, label, depth+1); err != nil {
				return err
			}
			continue
		}
		img, err := idx.Image(c.Digest)
		if err != nil {
			if errors.Is(err, archive.ErrMissing) {
				fmt.Fprintf(v.w, "  %s %s: absent from the source, not verified\n", plat, c.Digest)
				continue
			}
			if errors.Is(err, archive.ErrNotImage) {
				if art, aerr := archive.ChildArtifact(idx, c.Digest); aerr == nil {
					what, _ := archive.IsArtifact(art)
					v.artifact(art, what)
				} else {
					fmt.Fprintf(v.w, "  skipped %v\n", err)
				}
				continue
			}
			v.fail("%s manifest %s: %v", plat, c.Digest, err)
			continue
		}
		if got, err := img.Digest(); err == nil && got != c.Digest {
			v.fail("%s manifest %s: content hashes to %s", plat, c.Digest, got)
		}
		if err := v.image(ctx, img, label+" "+plat, c.Digest); err != nil {
			return err
		}
	}
	return nil
}

// artifact re-hashes an artifact's manifest and the blobs it names
// against their digests and sizes; it is no image, so no diff_id.
func (v *verifier) artifact(img v1.Image, what string) {
	d, _ := img.Digest()
	raw, err := img.RawManifest()
	if err != nil {
		v.fail("artifact %s: %v", d, err)
		return
	}
	if got := digestBytes(d.Algorithm, raw); got != d {
		v.fail("artifact %s: content hashes to %s", d, got)
		return
	}
	x, _ := img.(*archive.Artifact)
	if x == nil {
		return
	}
	n := 0
	for _, b := range x.Blobs() {
		bd, _ := b.Digest()
		size, _ := b.Size()
		rc, err := b.Compressed()
		if err != nil {
			v.fail("artifact %s: blob %s: %v", d, bd, err)
			continue
		}
		h := newHash(bd.Algorithm)
		got, err := io.Copy(h, rc)
		rc.Close()
		sum := v1.Hash{Algorithm: bd.Algorithm, Hex: fmt.Sprintf("%x", h.Sum(nil))}
		switch {
		case err != nil:
			v.fail("artifact %s: blob %s: %v", d, bd, err)
		case got != size:
			v.fail("artifact %s: blob %s is %d bytes, its descriptor says %d", d, bd, got, size)
		case sum != bd:
			v.fail("artifact %s: blob %s hashes to %s", d, bd, sum)
		default:
			n++
		}
	}
	fmt.Fprintf(v.w, "  skipped %s (%s) as an image: not a runnable image; its manifest and %d blob(s) re-hashed ok\n", d, what, n)
}

var hex64 = regexp.MustCompile(`^[a-f0-9]{64}$`)

func (v *verifier) image(ctx context.Context, img v1.Image, label string, mdigest v1.Hash) error {
	v.res.Images++
	raw, err := img.RawConfigFile()
	if err != nil {
		v.fail("%s: config: %v", label, err)
		return nil
	}
	id := imageid.FromBytes(raw)
	fmt.Fprintf(v.w, "image %s %s\n", label, id)
	if mdigest != (v1.Hash{}) {
		mraw, err := img.RawManifest()
		switch {
		case err != nil:
			v.fail("manifest %s: %v", mdigest, err)
		case digestBytes(mdigest.Algorithm, mraw) != mdigest:
			v.fail("manifest %s: content hashes to %s", mdigest, digestBytes(mdigest.Algorithm, mraw))
		default:
			fmt.Fprintf(v.w, "  manifest %s ok (%d bytes)\n", mdigest, len(mraw))
		}
	}
	m, err := img.Manifest()
	if err != nil {
		v.fail("%s: manifest: %v", label, err)
		return nil
	}
	if len(m.Layers) == 0 && m.MediaType == types.OCIManifestSchema1 {
		v.warn("%s: the manifest has no layer: image-spec's schema asks for at least one; Docker, containerd and imgtool load it", label)
	}
	configOK := true
	if m.Config.Digest != (v1.Hash{}) && digestBytes(m.Config.Digest.Algorithm, raw) != m.Config.Digest {
		v.fail("config %s: content hashes to %s", m.Config.Digest, id)
		configOK = false
	}
	if cp, ok := img.(interface{ ConfigPath() string }); ok {
		base := strings.TrimSuffix(path.Base(cp.ConfigPath()), ".json")
		if hex64.MatchString(base) && base != id.Hex {
			// docker load (and ggcr) take the content's digest as the image
			// ID: a config whose name is another digest loads, so this is
			// a warning, and the content is verified as usual.
			v.warn("config %s: the file name is not its digest (the content hashes to %s, the image ID docker load gives it)", cp.ConfigPath(), id)
		}
	}
	if si, ok := img.(store.Image); ok && store.IDIsConfigDigest(si) && si.ID() != id {
		v.fail("store image %s: its config hashes to %s", si.ID(), id)
		configOK = false
	}
	if configOK {
		fmt.Fprintf(v.w, "  config %s ok (%d bytes)\n", id, len(raw))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		v.fail("config %s: %v", id, err)
		return nil
	}
	diffIDs := cf.RootFS.DiffIDs
	layers, err := img.Layers()
	if err != nil {
		v.fail("%s: layers: %v", label, err)
		return nil
	}
	if len(layers) != len(diffIDs) {
		v.fail("%s: %d layers but %d diff_ids in the config", label, len(layers), len(diffIDs))
		return nil
	}
	chains := imageid.ChainIDs(diffIDs)
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.res.Layers++
		v.layer(l, i, len(layers), diffIDs[i], chains[i], m)
	}
	if si, ok := img.(store.Image); ok {
		v.layerdb(si, diffIDs, chains)
	}
	return nil
}

// openBlobChecked opens a layer's blob; a store layer's (its tar
// regenerated from tar-split) is read with each file's crc64 checked, so a
// modified file is named, not only the layer.
func openBlobChecked(l v1.Layer) (io.ReadCloser, error) {
	if c, ok := l.(interface{ Checked() (io.ReadCloser, error) }); ok {
		return c.Checked()
	}
	return l.Compressed()
}

// layer hashes a layer blob and its uncompressed stream in one read.
func (v *verifier) layer(l v1.Layer, i, n int, diffID, chain v1.Hash, m *v1.Manifest) {
	want, err := l.Digest()
	if err != nil {
		v.fail("layer %d/%d %s: %v", i+1, n, diffID, err)
		return
	}
	var wantSize int64 = -1
	if i < len(m.Layers) && m.Layers[i].Digest == want {
		wantSize = m.Layers[i].Size
	}
	rc, err := openBlobChecked(l)
	if err != nil {
		v.fail("layer %d/%d blob %s: %v", i+1, n, want, err)
		return
	}
	defer rc.Close()
	bh := newHash(want.Algorithm)
	cnt := &tarball.CountingWriter{}
	tee := io.TeeReader(rc, io.MultiWriter(bh, cnt))
	uh := sha256.New()
	var ucount int64
	var comp tarball.Compression
	var rerr error
	if _, isTar := layerIsTar(l); isTar {
		dr, c, err := tarball.Decompress(tee)
		comp = c
		if err != nil {
			rerr = err
		} else {
			ucount, rerr = io.Copy(uh, dr)
			dr.Close()
		}
	}
	if rerr == nil {
		_, rerr = io.Copy(io.Discard, tee) // the rest of the blob (trailing bytes)
	}
	if rerr != nil {
		v.fail("layer %d/%d blob %s: reading: %v", i+1, n, want, rerr)
		return
	}
	gotBlob := v1.Hash{Algorithm: want.Algorithm, Hex: hex.EncodeToString(bh.Sum(nil))}
	if want.Algorithm != "sha512" {
		gotBlob.Algorithm = "sha256"
	}
	ok := true
	if gotBlob != want {
		v.fail("layer %d/%d blob %s: content hashes to %s", i+1, n, want, gotBlob)
		ok = false
	}
	if wantSize >= 0 && cnt.N != wantSize {
		v.fail("layer %d/%d blob %s: %d bytes, its descriptor says %d", i+1, n, want, cnt.N, wantSize)
		ok = false
	}
	if _, isTar := layerIsTar(l); isTar {
		gotDiff := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(uh.Sum(nil))}
		if gotDiff != diffID {
			v.fail("layer %d/%d blob %s: uncompressed content hashes to %s, the config's diff_id is %s", i+1, n, want, gotDiff, diffID)
			ok = false
		}
	}
	if ok {
		fmt.Fprintf(v.w, "  layer %d/%d ok blob %s (%s, %d bytes) diff_id %s (%d bytes) chain %s\n", i+1, n, want, comp, cnt.N, diffID, ucount, chain)
	}
}

// layerIsTar reports whether a layer's blob is a (possibly compressed)
// tar, by media type; attestation blobs are not.
func layerIsTar(l v1.Layer) (string, bool) {
	mt, err := l.MediaType()
	if err != nil {
		return "", true
	}
	s := string(mt)
	return s, strings.Contains(s, ".tar") || strings.Contains(s, "rootfs.diff") || s == ""
}

func (v *verifier) layerdb(img store.Image, diffIDs, chains []v1.Hash) {
	ls := img.StoreLayers()
	ok := true
	for i, l := range ls {
		if l.ChainID != chains[i] {
			v.fail("layerdb: layer %d is %s, the chain ID of the config's diff_ids is %s", i+1, l.ChainID, chains[i])
			ok = false
		}
		if l.DiffID != diffIDs[i] {
			v.fail("layerdb %s/diff: %s, the config's diff_id is %s", l.ChainID, l.DiffID, diffIDs[i])
			ok = false
		}
		var parent v1.Hash
		if i > 0 {
			parent = chains[i-1]
		}
		if l.Parent != parent {
			v.fail("layerdb %s/parent: %q, expected %q", l.ChainID, l.Parent, parent)
			ok = false
		}
	}
	if ok {
		fmt.Fprintf(v.w, "  layerdb ok: %d chain dirs match the diff_ids\n", len(ls))
	}
}

func newHash(alg string) hash.Hash {
	if alg == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

func digestBytes(alg string, b []byte) v1.Hash {
	h := newHash(alg)
	h.Write(b)
	if alg != "sha512" {
		alg = "sha256"
	}
	return v1.Hash{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))}
}
