package main

import (
	"sort"
	"strings"

	"github.com/imgtool/imgtool/reference"
)

// splitDigestRefs splits an image's references into its RepoTags
// (repo:tag) and RepoDigests (repo@sha256:…), each sorted as dockerd's
// reference store sorts them (by the fully qualified reference); never nil.
func splitDigestRefs(refs []string) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	for _, r := range refs {
		if strings.Contains(r, "@") {
			digests = append(digests, r)
		} else {
			tags = append(tags, r)
		}
	}
	byQualified := func(s []string) {
		key := func(r string) string {
			if p, err := reference.Parse(r); err == nil {
				return reference.FullyQualified(p)
			}
			return r
		}
		sort.SliceStable(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
	}
	byQualified(tags)
	byQualified(digests)
	return tags, digests
}

// hasTag reports whether refs hold a tag, not only digests: an image with
// digest references alone is dangling to docker images --filter
// dangling=true (its RepoTags are empty) and listed by dangling=false.
func hasTag(refs []string) bool {
	for _, r := range refs {
		if !strings.Contains(r, "@") {
			return true
		}
	}
	return false
}
