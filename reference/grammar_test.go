package reference

import (
	"strings"
	"testing"
)

// The vectors below are distribution/reference's own (normalize_test.go
// TestValidateReferenceName, TestValidateRemoteName, TestParseRepositoryInfo;
// reference_test.go TestReferenceParse), the grammar Docker itself parses
// names with, plus the hostile names of issue "Reliability round two" item 5.
// interop TestTagGrammarDocker checks the same lists against a real dockerd.

const hexFF = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

// GrammarAccepted maps each name Docker accepts to its familiar form (as
// docker images prints it).
var GrammarAccepted = map[string]string{
	"docker/docker":                  "docker/docker:latest",
	"library/debian":                 "debian:latest",
	"debian":                         "debian:latest",
	"localhost/library/debian":       "localhost/library/debian:latest",
	"localhost/debian":               "localhost/debian:latest",
	"docker.io/docker/docker":        "docker/docker:latest",
	"docker.io/library/debian":       "debian:latest",
	"docker.io/debian":               "debian:latest",
	"index.docker.io/docker/docker":  "docker/docker:latest",
	"index.docker.io/library/debian": "debian:latest",
	"index.docker.io/debian":         "debian:latest",
	"127.0.0.1:5000/docker/docker":   "127.0.0.1:5000/docker/docker:latest",
	"127.0.0.1:5000/library/debian":  "127.0.0.1:5000/library/debian:latest",
	"127.0.0.1:5000/debian":          "127.0.0.1:5000/debian:latest",
	"192.168.0.1":                    "192.168.0.1:latest",
	"192.168.0.1:80":                 "192.168.0.1:80",
	"192.168.0.1:8/debian":           "192.168.0.1:8/debian:latest",
	"192.168.0.2:25000/debian":       "192.168.0.2:25000/debian:latest",
	"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev":           "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest",
	"docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a": "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a:latest",
	"docker-rules/docker":                "docker-rules/docker:latest",
	"docker---rules/docker":              "docker---rules/docker:latest",
	"doc/docker":                         "doc/docker:latest",
	"d/docker":                           "d/docker:latest",
	"jess/t":                             "jess/t:latest",
	"dock__er/docker":                    "dock__er/docker:latest",
	"test_com":                           "test_com:latest",
	"test.com:tag":                       "test.com:tag",
	"test.com:5000":                      "test.com:5000",
	"test.com/repo:tag":                  "test.com/repo:tag",
	"test:5000/repo":                     "test:5000/repo:latest",
	"test:5000/repo:tag":                 "test:5000/repo:tag",
	"test:5000/repo@sha256:" + hexFF:     "test:5000/repo@sha256:" + hexFF,
	"test:5000/repo:tag@sha256:" + hexFF: "test:5000/repo@sha256:" + hexFF,
	"lowercase:Uppercase":                "lowercase:Uppercase",
	"sub-dom1.foo.com/bar/baz/quux":      "sub-dom1.foo.com/bar/baz/quux:latest",
	"sub-dom1.foo.com/bar/baz/quux:some-long-tag":       "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
	"b.gcr.io/test.example.com/my-app:test.example.com": "b.gcr.io/test.example.com/my-app:test.example.com",
	"xn--n3h.com/myimage:xn--n3h.com":                   "xn--n3h.com/myimage:xn--n3h.com",
	"foo_bar.com:8080":                                  "foo_bar.com:8080",
	"foo/foo_bar.com:8080":                              "foo/foo_bar.com:8080",
	"a:" + strings.Repeat("t", 128):                     "a:" + strings.Repeat("t", 128),
	"a:_x":                                              "a:_x",
	"a:x..":                                             "a:x..",
	"a.b-c__d/e":                                        "a.b-c__d/e:latest",
}

