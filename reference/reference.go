// Package reference parses image references the way Docker does and prints
// them in Docker's familiar form (nginx:latest, not index.docker.io/library/nginx:latest).
package reference

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

var anyUpper = regexp.MustCompile(`[A-Z]`)

// pathComponent is Docker's grammar for one "/"-separated part of a
// repository path; go-containerregistry's check is looser.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

// hex64 matches a full image ID without its algorithm; Docker refuses it as a name.
var hex64 = regexp.MustCompile(`^[a-f0-9]{64}$`)

// Parse parses a tag or digest reference; a reference without either gets :latest.
func Parse(s string) (name.Reference, error) {
	if hex64.MatchString(s) {
		return nil, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	repo := s
	if i := strings.IndexAny(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if j := strings.LastIndex(repo, ":"); j > strings.LastIndex(repo, "/") {
		repo = repo[:j]
	}
	if anyUpper.MatchString(repo) {
		return nil, fmt.Errorf("invalid reference format: repository name must be lowercase")
	}
	r, err := name.ParseReference(s, name.StrictValidation)
	if err != nil {
		r, err = name.ParseReference(s)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid reference format: %q", s)
	}
	for _, part := range strings.Split(r.Context().RepositoryStr(), "/") {
		if !pathComponent.MatchString(part) {
			return nil, fmt.Errorf("invalid reference format: %q", s)
		}
	}
	return r, nil
}

// ParseTag parses a reference that must carry a tag (or gets :latest).
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
// demands of RepoTags entries: "name" alone is an error.
func ParseNamedTagged(s string) (name.Tag, error) {
	t, err := ParseTag(s)
	if err != nil {
		return t, err
	}
	last := s[strings.LastIndex(s, "/")+1:]
	if !strings.Contains(last, ":") {
		return name.Tag{}, fmt.Errorf("invalid tag %q", s)
	}
	return t, nil
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
