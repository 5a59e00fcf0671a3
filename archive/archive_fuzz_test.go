package archive_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/imgtool/imgtool/archive"
)

// fzTar builds a tar of name/body pairs.
func fzTar(files ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[i+1]))})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

func fzDigest(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

var (
	fzLayer  = string(fzTar("etc/motd", "hi\n"))
	fzConfig = fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}`, fzDigest(fzLayer))
	fzMan    = fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}`,
		fzDigest(fzConfig), len(fzConfig), fzDigest(fzLayer), len(fzLayer))
)

// fzConsume reads everything an archive offers, bounded, as load would.
func fzConsume(t *testing.T, a *archive.Archive) {
	defer a.Close()
	for _, e := range a.Images() {
		if _, err := e.Image.RawConfigFile(); err != nil {
			continue
		}
		e.Image.RawManifest()
		e.Image.Digest()
		ls, err := e.Image.Layers()
		if err != nil {
			continue
		}
		for _, l := range ls {
			l.DiffID()
			l.Digest()
			rc, err := l.Uncompressed()
			if err != nil {
				continue
			}
			io.Copy(io.Discard, io.LimitReader(rc, 4<<20))
			rc.Close()
		}
	}
}

// FuzzFromReader feeds arbitrary bytes (possibly compressed) to the reader.
func FuzzFromReader(f *testing.F) {
	f.Add([]byte{})
	f.Add(fzTar("manifest.json", `[{"Config":"c.json","RepoTags":["a:1"],"Layers":["l/layer.tar"]}]`, "c.json", fzConfig, "l/layer.tar", fzLayer))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		a, err := archive.FromReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		fzConsume(t, a)
	})
}

// FuzzManifestJSON fuzzes manifest.json next to a valid config and layer.
func FuzzManifestJSON(f *testing.F) {
	f.Add(`[{"Config":"c.json","RepoTags":["a:1"],"Layers":["l/layer.tar"]}]`)
	f.Add(`[{"Config":"../c.json","Layers":["/l/layer.tar"]}]`)
	f.Add(`[{"Config":"c.json","RepoTags":["A:b"],"Layers":[]}]`)
	f.Fuzz(func(t *testing.T, manifest string) {
		a, err := archive.FromReader(bytes.NewReader(fzTar("c.json", fzConfig, "l/layer.tar", fzLayer, "lnk", "", "manifest.json", manifest)))
		if err != nil {
			return
		}
		fzConsume(t, a)
	})
}

// FuzzIndexJSON fuzzes index.json of an OCI layout with valid blobs.
func FuzzIndexJSON(f *testing.F) {
	f.Add(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}`, fzDigest(fzMan), len(fzMan)))
	f.Add(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:` + fzDigest("x") + `","size":1}]}`)
	f.Fuzz(func(t *testing.T, index string) {
		a, err := archive.FromReader(bytes.NewReader(fzTar(
			"oci-layout", `{"imageLayoutVersion": "1.0.0"}`,
			"blobs/sha256/"+fzDigest(fzConfig), fzConfig,
			"blobs/sha256/"+fzDigest(fzLayer), fzLayer,
			"blobs/sha256/"+fzDigest(fzMan), fzMan,
			"index.json", index)))
		if err != nil {
			return
		}
		fzConsume(t, a)
	})
}
