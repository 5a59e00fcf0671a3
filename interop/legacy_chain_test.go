package interop

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Docker 20.10's load of a legacy save without manifest.json (repositories
// and <v1id>/{json,layer.tar} directories) makes an image of every v1
// directory and links each to its parent: the chain's intermediate images
// are <none> rows of `images -a` and the recorded parents. (A save with
// manifest.json loads only the listed images: Docker 20.10's save of an
// image built in several steps names no Parent, as its parents are not in
// the archive, and docker load then keeps no intermediate; that case is
// TestLoadForeignPlatformsAsDocker's and the Parent tests'.)

// withoutManifestJSON copies a docker save without its manifest.json: the
// pre-1.10 layout, which docker load reads through its legacy loader.
func withoutManifestJSON(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// dockerChain is tag's image and its parents, child first, as docker
// inspect's .Parent links them.
func dockerChain(t *testing.T, inspect func(args ...string) string, tag string) []string {
	t.Helper()
	var chain []string
	id := strings.TrimSpace(inspect("inspect", "-f", "{{.Id}}", tag))
	for id != "" && len(chain) < 130 {
		chain = append(chain, id)
		id = strings.TrimSpace(inspect("inspect", "-f", "{{.Parent}}", id))
	}
	return chain
}

// imageRows maps "ID REPO:TAG" lines by ID (the first row of an ID).
func imageRows(out string) map[string]string {
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if id, rest, ok := strings.Cut(strings.TrimSpace(l), " "); ok && rows[id] == "" {
			rows[id] = rest
		}
	}
	return rows
}

func TestLegacyChainIntermediatesAsDocker(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	d.Build(t, "legacy-chain:1", "FROM "+base+"\nRUN echo a > /a\nRUN echo b > /b\nLABEL chain=1\n", nil)
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	d.Docker(t, "save", "-o", saved, "legacy-chain:1")
	d.Docker(t, "rmi", "legacy-chain:1") // the build's own intermediates go with it
	built := filepath.Join(dir, "legacy.tar")
	withoutManifestJSON(t, saved, built)

	for _, tc := range []struct{ name, path, tag string }{
		{"moby-emptyLayer", peerFixture(t, "moby/emptyLayer.tar"), "matthughes/library-centos:6-2015.03.20"},
		{"built-chain", built, "legacy-chain:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.Docker(t, "load", "-i", tc.path)
			want := dockerChain(t, func(a ...string) string { return d.Docker(t, a...) }, tc.tag)
			if len(want) < 3 {
				t.Fatalf("docker's chain of %s is %q: the fixture should make one of 3", tc.tag, want)
			}
			store := newStore(t)
			dockertest.MustImgtool(t, "--root", store, "load", "-i", tc.path)
			got := dockerChain(t, func(a ...string) string {
				return dockertest.MustImgtool(t, append([]string{"--root", store}, a...)...)
			}, tc.tag)
			if !equalStrings(got, want) {
				t.Fatalf("parent chain\n imgtool %q\n docker  %q", got, want)
			}
			// images -a: the intermediates are <none> rows, as docker lists them
			f := "{{.ID}} {{.Repository}}:{{.Tag}}"
			drows := imageRows(d.Docker(t, "images", "-a", "--no-trunc", "--format", f))
			irows := imageRows(dockertest.MustImgtool(t, "--root", store, "images", "-a", "--no-trunc", "--format", f))
			for i, id := range want {
				if drows[id] == "" || drows[id] != irows[id] {
					t.Errorf("images -a row of chain[%d] %s: imgtool %q, docker %q", i, id, irows[id], drows[id])
				}
				// imagedb metadata/<id>/parent, byte for byte
				rel := filepath.Join("image", "overlay2", "imagedb", "metadata", "sha256", strings.TrimPrefix(id, "sha256:"), "parent")
				wantP, werr := os.ReadFile(filepath.Join(d.Root, rel))
				gotP, gerr := os.ReadFile(filepath.Join(store, rel))
				if (werr == nil) != (gerr == nil) || !bytes.Equal(gotP, wantP) {
					t.Errorf("%s: imgtool %q (%v), docker %q (%v)", rel, gotP, gerr, wantP, werr)
				}
			}
			// a re-save lists the same image and layers as docker's
			theirs, ours := filepath.Join(t.TempDir(), "d.tar"), filepath.Join(t.TempDir(), "i.tar")
			d.Docker(t, "save", "-o", theirs, tc.tag)
			dockertest.MustImgtool(t, "--root", store, "save", "--format", "docker-legacy", "-o", ours, tc.tag)
			ta, oa := readArchive(t, theirs), readArchive(t, ours)
			if len(ta.manifest) != 1 || len(oa.manifest) != 1 || ta.manifest[0].Config != oa.manifest[0].Config ||
				!equalStrings(ta.manifest[0].Layers, oa.manifest[0].Layers) || ta.manifest[0].Parent != oa.manifest[0].Parent {
				t.Errorf("re-save manifest.json\n imgtool %+v\n docker  %+v", oa.manifest, ta.manifest)
			}
			for _, n := range ta.names() {
				if n == "manifest.json" || strings.HasSuffix(n, "/layer.tar") || strings.HasSuffix(n, "/") {
					continue // manifest.json compared above; layers by their paths (v1 IDs)
				}
				want, _ := ta.file(n)
				if got, ok := oa.file(n); !ok || !bytes.Equal(got, want) {
					t.Errorf("re-save %s differs from docker's:\n imgtool %s\n docker  %s", n, got, want)
				}
			}
			for _, id := range want {
				d.Docker(t, "rmi", "-f", id)
			}
		})
	}
}
