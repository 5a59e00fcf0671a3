package interop

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestGzipLayersLikeSkopeo: `imgtool convert --compress gzip` of a
// docker-archive and `skopeo copy docker-archive: oci:` of the same
// archive, for a layer of several pgzip blocks (text and random data) and
// a small one. Both use pgzip with 1 MiB blocks at the default level, but
// skopeo 1.9.3 vendors an older klauspost/compress, whose deflate output
// differs: so the blobs must decompress to the same layers (the diff IDs)
// at sizes within 0.1 % of each other, and skopeo must read imgtool's
// layout back (it checks every blob's digest).
func TestGzipLayersLikeSkopeo(t *testing.T) {
	dockertest.Require(t, "skopeo")
	dir := t.TempDir()
	rnd := make([]byte, 2<<20+77)
	rand.New(rand.NewSource(11)).Read(rnd)
	text := strings.Repeat("usr/share/doc/some-package/changelog.Debian.gz\n", 70000)
	img := synthImage{
		tags: []string{"gz-skopeo:1"},
		env:  "gz",
		layers: [][]byte{
			layerTar(t, tarEntry{name: "text.txt", body: text}, tarEntry{name: "random.bin", body: string(rnd)}),
			layerTar(t, tarEntry{name: "etc/", typ: tar.TypeDir}, tarEntry{name: "etc/small", body: "small\n"}),
		},
	}
	arch := filepath.Join(dir, "in.tar")
	writeArchive(t, arch, img)

	mine, theirs := filepath.Join(dir, "imgtool"), filepath.Join(dir, "skopeo")
	dockertest.MustImgtool(t, "convert", "--compress", "gzip", "docker-archive:"+arch, "oci:"+mine)
	if out, err := runCmd("skopeo", "copy", "-q", "docker-archive:"+arch, "oci:"+theirs+":gz"); err != nil {
		t.Fatalf("skopeo copy: %v: %s", err, out)
	}
	got, want := ociLayerDigests(t, mine), ociLayerDigests(t, theirs)
	if len(got) != len(img.layers) || len(want) != len(img.layers) {
		t.Fatalf("layers: imgtool %v, skopeo %v, want %d each", got, want, len(img.layers))
	}
	for i, l := range img.layers {
		for who, d := range map[string]string{"imgtool": got[i], "skopeo": want[i]} {
			layout := map[string]string{"imgtool": mine, "skopeo": theirs}[who]
			if diffID := gunzipDigest(t, blobPath(layout, d)); diffID != digestOf(l) {
				t.Errorf("%s layer %d decompresses to %s, want the diff ID %s", who, i, diffID, digestOf(l))
			}
		}
		a, b := fileSize(t, blobPath(mine, got[i])), fileSize(t, blobPath(theirs, want[i]))
		if d := float64(a-b) / float64(b); d > 0.001 || d < -0.001 {
			t.Errorf("layer %d: imgtool's blob %d bytes, skopeo's %d: not the same compressor and level", i, a, b)
		}
	}
	if out, err := runCmd("skopeo", "copy", "-q", "oci:"+mine, "dir:"+filepath.Join(dir, "back")); err != nil {
		t.Errorf("skopeo reading imgtool's gzip layout: %v: %s", err, out)
	}
}

func blobPath(layout, digest string) string {
	return filepath.Join(layout, "blobs", strings.Replace(digest, ":", "/", 1))
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// gunzipDigest is the sha256 of the decompressed content of the gzip file p.
func gunzipDigest(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ociLayerDigests reads the layer digests of the one manifest of the OCI
// layout in dir.
func ociLayerDigests(t *testing.T, dir string) []string {
	t.Helper()
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("%s: %d manifests in index.json, want 1", dir, len(index.Manifests))
	}
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	readJSON(t, blobPath(dir, index.Manifests[0].Digest), &m)
	var ds []string
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}
