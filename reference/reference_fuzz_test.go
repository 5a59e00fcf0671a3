package reference_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/reference"
)

// pathComponent is Docker's grammar for one component of a repository path
// (distribution/reference: alphanumerics joined by ".", "_", "__" or dashes).
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

// FuzzParse: whatever Parse accepts has a familiar and a fully qualified
// form that parse back to the same reference.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"busybox", "busybox:1", "library/busybox:latest", "docker.io/library/busybox",
		"localhost:5000/a/b:c", "a@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"Bad:Tag", "a:", ":a", "a//b", "a..b", "-a", "x:" + string(make([]byte, 200))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := reference.Parse(s)
		if err != nil {
			return
		}
		for _, c := range strings.Split(r.Context().RepositoryStr(), "/") {
			if !pathComponent.MatchString(c) {
				t.Fatalf("Parse(%q) accepted the path component %q, which Docker rejects", s, c)
			}
		}
		fam := reference.Familiar(r)
		r2, err := reference.Parse(fam)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its familiar form %q does not parse: %v", s, fam, err)
		}
		if got := reference.Familiar(r2); got != fam {
			t.Fatalf("familiar form of %q is %q, reparsed %q", s, fam, got)
		}
		fq := reference.FullyQualified(r)
		r3, err := reference.Parse(fq)
		if err != nil {
			t.Fatalf("fully qualified form %q of %q does not parse: %v", fq, s, err)
		}
		if reference.Familiar(r3) != fam {
			t.Fatalf("%q: familiar %q, via fully qualified %q", s, fam, reference.Familiar(r3))
		}
		reference.FamiliarName(r)
	})
}
