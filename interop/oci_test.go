package interop

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	imgarchive "github.com/imgtool/imgtool/archive"
	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// ociIndexFile reads a layout's index.json descriptors.
type ociDesc struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

func readIndex(t *testing.T, p string) []ociDesc {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var idx struct{ Manifests []ociDesc }
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	return idx.Manifests
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func skopeoJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := runCmd("skopeo", args...)
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type imgInspect struct {
	ID     string `json:"Id"`
	RootFS struct{ Layers []string }
}

func imgtoolInspect(t *testing.T, root, ref string) imgInspect {
	t.Helper()
	var v []imgInspect
	out := dockertest.MustImgtool(t, "--root", root, "inspect", ref)
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		t.Fatalf("imgtool inspect %s: %v\n%s", ref, err, out)
	}
	return v[0]
}

// TestSkopeoCopiesConvertOutputs: skopeo reads imgtool's oci:, oci-archive:
// and docker-archive: outputs, agrees with imgtool on digests and diff_ids,
// copies each to another form, and imgtool reads skopeo's copies back to
// the same image.
func TestSkopeoCopiesConvertOutputs(t *testing.T) {
	dockertest.Require(t, "skopeo")
	dir := t.TempDir()
	root := newStore(t)
	src := filepath.Join(dir, "src.tar")
	writeArchive(t, src, synthThree(t, "synth-convert:1", "convert"))
	dockertest.MustImgtool(t, "--root", root, "load", "-i", src)
	want := imgtoolInspect(t, root, "synth-convert:1")

	lay := filepath.Join(dir, "lay")
	ociTar := filepath.Join(dir, "oci.tar")
	dockerTar := filepath.Join(dir, "docker.tar")
	gzLay := filepath.Join(dir, "laygz")
	dockertest.MustImgtool(t, "--root", root, "convert", "synth-convert:1", "oci:"+lay+":latest")
	dockertest.MustImgtool(t, "--root", root, "convert", "store:synth-convert:1", "oci-archive:"+ociTar)
	dockertest.MustImgtool(t, "--root", root, "convert", "synth-convert:1", "docker-archive:"+dockerTar)
	dockertest.MustImgtool(t, "--root", root, "convert", "--compress", "gzip", "oci:"+lay, "oci:"+gzLay)
	manDigest := readIndex(t, filepath.Join(lay, "index.json"))[0].Digest
	gzDigest := readIndex(t, filepath.Join(gzLay, "index.json"))[0].Digest

	for _, tc := range []struct {
		loc, digest string
	}{
		{"oci:" + lay + ":latest", manDigest},
		{"oci-archive:" + ociTar, manDigest},
		{"oci:" + gzLay + ":latest", gzDigest},
		{"docker-archive:" + dockerTar, ""},
	} {
		var insp struct{ Digest string }
		skopeoJSON(t, &insp, "inspect", tc.loc)
		if tc.digest != "" && insp.Digest != tc.digest {
			t.Errorf("%s: skopeo digest %s, imgtool wrote %s", tc.loc, insp.Digest, tc.digest)
		}
		var cfg struct {
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		skopeoJSON(t, &cfg, "inspect", "--config", "--raw", tc.loc)
		if !equalStrings(cfg.RootFS.DiffIDs, want.RootFS.Layers) {
			t.Errorf("%s: skopeo diff_ids %v, imgtool inspect %v", tc.loc, cfg.RootFS.DiffIDs, want.RootFS.Layers)
		}
		out := dockertest.MustImgtool(t, "verify", tc.loc)
		if !strings.Contains(out, "OK: 1 image(s), 3 layer(s) verified") {
			t.Errorf("imgtool verify %s:\n%s", tc.loc, out)
		}
		// The peers check the same output: skopeo re-hashes every blob
		// while copying it to a dir: (a digest mismatch fails the copy),
		// and umoci reads OCI layouts' history and layer descriptors.
		dirCopy := filepath.Join(t.TempDir(), "dir")
		if out, err := runCmd("skopeo", "copy", "--quiet", tc.loc, "dir:"+dirCopy); err != nil {
			t.Errorf("skopeo copy %s dir: (digests re-checked): %v\n%s", tc.loc, err, out)
		}
		if layout, ok := strings.CutPrefix(tc.loc, "oci:"); ok {
			umociStatLayers(t, layout, want.RootFS.Layers)
		}
	}

	// skopeo copies each to another form; imgtool reads them back
	copies := []struct{ from, to string }{
		{"oci:" + lay + ":latest", "docker-archive:" + filepath.Join(dir, "sk-docker.tar") + ":synth-convert:1"},
		{"oci-archive:" + ociTar, "oci:" + filepath.Join(dir, "sk-oci") + ":latest"},
		{"docker-archive:" + dockerTar, "oci-archive:" + filepath.Join(dir, "sk-oci.tar") + ":latest"},
		{"oci:" + gzLay + ":latest", "oci:" + filepath.Join(dir, "sk-gz") + ":latest"},
	}
	for i, c := range copies {
		if out, err := runCmd("skopeo", "copy", "--quiet", c.from, c.to); err != nil {
			t.Fatalf("skopeo copy %s %s: %v\n%s", c.from, c.to, err, out)
		}
		dockertest.MustImgtool(t, "verify", c.to)
		back := newStore(t)
		dockertest.MustImgtool(t, "--root", back, "convert", c.to, "store:back:"+string(rune('a'+i)))
		got := imgtoolInspect(t, back, "back:"+string(rune('a'+i)))
		// skopeo rewrites the config when it turns a docker-archive into OCI
		sameConfig := !strings.HasPrefix(c.from, "docker-archive:")
		if sameConfig && got.ID != want.ID || !equalStrings(got.RootFS.Layers, want.RootFS.Layers) {
			t.Errorf("%s -> skopeo -> %s -> imgtool: %s %v, want %s %v", c.from, c.to, got.ID, got.RootFS.Layers, want.ID, want.RootFS.Layers)
		}
	}
	// skopeo keeps blobs: the gzip layout copy has imgtool's manifest digest
	if d := readIndex(t, filepath.Join(dir, "sk-gz", "index.json"))[0].Digest; d != gzDigest {
		t.Errorf("skopeo's copy of the gzip layout: %s, imgtool's %s", d, gzDigest)
	}
}

// twoPlatformLayout turns a one-image layout into a two-platform index:
// the second platform's image is the same layers with a config whose
// architecture is arm64.
func twoPlatformLayout(t *testing.T, lay string) {
	t.Helper()
	top := readIndex(t, filepath.Join(lay, "index.json"))
	blob := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(lay, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put := func(b []byte) string {
		d := digestOf(b)
		if err := os.WriteFile(filepath.Join(lay, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	manRaw := blob(top[0].Digest)
	var man map[string]any
	json.Unmarshal(manRaw, &man)
	cfgDesc := man["config"].(map[string]any)
	var cfg map[string]any
	json.Unmarshal(blob(cfgDesc["digest"].(string)), &cfg)
	cfg["architecture"] = "arm64"
	cfg2, _ := json.Marshal(cfg)
	cfgDesc["digest"], cfgDesc["size"] = put(cfg2), len(cfg2)
	man2, _ := json.Marshal(man)
	d2 := put(man2)
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{
		map[string]any{"mediaType": top[0].MediaType, "digest": top[0].Digest, "size": top[0].Size, "platform": map[string]string{"os": "linux", "architecture": "amd64"}},
		map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d2, "size": len(man2), "platform": map[string]string{"os": "linux", "architecture": "arm64"}},
	}})
	di := put(idx)
	topIdx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{
		map[string]any{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": di, "size": len(idx),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}}})
	if err := os.WriteFile(filepath.Join(lay, "index.json"), topIdx, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTwoPlatformIndex: an index survives oci -> oci-archive -> oci with
// identical digests (skopeo sees the same), --platform keeps exactly the
// one asked for, and every format converts byte-identically twice.
func TestTwoPlatformIndex(t *testing.T) {
	dockertest.Require(t, "skopeo")
	dir := t.TempDir()
	root := newStore(t)
	src := filepath.Join(dir, "src.tar")
	writeArchive(t, src, synthThree(t, "synth-multi:1", "multi"))
	dockertest.MustImgtool(t, "--root", root, "load", "-i", src)
	lay := filepath.Join(dir, "lay")
	dockertest.MustImgtool(t, "--root", root, "convert", "--compress", "gzip", "synth-multi:1", "oci:"+lay)
	twoPlatformLayout(t, lay)
	idxDigest := readIndex(t, filepath.Join(lay, "index.json"))[0].Digest

	arch := filepath.Join(dir, "multi.tar")
	back := filepath.Join(dir, "back")
	dockertest.MustImgtool(t, "convert", "oci:"+lay, "oci-archive:"+arch)
	dockertest.MustImgtool(t, "convert", "oci-archive:"+arch, "oci:"+back)
	if d := readIndex(t, filepath.Join(back, "index.json"))[0].Digest; d != idxDigest {
		t.Fatalf("index digest after oci -> oci-archive -> oci: %s, want %s", d, idxDigest)
	}
	for _, loc := range []string{"oci-archive:" + arch + ":latest", "oci:" + back + ":latest"} {
		out, err := runCmd("skopeo", "inspect", "--raw", loc)
		if err != nil {
			t.Fatalf("skopeo inspect --raw %s: %v\n%s", loc, err, out)
		}
		if digestOf([]byte(out)) != idxDigest {
			t.Errorf("%s: skopeo's raw index hashes to %s, want %s", loc, digestOf([]byte(out)), idxDigest)
		}
	}
	// skopeo copies the whole index (--all) and imgtool reads the copy
	sk := filepath.Join(dir, "sk")
	if out, err := runCmd("skopeo", "copy", "--quiet", "--all", "oci-archive:"+arch+":latest", "oci:"+sk+":latest"); err != nil {
		t.Fatalf("skopeo copy --all: %v\n%s", err, out)
	}
	dockertest.MustImgtool(t, "verify", "oci:"+sk)

	// --platform keeps exactly one
	one := filepath.Join(dir, "arm64")
	dockertest.MustImgtool(t, "convert", "--platform", "linux/arm64", "oci-archive:"+arch, "oci:"+one)
	top := readIndex(t, filepath.Join(one, "index.json"))
	b, _ := os.ReadFile(filepath.Join(one, "blobs", "sha256", strings.TrimPrefix(top[0].Digest, "sha256:")))
	var sub struct{ Manifests []ociDesc }
	json.Unmarshal(b, &sub)
	if len(sub.Manifests) != 1 || sub.Manifests[0].Platform == nil || sub.Manifests[0].Platform.Architecture != "arm64" {
		t.Fatalf("--platform linux/arm64 kept %+v", sub.Manifests)
	}
	// docker-archive holds each platform's image
	da := filepath.Join(dir, "multi-docker.tar")
	dockertest.MustImgtool(t, "convert", "oci:"+lay, "docker-archive:"+da+":synth-multi:2")
	// checked by skopeo (not imgtool's own reader): images @0 and @1, no @2,
	// one per platform
	var archs []string
	for i := 0; ; i++ {
		out, err := runCmd("skopeo", "inspect", fmt.Sprintf("docker-archive:%s:@%d", da, i))
		if err != nil {
			if !strings.Contains(out, "Invalid source index") {
				t.Fatalf("skopeo inspect %s @%d: %v\n%s", da, i, err, out)
			}
			break
		}
		var insp struct{ Architecture string }
		if err := json.Unmarshal([]byte(out), &insp); err != nil {
			t.Fatalf("skopeo inspect @%d: %v", i, err)
		}
		archs = append(archs, insp.Architecture)
	}
	if n := len(archs); n != 2 || archs[0] == archs[1] {
		t.Errorf("docker-archive of the index: %d images (%v), want 2 platforms", n, archs)
	}

	// determinism: the same input twice gives the same bytes, every format and compression
	for _, f := range []struct{ name, sink string }{
		{"docker", "docker-archive"}, {"oci", "oci-archive"},
	} {
		for _, c := range []string{"", "none", "gzip", "zstd"} {
			if f.name == "docker" && c != "" {
				continue
			}
			var sums []string
			for i := 0; i < 2; i++ {
				p := filepath.Join(dir, f.name+c+string(rune('0'+i))+".tar")
				args := []string{"--root", root, "convert"}
				if c != "" {
					args = append(args, "--compress", c)
				}
				dockertest.MustImgtool(t, append(args, "synth-multi:1", f.sink+":"+p)...)
				sums = append(sums, sha256File(t, p))
			}
			if sums[0] != sums[1] {
				t.Errorf("%s --compress %q: not deterministic", f.sink, c)
			}
		}
	}
	for i := 0; i < 2; i++ {
		dockertest.MustImgtool(t, "--root", root, "save", "--format", "oci", "--compress", "zstd", "-o", filepath.Join(dir, "save-oci"+string(rune('0'+i))), "synth-multi:1")
	}
	if a, b := sha256File(t, filepath.Join(dir, "save-oci0", "index.json")), sha256File(t, filepath.Join(dir, "save-oci1", "index.json")); a != b {
		t.Error("save --format oci: not deterministic")
	}
}

// TestUmociUnpackMatchesDockerExport: umoci unpacks imgtool's OCI layout to
// the tree docker export gives (init-layer files aside).
func TestUmociUnpackMatchesDockerExport(t *testing.T) {
	dockertest.Require(t, "umoci", "docker", "root")
	d := dockertest.Shared(t)
	richImage(t, d, "oci-umoci:1", "umoci")
	dir := t.TempDir()
	lay := filepath.Join(dir, "lay")
	dockertest.MustImgtool(t, "--root", d.Root, "convert", "oci-umoci:1", "oci:"+lay+":latest")
	bundle := filepath.Join(dir, "bundle")
	if out, err := runCmd("umoci", "unpack", "--image", lay+":latest", bundle); err != nil {
		t.Fatalf("umoci unpack: %v\n%s", err, out)
	}
	cmd := exec.Command("tar", "-C", filepath.Join(bundle, "rootfs"), "--numeric-owner", "--xattrs", "--xattrs-include=security.capability", "-cf", "-", ".")
	rootTar, err := cmd.Output()
	if err != nil {
		t.Fatalf("tar of the rootfs: %v", err)
	}
	got, err := flatten.Describe(bytes.NewReader(rootTar))
	if err != nil {
		t.Fatal(err)
	}
	cid := strings.TrimSpace(d.Docker(t, "create", "--network", "none", "oci-umoci:1"))
	defer d.Docker(t, "rm", cid)
	exp := filepath.Join(dir, "export.tar")
	d.Docker(t, "export", "-o", exp, cid)
	f, err := os.Open(exp)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := flatten.Describe(f)
	if err != nil {
		t.Fatal(err)
	}
	initPaths := map[string]bool{".dockerenv": true, "etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true, "etc/mtab": true}
	var diffs []string
	for _, line := range flatten.DiffTrees(resolveHardlinks(want), resolveHardlinks(got)) {
		if strings.HasPrefix(line[1:], "  ") { // the root entry
			continue
		}
		p := strings.Fields(line[1:])[0]
		top, _, _ := strings.Cut(p, "/")
		if initPaths[p] || top == "dev" || top == "proc" || top == "sys" || p == "etc" {
			continue
		}
		diffs = append(diffs, line)
	}
	if len(diffs) > 0 {
		t.Errorf("umoci's rootfs differs from docker export:\n%s", strings.Join(diffs, "\n"))
	}
}

// resolveHardlinks replaces hard links by their target's content: which
// name of a link group a tar writer stores first is arbitrary. The groups
// themselves must agree, so they are compared as "links=" lists.
func resolveHardlinks(ns []flatten.Node) []flatten.Node {
	by := map[string]flatten.Node{}
	for _, n := range ns {
		by[n.Path] = n
	}
	out := make([]flatten.Node, len(ns))
	for i, n := range ns {
		if n.Type == '1' {
			if tgt, ok := by[n.Linkname]; ok {
				n.Type, n.Size, n.SHA256, n.Linkname = tgt.Type, tgt.Size, tgt.SHA256, ""
			}
		}
		out[i] = n
	}
	return out
}

// TestPlainOCIAndContainerdArchivesLoadIntoDocker: a plain OCI archive
// (skopeo's, as buildx writes them: gzip layers, no manifest.json) and a
// containerd-style one (nested index naming a platform whose blobs are
// absent) convert to docker-archive, load into Docker 20.10 and run.
func TestPlainOCIAndContainerdArchivesLoadIntoDocker(t *testing.T) {
	dockertest.Require(t, "skopeo", "docker")
	d := dockertest.Shared(t)
	tag := "oci-load:1"
	id := richImage(t, d, tag, "ociload")
	layers := rootFSLayers(t, d, tag)
	wantRun := d.Run(t, tag, dockertest.RichCheck...)
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	d.Docker(t, "save", "-o", saved, tag)

	plain := filepath.Join(dir, "plain-oci.tar")
	if out, err := runCmd("skopeo", "copy", "--quiet", "docker-archive:"+saved, "oci-archive:"+plain+":latest"); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	ctr := filepath.Join(dir, "ctr.tar")
	containerdStyle(t, saved, ctr, "docker.io/library/oci-load:1")

	// skopeo rewrote the config when it made the OCI archive
	pa, err := imgarchive.Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	plainID, _ := pa.Images()[0].Image.ConfigName()
	pa.Close()
	cur := id
	for _, c := range []struct{ name, src, id string }{
		{"plain", "oci-archive:" + plain, plainID.String()},
		{"containerd", "oci-archive:" + ctr, id},
	} {
		out := filepath.Join(dir, c.name+"-docker.tar")
		args := []string{"convert", c.src, "docker-archive:" + out + ":" + tag}
		if c.name == "containerd" {
			r := dockertest.Imgtool(t, args...)
			if r.OK() || !strings.Contains(r.Stderr, "linux/arm64") {
				t.Fatalf("a platform without blobs must fail, naming it: %s", r)
			}
			args = append([]string{"convert", "--platform", "linux/amd64"}, args[1:]...)
		}
		dockertest.MustImgtool(t, args...)
		removeImage(t, d, tag, cur, layers)
		if o := d.Docker(t, "load", "-i", out); !strings.Contains(o, "Loaded image: "+tag) {
			t.Errorf("%s: docker load said %q", c.name, o)
		}
		checkSameImage(t, d, tag, c.id, layers, wantRun)
		cur = c.id
	}
}

// containerdStyle writes what `ctr export` of a partly pulled multi-platform
// image looks like: gzip layers, index.json -> an image index with the
// amd64 image present and an arm64 entry whose blobs are absent, the
// io.containerd.image.name annotation, no manifest.json.
func containerdStyle(t *testing.T, saved, out, name string) {
	t.Helper()
	a, err := imgarchive.Open(saved)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	img := a.Images()[0].Image
	var files []tarEntry
	add := func(b []byte) string {
		d := digestOf(b)
		files = append(files, tarEntry{name: "blobs/sha256/" + strings.TrimPrefix(d, "sha256:"), body: string(b)})
		return d
	}
	cfg, _ := img.RawConfigFile()
	ls, _ := img.Layers()
	var ldescs []any
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		var g bytes.Buffer
		zw := gzip.NewWriter(&g)
		if _, err := io.Copy(zw, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		zw.Close()
		ldescs = append(ldescs, map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": add(g.Bytes()), "size": g.Len()})
	}
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": add(cfg), "size": len(cfg)},
		"layers": ldescs})
	md := add(man)
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": []any{
		map[string]any{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": md, "size": len(man), "platform": map[string]string{"os": "linux", "architecture": "amd64"}},
		map[string]any{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digestOf([]byte("absent")), "size": 1234, "platform": map[string]string{"os": "linux", "architecture": "arm64"}},
	}})
	id := add(idx)
	top, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{
		map[string]any{"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "digest": id, "size": len(idx),
			"annotations": map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1"}}}})
	files = append(files, tarEntry{name: "index.json", body: string(top)}, tarEntry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`})
	if err := os.WriteFile(out, layerTar(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// umociStatLayers: umoci stat reads the OCI layout's image and must list
// exactly diffIDs as its layers' diff_ids, each with a layer descriptor.
func umociStatLayers(t *testing.T, layout string, diffIDs []string) {
	t.Helper()
	dockertest.Require(t, "umoci")
	ref := layout
	if !strings.Contains(filepath.Base(layout), ":") {
		ref += ":latest"
	}
	out, err := runCmd("umoci", "stat", "--image", ref, "--json")
	if err != nil {
		t.Errorf("umoci stat %s: %v\n%s", ref, err, out)
		return
	}
	var st struct {
		History []struct {
			Layer *struct {
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			} `json:"layer"`
			DiffID string `json:"diff_id"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("umoci stat %s: %v\n%s", ref, err, out)
	}
	var got []string
	for _, h := range st.History {
		if h.Layer != nil {
			got = append(got, h.DiffID)
			if h.Layer.Digest == "" || h.Layer.Size <= 0 {
				t.Errorf("umoci stat %s: layer descriptor %+v", ref, h.Layer)
			}
		}
	}
	if !equalStrings(got, diffIDs) {
		t.Errorf("umoci stat %s: diff_ids %v, want %v", ref, got, diffIDs)
	}
}
