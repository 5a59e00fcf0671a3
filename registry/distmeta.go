package registry

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/atomicwriter"

	"github.com/imgtool/imgtool/store"
)

// Docker's distribution metadata, kept in the data root exactly as dockerd
// keeps it (image/overlay2/distribution):
//
//	v2metadata-by-diffid/sha256/<diffID hex>  JSON [{"Digest","SourceRepository","HMAC"}]
//	diffid-by-digest/sha256/<digest hex>      "sha256:<diffID>"
//
// It remembers which compressed blob a layer was pulled as (or pushed as)
// and where, so that pushing a layer the registry already has neither
// recompresses nor uploads it, and a blob in another repository of the
// same registry is mounted. Both dockerd and imgtool read what the other
// wrote. It is a cache: a lost or stale entry only costs a compression.

type v2Metadata struct {
	Digest           v1.Hash `json:"Digest"`
	SourceRepository string  `json:"SourceRepository"`
	HMAC             string  `json:"HMAC"`
}

const maxV2Metadata = 50 // per diff ID, as dockerd

type distMeta struct{ dir string }

func openDistMeta(root string) *distMeta {
	// Only an overlay2 store has this cache: a containerd root (Docker 29's
	// store) must not get an overlay2 layout made inside it.
	if root == "" {
		return nil
	}
	if driver, err := store.Detect(root); err != nil || driver != "overlay2" {
		return nil
	}
	return &distMeta{dir: filepath.Join(root, "image", "overlay2", "distribution")}
}

// sourceRepository names repo as dockerd does: "docker.io/library/x" for
// Docker Hub, "host:port/path" otherwise.
func sourceRepository(repo name.Repository) string {
	if repo.RegistryStr() == name.DefaultRegistry {
		return "docker.io/" + repo.RepositoryStr()
	}
	return repo.Name()
}

func (m *distMeta) byDiffID(diffID v1.Hash) []v2Metadata {
	if m == nil || diffID.Algorithm != "sha256" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(m.dir, "v2metadata-by-diffid", "sha256", diffID.Hex))
	if err != nil {
		return nil
	}
	var out []v2Metadata
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// candidates returns the blobs known for diffID on repo's registry, those
// of repo itself first.
func (m *distMeta) candidates(diffID v1.Hash, repo name.Repository) (same, other []v2Metadata) {
	for _, md := range m.byDiffID(diffID) {
		if md.Digest.Algorithm != "sha256" || md.HMAC != "" {
			continue // HMAC'd entries belong to authenticated pushes of dockerd's; skip rather than guess
		}
		r, err := name.NewRepository(md.SourceRepository)
		if err != nil || r.RegistryStr() != repo.RegistryStr() {
			continue
		}
		if r.RepositoryStr() == repo.RepositoryStr() {
			same = append(same, md)
		} else {
			other = append(other, md)
		}
	}
	return same, other
}

// add records that diffID is blob digest in repo.
func (m *distMeta) add(diffID, digest v1.Hash, repo name.Repository) error {
	if m == nil {
		return nil
	}
	src := sourceRepository(repo)
	list := m.byDiffID(diffID)
	out := list[:0]
	for _, md := range list {
		if md.Digest != digest || md.SourceRepository != src {
			out = append(out, md)
		}
	}
	out = append(out, v2Metadata{Digest: digest, SourceRepository: src})
	if len(out) > maxV2Metadata {
		out = out[len(out)-maxV2Metadata:]
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(m.dir, "v2metadata-by-diffid", "sha256", diffID.Hex), b); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(m.dir, "diffid-by-digest", "sha256", digest.Hex), []byte(diffID.String()))
}

// writeAtomic writes a distribution metadata file as the store writes its
// files: moby's atomicwriter (temp file, fsync, rename).
func writeAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicwriter.WriteFile(p, b, 0o644)
}
