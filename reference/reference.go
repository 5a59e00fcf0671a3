// Package reference parses image references exactly as Docker does (with
// distribution/reference, Docker's own grammar and normalisation) and prints
// them in Docker's familiar form (nginx:latest, not index.docker.io/library/nginx:latest).
//
// The parsed value is a go-containerregistry name.Reference, which the rest
// of imgtool uses; a string is only turned into one after Docker's grammar
// has accepted it, so nothing outside that grammar ("../evil:1", "x:..",
// "Bad", "a//b") reaches a store, an archive or a registry.
package reference

import (
	"errors"
	"fmt"
	"strings"

	dref "github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
)

// Parse parses a tag or digest reference with Docker's grammar
// (ParseNormalizedNamed); a reference without either gets :latest. A
// reference with both a tag and a digest is the digest reference, as for
// docker pull.
func Parse(s string) (name.Reference, error) {
	named, err := parseNormalized(s)
	if err != nil {
		return nil, err
	}
	// Build the value from Docker's split rather than re-parsing the string
	// with go-containerregistry, whose idea of where the registry ends
	// differs (Docker: a first component with ".", ":" or an upper-case
	// letter, or "localhost").
	reg, err := name.NewRegistry(dref.Domain(named))
	if err != nil {
		return nil, fmt.Errorf("invalid reference format: %q: %w", s, err)
	}
	repo := reg.Repo(dref.Path(named))
	switch v := named.(type) {
	case dref.Canonical:
		return repo.Digest(v.Digest().String()), nil
	case dref.Tagged:
		return repo.Tag(v.Tag()), nil
	}
	return repo.Tag("latest"), nil
}

// parseNormalized is distribution/reference's ParseNormalizedNamed with the
// error texts of the Docker release imgtool is tested against (20.10).
func parseNormalized(s string) (dref.Named, error) {
	named, err := dref.ParseNormalizedNamed(s)
	if err == nil {
		// Docker 20.10 (docker/distribution 2.7) predates two extensions
		// of the grammar: an upper-case domain and an IPv6 domain. Such a
		// name cannot be tagged or loaded there, so refuse it with 20.10's words.
		domain := dref.Domain(named)
		if strings.ToLower(domain) != domain {
			return nil, errors.New("invalid reference format: repository name must be lowercase")
		}
		if strings.HasPrefix(domain, "[") {
			return nil, fmt.Errorf("invalid reference format: %q", s)
		}
		return named, nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "64-byte hexadecimal"):
		return nil, err
	case strings.HasSuffix(msg, "must be lowercase"), errors.Is(err, dref.ErrNameContainsUppercase):
		return nil, errors.New("invalid reference format: repository name must be lowercase")
	}
	return nil, fmt.Errorf("invalid reference format: %q", s)
}

// ParseTag parses a reference that must carry a tag (or gets :latest), as
// docker tag demands of its target: a digest is refused.
func ParseTag(s string) (name.Tag, error) {
	r, err := Parse(s)
	if err != nil {
		return name.Tag{}, err
	}
	t, ok := r.(name.Tag)
	if !ok {
		return name.Tag{}, fmt.Errorf("invalid reference format: %q is a digest reference, a tag is needed", s)
	}
	return t, nil
}

// ParseNamedTagged parses a tag that must be written out, as docker load
// demands of RepoTags entries: "name" alone, or a digest, is an error.
func ParseNamedTagged(s string) (name.Tag, error) {
	named, err := parseNormalized(s)
	if err != nil {
		return name.Tag{}, err
	}
	if _, ok := named.(dref.NamedTagged); !ok {
		return name.Tag{}, fmt.Errorf("invalid tag %q", s)
	}
	if _, ok := named.(dref.Canonical); ok {
		return name.Tag{}, fmt.Errorf("invalid tag %q", s)
	}
	return ParseTag(s)
}

// FamiliarName is the repository as Docker shows it: "nginx", "user/app", "host:5000/app".
func FamiliarName(r name.Reference) string {
	return familiarRepo(r.Context())
}

func familiarRepo(repo name.Repository) string {
	reg := repo.RegistryStr()
	path := repo.RepositoryStr()
	if reg != name.DefaultRegistry && reg != "docker.io" {
		return reg + "/" + path
	}
	if rest, ok := strings.CutPrefix(path, "library/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return path
}

// Familiar is the full reference as Docker shows it: "nginx:latest", "app@sha256:…".
func Familiar(r name.Reference) string {
	switch v := r.(type) {
	case name.Tag:
		return familiarRepo(v.Context()) + ":" + v.TagStr()
	case name.Digest:
		return familiarRepo(v.Context()) + "@" + v.DigestStr()
	}
	return r.String()
}

// FullyQualified is the reference with its registry, as containerd names
// images: "docker.io/library/nginx:latest".
func FullyQualified(r name.Reference) string {
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	s := reg + "/" + repo.RepositoryStr()
	switch v := r.(type) {
	case name.Tag:
		return s + ":" + v.TagStr()
	case name.Digest:
		return s + "@" + v.DigestStr()
	}
	return s
}