// GrammarRejected are names Docker refuses.
var GrammarRejected = []string{
	"https://github.com/docker/docker",
	"docker/Docker",
	"-docker",
	"-docker/docker",
	"-docker.io/docker/docker",
	"docker///docker",
	"docker.io/docker/Docker",
	"docker.io/docker///docker",
	"[fc00::1]",
	"[fc00::1]:5000",
	"fc00::1:5000/debian",
	"[fe80::1%eth0]:5000/debian",
	"[2001:db8:3:4::192.0.2.33]:5000/debian",
	"1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
	"docker-/docker",
	"-docker-/docker",
	"____/____",
	"_docker/_docker",
	"dock..er/docker",
	"dock_.er/docker",
	"dock-.er/docker",
	"docker/",
	"this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker",
	"",
	":justtag",
	"@sha256:" + hexFF,
	"repo@sha256:ffffffffffffffffffffffffffffffffff",
	"validname@invaliddigest:" + hexFF,
	"Uppercase:tag",
	"test:5000/Uppercase/lowercase:tag",
	"aa/asdf$$^/aa",
	"a:" + strings.Repeat("t", 129),
	"a:-x",
	"a:.x",
	// distribution/reference (Docker 25+) accepts these, Docker 20.10 (the
	// peer of the interop suite) refuses them: an IPv6 or upper-case domain.
	"[fc00::1]:5000/docker",
	"[fc00::1]:5000/docker/docker",
	"[fc00:1:2:3:4:5:6:7]:5000/library/debian",
	"LOCALDOMAIN/library/debian",
	"Docker/docker",
	// Hostile names (issue "Reliability round two", item 5).
	"../evil:1",
	"x:..",
	"..",
	"./x",
	"a/../b",
	"a/./b",
	"/abs",
	"a//b",
	"a..b",
	"a/.b",
	"x:a/b",
	"x:1:2",
	"x y:1",
	"x:1 ",
	" x",
	"x\n:1",
	"x:\x00",
	"é:1",
	"a:",
	"a@",
	"a:1@",
}

func TestDockerGrammarAccepted(t *testing.T) {
	for in, want := range GrammarAccepted {
		r, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v; Docker accepts it", in, err)
			continue
		}
		if got := Familiar(r); got != want {
			t.Errorf("Familiar(Parse(%q)) = %q, want %q", in, got, want)
		}
	}
}

func TestDockerGrammarRejected(t *testing.T) {
	for _, in := range GrammarRejected {
		if r, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %s; Docker rejects it", in, FullyQualified(r))
		}
		if _, err := ParseNamedTagged(in); err == nil {
			t.Errorf("ParseNamedTagged(%q) accepted; Docker rejects it", in)
		}
	}
}

// ParseTag is docker tag's target: a digest is refused; ParseNamedTagged is
// docker load's RepoTags: the tag must be written out.
func TestTagAndRepoTagRules(t *testing.T) {
	for _, in := range []string{"test:5000/repo@sha256:" + hexFF, "test:5000/repo:tag@sha256:" + hexFF} {
		if _, err := ParseTag(in); err == nil {
			t.Errorf("ParseTag(%q) accepted a digest reference", in)
		}
		if _, err := ParseNamedTagged(in); err == nil {
			t.Errorf("ParseNamedTagged(%q) accepted a digest reference", in)
		}
	}
	for _, in := range []string{"debian", "docker.io/library/debian", "127.0.0.1:5000/debian", "test.com/x"} {
		if _, err := ParseNamedTagged(in); err == nil || err.Error() != `invalid tag "`+in+`"` {
			t.Errorf("ParseNamedTagged(%q) = %v, want invalid tag", in, err)
		}
		if _, err := ParseTag(in); err != nil {
			t.Errorf("ParseTag(%q): %v", in, err)
		}
	}
	for _, in := range []string{"debian:1", "test.com:5000/x:y", "127.0.0.1:5000/a/b:c"} {
		if _, err := ParseNamedTagged(in); err != nil {
			t.Errorf("ParseNamedTagged(%q): %v", in, err)
		}
	}
}
