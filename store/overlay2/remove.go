package overlay2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/reference"
	"github.com/imgtool/imgtool/store"
)

// remove is docker rmi for one argument: untag a reference, and delete the
// image and every layer nothing else uses once no reference is left. It
// returns Docker's "Untagged: …" / "Deleted: …" lines.
func (s *Store) remove(arg string, force bool) ([]string, error) {
	id, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	tags, err := s.tagsOf(id)
	if err != nil {
		return nil, err
	}
	var out []string
	byRef := false
	if r, err := reference.Parse(arg); err == nil {
		if ref := reference.Familiar(r); contains(tags, ref) {
			byRef = true
			if _, err := s.removeTag(ref); err != nil {
				return nil, err
			}
			out = append(out, "Untagged: "+ref)
			remaining, untagged, err := s.dropOrphanDigests(r, tags)
			if err != nil {
				return nil, err
			}
			out = append(out, untagged...)
			if len(remaining) > 0 {
				return out, nil
			}
		}
	}
	if !byRef && len(tags) > 1 && !force {
		return nil, store.Errorf(store.ErrConflict, "conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", id.Hex[:12])
	}
	if children := s.children(id); len(children) > 0 {
		if byRef {
			return out, nil
		}
		return nil, store.Errorf(store.ErrConflict, "conflict: unable to delete %s (cannot be forced) - image has dependent child images", id.Hex[:12])
	}
	if c, running := s.containerUsing(id); c != "" {
		switch {
		case running:
			return out, store.Errorf(store.ErrInUse, "conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", id.Hex[:12], c[:12])
		case byRef && !force:
			return out, nil
		case !force:
			return nil, store.Errorf(store.ErrInUse, "conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", id.Hex[:12], c[:12])
		}
		// forced, as docker rmi -f: the image goes (untagged and its record
		// deleted); its layers stay while the stopped container uses them
	}
	if !byRef {
		for _, t := range tags {
			if _, err := s.removeTag(t); err != nil {
				return nil, err
			}
			out = append(out, "Untagged: "+t)
		}
	}
	deleted, err := s.deleteImage(id)
	return append(out, deleted...), err
}

// dropOrphanDigests is dockerd's cleanup after a tag is removed: when no
// other tag of that repository names the image, its digest references in
// that repository (repo@sha256:…, a pull's) go too. It returns the
// references left and the "Untagged: …" lines of those removed.
func (s *Store) dropOrphanDigests(removed name.Reference, tags []string) (remaining, out []string, err error) {
	repo := reference.FamiliarName(removed)
	var digests []string
	tagLeft := false
	for _, t := range tags {
		if t == reference.Familiar(removed) {
			continue
		}
		r, perr := reference.Parse(t)
		sameRepo := perr == nil && reference.FamiliarName(r) == repo
		_, isDigest := r.(name.Digest)
		switch {
		case sameRepo && isDigest:
			digests = append(digests, t)
			continue
		case sameRepo:
			tagLeft = true
		}
		remaining = append(remaining, t)
	}
	if _, isDigest := removed.(name.Digest); isDigest || tagLeft {
		return append(remaining, digests...), nil, nil
	}
	for _, d := range digests {
		if _, err := s.removeTag(d); err != nil {
			return nil, nil, err
		}
		out = append(out, "Untagged: "+d)
	}
	return remaining, out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// children lists images whose recorded parent is id.
func (s *Store) children(id v1.Hash) []v1.Hash {
	ids, _ := s.imageIDs()
	var out []v1.Hash
	for _, c := range ids {
		if s.metadata(c, "parent") == id.String() {
			out = append(out, c)
		}
	}
	return out
}

// containerUsing returns the ID of a container created from image id, and
// whether it runs.
func (s *Store) containerUsing(id v1.Hash) (string, bool) {
	entries, _ := os.ReadDir(filepath.Join(s.root, "containers"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(s.root, "containers", e.Name(), "config.v2.json"))
		if err != nil {
			continue
		}
		var c struct {
			ID, Image string
			State     struct{ Running bool }
		}
		if json.Unmarshal(b, &c) == nil && c.Image == id.String() && len(c.ID) >= 12 {
			return c.ID, c.State.Running
		}
	}
	return "", false
}

// deleteImage removes the config and metadata, then the layers no other
// image or container needs, top first.
func (s *Store) deleteImage(id v1.Hash) ([]string, error) {
	config, err := s.rawConfig(id)
	if err != nil {
		return nil, err
	}
	diffIDs, err := store.ParseConfig(config)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(s.contentPath(id.Hex)); err != nil {
		return nil, err
	}
	os.RemoveAll(s.metadataDir(id.Hex))
	out := []string{"Deleted: " + id.String()}
	inUse, err := s.layersInUse()
	if err != nil {
		return out, err
	}
	chains := imageid.ChainIDs(diffIDs)
	for i := len(chains) - 1; i >= 0; i-- {
		if inUse[chains[i]] || !s.hasLayer(chains[i]) {
			continue
		}
		if err := s.removeLayer(chains[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// layersInUse is the set of chain IDs that images and containers reference,
// with all their ancestors.
func (s *Store) layersInUse() (map[v1.Hash]bool, error) {
	used := map[v1.Hash]bool{}
	ids, err := s.imageIDs()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		b, err := os.ReadFile(s.contentPath(id.Hex))
		if err != nil {
			continue
		}
		diffIDs, err := store.ParseConfig(b)
		if err != nil {
			continue
		}
		for _, c := range imageid.ChainIDs(diffIDs) {
			used[c] = true
		}
	}
	mounts, _ := os.ReadDir(filepath.Join(s.layerDBDir(), "mounts"))
	for _, m := range mounts {
		b, err := os.ReadFile(filepath.Join(s.layerDBDir(), "mounts", m.Name(), "parent"))
		if err != nil {
			continue
		}
		h, err := v1.NewHash(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		chain, _ := s.chain(h)
		for _, l := range chain {
			used[l.ChainID] = true
		}
	}
	return used, nil
}

// removeLayer unregisters a layer the way Docker does: the layerdb dir is
// renamed to <hex>-<random>-removing first (so a crash leaves a marked
// leftover, not a half-deleted layer), then the overlay2 dir and its l/
// link go, then the renamed dir.
func (s *Store) removeLayer(chain v1.Hash) error {
	l, err := s.layer(chain)
	if err != nil {
		return err
	}
	removing := s.layerPath(chain.Hex) + "-" + randomID()[:16] + "-removing"
	if err := os.Rename(s.layerPath(chain.Hex), removing); err != nil {
		return err
	}
	if err := s.removeOverlayDir(l.CacheID); err != nil {
		return err
	}
	return os.RemoveAll(removing)
}

// removeOverlayDir deletes overlay2/<cacheID> and its l/ symlink. The link
// goes only when it points back at this dir, so a bad link file can neither
// name a path outside l/ nor take another layer's link with it.
func (s *Store) removeOverlayDir(cacheID string) error {
	if !validCacheID(cacheID) {
		return fmt.Errorf("%w: cache-id %q", errBadMetadata, cacheID)
	}
	if link, err := s.linkOf(cacheID); err == nil {
		if target, err := s.linkTarget(link); err == nil && target == cacheID {
			os.Remove(filepath.Join(s.overlayDir(), "l", link))
		}
	}
	dir := filepath.Join(s.overlayDir(), cacheID)
	unix.Unmount(filepath.Join(dir, "merged"), unix.MNT_DETACH)
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
