package overlay2

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
)

// benchImage is a two-layer image: one 32 MiB random file, and 64 dirs of
// 64 files of 4 KiB. Returns it and its uncompressed size.
func benchImage(b *testing.B) (*memImage, int64) {
	rng := rand.NewChaCha8([32]byte{9})
	rnd := func(n int) []byte { p := make([]byte, n); rng.Read(p); return p }
	mk := func(add func(tw *tar.Writer)) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add(tw)
		if err := tw.Close(); err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	file := func(tw *tar.Writer, name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			b.Fatal(err)
		}
		tw.Write(body)
	}
	big := mk(func(tw *tar.Writer) {
		tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
		file(tw, "data/random.bin", rnd(32<<20))
	})
	small := mk(func(tw *tar.Writer) {
		for i := range 64 {
			dir := fmt.Sprintf("usr/lib/d%02d/", i)
			tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755})
			for j := range 64 {
				file(tw, fmt.Sprintf("%sf%02d", dir, j), rnd(4<<10))
			}
		}
	})
	var diffIDs []string
	for _, l := range [][]byte{big, small} {
		diffIDs = append(diffIDs, imageid.FromBytes(l).String())
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2026-01-02T03:04:05Z",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	return &memImage{config: cfg, layers: [][]byte{big, small}}, int64(len(big) + len(small))
}

// BenchmarkLoadImage registers an image into an empty store: unpack with
// diff_id check, tar-split, layerdb, imagedb (load's work after the
// archive scan).
func BenchmarkLoadImage(b *testing.B) {
	img, n := benchImage(b)
	b.SetBytes(n)
	for b.Loop() {
		b.StopTimer()
		s, err := Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		unlock, err := s.Writer()
		if err != nil {
			b.Fatal(err)
		}
		tx := s.Begin()
		if _, err := tx.AddImage(img, v1.Hash{}); err != nil {
			b.Fatal(err)
		}
		if err := tx.Extract(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// BenchmarkStoreLayers reads every layer of a stored image back as its
// original tar (save's source side: tar-split + diff dir, diff_id checked).
func BenchmarkStoreLayers(b *testing.B) {
	img, n := benchImage(b)
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	unlock, err := s.Writer()
	if err != nil {
		b.Fatal(err)
	}
	tx := s.Begin()
	id, err := tx.AddImage(img, v1.Hash{})
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.Extract(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	unlock()
	si, err := s.image(id)
	if err != nil {
		b.Fatal(err)
	}
	ls, err := si.Layers()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(n)
	for b.Loop() {
		for _, l := range ls {
			rc, err := l.Uncompressed()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
				b.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
