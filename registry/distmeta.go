package registry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/atomicwriter"

	"github.com/imgtool/imgtool/imageid"
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

// distMeta is the metadata store of one data root. key, for a push, is
// dockerd's HMAC key of the push's credentials (hmacKey): dockerd's push
// signs each entry it records with it, and reuses only unsigned entries
// and those signed with the key of the credentials it pushes with.
type distMeta struct {
	dir string
	key []byte
}

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
		if md.Digest.Algorithm != "sha256" || md.HMAC != "" && md.HMAC != m.hmac(md.Digest, md.SourceRepository) {
			continue // recorded by a push with other credentials: not ours to reuse, as dockerd decides
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
	out = append(out, v2Metadata{Digest: digest, SourceRepository: src, HMAC: m.hmac(digest, src)})
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

// hmac is dockerd's ComputeV2MetadataHMAC: hex HMAC-SHA256 under the key
// of the digest and the source repository; "" without a key (a pull).
func (m *distMeta) hmac(digest v1.Hash, src string) string {
	if m == nil || len(m.key) == 0 {
		return ""
	}
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(digest.String()))
	mac.Write([]byte(src))
	return hex.EncodeToString(mac.Sum(nil))
}

// hmacKey is dockerd's ComputeV2MetadataHMACKey of the credentials a push
// uses: the sha256 digest string of the JSON of their username, password,
// identity and registry tokens (each left out when empty; "auth" is empty,
// as the docker CLI decodes it into username and password before sending).
// Anonymous pushes get the key of "{}", as dockerd's.
func hmacKey(cfg *authn.AuthConfig) []byte {
	if cfg == nil {
		cfg = &authn.AuthConfig{}
	}
	in := struct {
		Username      string `json:"username,omitempty"`
		Password      string `json:"password,omitempty"`
		Auth          string `json:"auth,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
		RegistryToken string `json:"registrytoken,omitempty"`
	}{Username: cfg.Username, Password: cfg.Password, IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken}
	b, err := json.Marshal(in)
	if err != nil {
		return nil
	}
	return []byte(imageid.FromBytes(b).String())
}

// writeAtomic writes a distribution metadata file as the store writes its
// files: moby's atomicwriter (temp file, fsync, rename).
func writeAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicwriter.WriteFile(p, b, 0o644)
}
