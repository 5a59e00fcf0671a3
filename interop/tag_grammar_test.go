package interop

import (
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// tagGrammarNames: distribution/reference's own test vectors (the grammar
// Docker parses names with), names at the edges of the tag grammar, and the
// hostile names of issue "Reliability round two" item 5. reference's unit
// tests hold the same vectors with their expected parses.
var tagGrammarNames = []string{
	// accepted by distribution/reference
	"docker/docker", "library/debian", "debian", "localhost/library/debian", "localhost/debian",
	"LOCALDOMAIN/library/debian", "docker.io/docker/docker", "docker.io/library/debian", "docker.io/debian",
	"index.docker.io/docker/docker", "index.docker.io/debian", "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/debian",
	"192.168.0.1", "192.168.0.1:80", "192.168.0.1:8/debian", "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
	"[fc00::1]:5000/docker", "[fc00:1:2:3:4:5:6:7]:5000/library/debian", "Docker/docker",
	"docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
	"docker-rules/docker", "docker---rules/docker", "d/docker", "jess/t", "dock__er/docker", "test_com", "test.com:tag",
	"test.com:5000", "test:5000/repo:tag", "lowercase:Uppercase", "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
	"xn--n3h.com/myimage:xn--n3h.com", "foo_bar.com:8080", "a:" + strings.Repeat("t", 128), "a:_x", "a:x..",
	// refused by distribution/reference
	"https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker", "docker///docker",
	"docker.io/docker/Docker", "[fc00::1]", "[fc00::1]:5000", "fc00::1:5000/debian", "[fe80::1%eth0]:5000/debian",
	"1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "docker-/docker", "____/____", "_docker/_docker",
	"dock..er/docker", "dock_.er/docker", "dock-.er/docker", "docker/", ":justtag", "Uppercase:tag",
	"test:5000/Uppercase/lowercase:tag", "aa/asdf$$^/aa", "a:" + strings.Repeat("t", 129), "a:-x", "a:.x",
	"test:5000/repo@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	// hostile
	"../evil:1", "x:..", "..", "./x", "a/../b", "a/./b", "/abs", "a//b", "a..b", "a/.b", "x:a/b", "x:1:2",
	"x y:1", "x:1 ", " x", "x\n:1", "é:1", "a:", "a@", "a:1@",
}

// TestTagGrammarDocker runs `docker tag` (private dockerd) and `imgtool tag`
// with every name of tagGrammarNames as the target: both must accept or
// both refuse, and an accepted name must be found under it by both.
func TestTagGrammarDocker(t *testing.T) {
	d := dockertest.Shared(t)
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	arch := root + "/testdata/archive/docker20.10-save.tar"
	d.Docker(t, "load", "-i", arch)
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	const src = "arch-fix/base:1"
	accepted, refused := 0, 0
	for _, name := range tagGrammarNames {
		_, derr, err := d.DockerErr("tag", src, name)
		dockerOK := err == nil
		r := dockertest.Imgtool(t, "--root", store, "tag", src, name)
		if dockerOK != r.OK() {
			t.Errorf("tag %q: docker ok=%v (%s), imgtool ok=%v (%s)", name, dockerOK, strings.TrimSpace(derr), r.OK(), strings.TrimSpace(r.Stderr))
			continue
		}
		if !dockerOK {
			refused++
			if r.Code != 1 && r.Code != 2 {
				t.Errorf("imgtool tag %q: exit %d", name, r.Code)
			}
			continue
		}
		accepted++
		did := d.Docker(t, "image", "inspect", "-f", "{{.Id}}", name)
		if out := dockertest.MustImgtool(t, "--root", store, "images", "-q", "--no-trunc", name); !strings.Contains(out, did) {
			t.Errorf("imgtool images %q = %q, docker has %s", name, out, did)
		}
		d.Docker(t, "rmi", name) // untag: the image keeps arch-fix/base:1
	}
	t.Logf("%d names accepted, %d refused by both", accepted, refused)
	if accepted < 20 || refused < 20 {
		t.Errorf("too few names on one side: %d accepted, %d refused", accepted, refused)
	}
}
