// Package item holds the one record that every image location reads and
// writes: an image or a whole index, with the names the location gives it.
// Archive readers return items, sinks take them, and transfer.Convert moves
// them; nothing else describes "an image with its names".
package item

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/reference"
)

// Item is one top-level thing a location holds: an image, or (OCI forms,
// registries) a multi-platform index kept whole.
type Item struct {
	Image v1.Image      // nil when Index is set
	Index v1.ImageIndex // a multi-platform index; nil for an image
	// Whole is Index as the source holds it when a platform choice cut
	// Index down (nil when it did not): a store that records indexes (the
	// containerd store, as Docker 29) keeps these bytes, the image's ID.
	Whole v1.ImageIndex
	Tags  []name.Tag
	// RefNames are org.opencontainers.image.ref.name values that do not
	// come with a tag (bare names such as "latest" in skopeo's layouts).
	RefNames []string
	// Digest is the manifest or index digest; zero when the location has
	// no manifest for the image (legacy and pre-25 docker saves, the store).
	Digest   v1.Hash
	Platform *v1.Platform // images only; nil when nothing says
	// Parent is the image ID a docker save's manifest.json names as the
	// image's parent (zero for none).
	Parent v1.Hash
	// DigestRefs are repo@sha256:… references a store sink records beside
	// the tags, as dockerd records what it pulled (its RepoDigests); only a
	// registry source sets them.
	DigestRefs []name.Digest
}

// ID is an image item's image ID (its config digest); zero for an index
// or an unreadable config.
func (it Item) ID() v1.Hash {
	if it.Image == nil {
		return v1.Hash{}
	}
	h, err := it.Image.ConfigName()
	if err != nil {
		return v1.Hash{}
	}
	return h
}

// Names are the item's familiar tags, then its bare ref names.
func (it Item) Names() []string {
	out := make([]string, 0, len(it.Tags)+len(it.RefNames))
	for _, t := range it.Tags {
		out = append(out, reference.Familiar(t))
	}
	for _, n := range it.RefNames {
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
