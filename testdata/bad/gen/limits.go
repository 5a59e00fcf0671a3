package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// limitRSS is the reader's memory budget: every limit case must fail (or
// pass) within it, whatever the archive claims.
const limitRSS = 64

// limitCases are archives that are small on disk and ask a reader for
// unbounded work or memory: every reader must fail at the limit it knows
// (layer depth, JSON size in all, entry counts) and stay linear in its
// input. Each case bounds the imgtool process's peak RSS; the error names
// the limit, so the work done is bounded by that count.
func limitCases(add func(Case, string, []byte)) {
	lim := func(name, want, doc, ext string, data []byte) {
		add(Case{Name: name, Cmd: "load", Args: []string{"load", "-i", "{file}"}, Expect: "fail", Want: want, Doc: doc, MaxRSSMiB: limitRSS}, name+ext, data)
	}
	lim("limit-legacy-chain-3000", "max depth exceeded",
		"a pre-1.10 save whose v1 parent chain is 3,000 deep (was: 1.3 GB, 46 s; the chain was copied per node)", ".tar.gz", gz(legacyChain(3000, false)))
	lim("limit-legacy-chain-loop", "parent chain loops", "a pre-1.10 save whose v1 parents form a loop", ".tar", legacyChain(3, true))
	lim("limit-config-60mb-40x", "too large for a JSON file",
		"manifest.json names one 60 MB config (spaces, gzipped) 40 times (was: past 4 GB, re-read per entry)", ".tar.gz", sharedConfig(60<<20, 40, nil))
	lim("limit-config-8mb-40x", "Bad:Tag",
		"manifest.json names one 8 MB config 40 times, the 40th with a bad tag: read once, not 40 times", ".tar.gz", sharedConfig(8<<20, 40, []string{"Bad:Tag"}))
	lim("limit-json-in-all", "bytes in all",
		"five distinct 7 MB configs: each under the per-file limit, 35 MB of JSON in all", ".tar.gz", manyConfigs(5, 7<<20))
	lim("limit-manifest-items", "more than 10000",
		"manifest.json lists 10,001 images (one config, one layer)", ".tar.gz", manyItems(10001))
	lim("limit-tar-members", "more than 65536 entries",
		"70,000 empty tar members (a gzip of headers, a few hundred KB)", ".tar.gz", gz(manyMembers(70000)))
	lim("limit-oci-index-depth", "nested more than 8 deep",
		"an OCI layout whose index.json names an index nested 12 deep", ".tar", nestedIndexes(12))
}

func hexOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// legacyChain is a pre-1.10 save (repositories, ID/json, ID/layer.tar) of
// n v1 images, each the parent of the next; loop makes the first the
// child of the last.
func legacyChain(n int, loop bool) []byte {
	emptyLayer := make([]byte, 1024) // an empty tar
	ids := make([]string, n)
	for i := range ids {
		ids[i] = hexOf(fmt.Sprintf("legacy-node-%d", i))
	}
	var ents []ent
	for i, id := range ids {
		v := map[string]any{"id": id, "os": "linux", "created": epoch.Format("2006-01-02T15:04:05Z")}
		if i > 0 {
			v["parent"] = ids[i-1]
		} else if loop {
			v["parent"] = ids[n-1]
		}
		j, _ := json.Marshal(v)
		ents = append(ents, dir(id+"/"), blob(id+"/json", j), file(id+"/VERSION", "1.0"), blob(id+"/layer.tar", emptyLayer))
	}
	repos, _ := json.Marshal(map[string]map[string]string{"deep": {"1": ids[n-1]}})
	return mkTar(append(ents, blob("repositories", repos))...)
}

// paddedConfig is a valid config of about size bytes: JSON whitespace
// after the last field compresses to almost nothing.
func paddedConfig(size int, n int) []byte {
	b, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "comment": fmt.Sprint(n),
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	pad := size - len(b)
	if pad < 0 {
		pad = 0
	}
	return append(append(b[:len(b)-1], bytes.Repeat([]byte(" "), pad)...), '}')
}

// sharedConfig names one config of size bytes in n manifest.json items;
// the last item gets lastTags.
func sharedConfig(size, n int, lastTags []string) []byte {
	cfg := paddedConfig(size, 0)
	items := make([]item, n)
	for i := range items {
		items[i] = item{Config: "config.json", RepoTags: []string{fmt.Sprintf("shared:%d", i)}, Layers: []string{}}
	}
	if lastTags != nil {
		items[n-1].RepoTags = lastTags
	}
	m, _ := json.Marshal(items)
	return gz(mkTar(blob("config.json", cfg), blob("manifest.json", m)))
}

// manyConfigs is a manifest.json of n images with distinct configs of
// size bytes each.
func manyConfigs(n, size int) []byte {
	var ents []ent
	var items []item
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("c%d.json", i)
		ents = append(ents, blob(name, paddedConfig(size, i)))
		items = append(items, item{Config: name, RepoTags: []string{fmt.Sprintf("many:%d", i)}, Layers: []string{}})
	}
	m, _ := json.Marshal(items)
	return gz(mkTar(append(ents, blob("manifest.json", m))...))
}

func manyItems(n int) []byte {
	cfg := config("linux", digest(goodLayer))
	items := make([]item, n)
	for i := range items {
		items[i] = item{Config: "c.json", RepoTags: []string{}, Layers: []string{"l0/layer.tar"}}
	}
	m, _ := json.Marshal(items)
	return gz(mkTar(blob("c.json", cfg), dir("l0/"), blob("l0/layer.tar", goodLayer), blob("manifest.json", m)))
}

func manyMembers(n int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < n; i++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("e%d", i), Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch, Format: tar.FormatUSTAR})
	}
	tw.Close()
	return buf.Bytes()
}

// nestedIndexes is an OCI layout whose index.json names an index that
// names an index ... depth levels down to an empty one.
func nestedIndexes(depth int) []byte {
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	type index struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []desc `json:"manifests"`
	}
	const mt = "application/vnd.oci.image.index.v1+json"
	ents := []ent{file("oci-layout", `{"imageLayoutVersion":"1.0.0"}`), dir("blobs/"), dir("blobs/sha256/")}
	children := []desc{}
	for i := 0; i < depth; i++ {
		b, _ := json.Marshal(index{2, mt, children})
		ents = append(ents, blob("blobs/sha256/"+strings.TrimPrefix(digest(b), "sha256:"), b))
		children = []desc{{mt, digest(b), len(b)}}
	}
	top, _ := json.Marshal(index{2, mt, children})
	return mkTar(append(ents, blob("index.json", top))...)
}
