package interop

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// pruneFixture fills a private daemon with dangling, used and labelled
// images, stops it, and returns it with a copy of its root for imgtool.
func pruneFixture(t *testing.T) (*dockertest.Daemon, string) {
	t.Helper()
	d := dockertest.Start(t)
	base := dockertest.BaseImage(t, d, "")
	d.Build(t, "p:moving", "FROM "+base+"\nRUN echo first > /m\n", nil)
	d.Build(t, "p:moving", "FROM "+base+"\nRUN echo second > /m\n", nil)
	d.Build(t, "p:labelled", "FROM "+base+"\nLABEL keep=no\nRUN echo l > /l\n", nil)
	d.Build(t, "p:labelled", "FROM "+base+"\nLABEL keep=no\nRUN echo l2 > /l\n", nil)
	d.Build(t, "p:used", "FROM "+base+"\nRUN echo u > /u\n", nil)
	d.Docker(t, "create", "--network", "none", "--name", "p-ctr", "p:used")
	d.Build(t, "p:used", "FROM "+base+"\nRUN echo u2 > /u\n", nil)
	d.Build(t, "p:unused", "FROM "+base+"\nRUN echo x > /x\n", nil)
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", d.Root, cp).CombinedOutput(); err != nil {
		t.Fatalf("copying the daemon root: %v\n%s", err, out)
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	return d, cp
}

// pruneSummary keeps what both print the same way: untagged lines, the
// deleted image IDs (docker also lists layers) and the total.
func pruneSummary(out string, imageIDs map[string]bool) string {
	var keep []string
	total := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "untagged: "):
			keep = append(keep, l)
		case strings.HasPrefix(l, "deleted: ") && imageIDs[strings.TrimPrefix(l, "deleted: ")]:
			keep = append(keep, l)
		case strings.HasPrefix(l, "Total reclaimed space: "):
			total = l
		}
	}
	sort.Strings(keep)
	return strings.Join(append(keep, total), "\n")
}

func TestCLIPrune(t *testing.T) {
	d, root := pruneFixture(t)
	ids := map[string]bool{}
	for _, id := range strings.Fields(d.Docker(t, "images", "-a", "-q", "--no-trunc")) {
		ids[id] = true
	}
	list := []string{"images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"}
	same := func(what string, dockerArgs, ourArgs []string) {
		t.Helper()
		want := d.Docker(t, dockerArgs...)
		got := dockertest.MustImgtool(t, append([]string{"--root", root}, ourArgs...)...)
		if w, g := pruneSummary(want, ids), pruneSummary(got, ids); w != g {
			t.Errorf("%s: imgtool\n%s\ndocker\n%s\n(full docker output:\n%s)", what, g, w, want)
		}
		w := sortTail("x\n" + d.Docker(t, list...))
		g := sortTail("x\n" + strings.TrimSpace(dockertest.MustImgtool(t, append([]string{"--root", root}, list...)...)))
		if w != g {
			t.Errorf("%s: images after: imgtool\n%s\ndocker\n%s", what, g, w)
		}
	}

	// Without -f and nothing on stdin: docker asks, reads no "y", removes nothing.
	wantOut, _, derr := d.DockerInErr(strings.NewReader(""), "image", "prune")
	r := dockertest.ImgtoolIn(t, strings.NewReader(""), "--root", root, "image", "prune")
	if (derr == nil) != r.OK() || strings.TrimSpace(r.Stdout) != strings.TrimSpace(wantOut) {
		t.Errorf("prune without -f: imgtool %s\ndocker stdout %q err %v", r, wantOut, derr)
	}
	same("prune --filter label=keep=no", []string{"image", "prune", "-f", "--filter", "label=keep=no"}, []string{"image", "prune", "-f", "--filter", "label=keep=no"})
	same("prune -f", []string{"image", "prune", "-f"}, []string{"prune", "-f"})
	same("prune -f again", []string{"image", "prune", "-f"}, []string{"image", "prune", "-f"})
	same("prune -a --filter until=1h", []string{"image", "prune", "-a", "-f", "--filter", "until=1h"}, []string{"prune", "-a", "-f", "--filter", "until=1h"})
	same("prune dangling=false (= -a)", []string{"image", "prune", "-f", "--filter", "dangling=false"}, []string{"image", "prune", "-f", "--filter", "dangling=false"})
	r = dockertest.ImgtoolIn(t, strings.NewReader("y\n"), "--root", root, "image", "prune")
	if !r.OK() || !strings.Contains(r.Stdout, "Total reclaimed space: 0B") {
		t.Errorf("prune answered y: %s", r)
	}
	sameFailure(t, d, "invalid filter 'foo'", []string{"image", "prune", "-f", "--filter", "foo=1"}, []string{"image", "prune", "-f", "--filter", "foo=1"})
}

// TestCLIRmiForceUsed: rmi -f ID of an image a stopped container uses
// untags it and deletes its record (the layers stay for the container),
// line for line as docker does.
func TestCLIRmiForceUsed(t *testing.T) {
	d, root := pruneFixture(t)
	id := d.ImageID(t, "p:unused")
	d.Docker(t, "tag", "p:unused", "p:second")
	d.Docker(t, "create", "--network", "none", "--name", "p-ctr2", "p:unused")
	dockertest.MustImgtool(t, "--root", root, "tag", "p:unused", "p:second")
	dockertest.MustImgtool(t, "--root", root, "create", "--name", "p-ctr2", "p:unused")
	want := d.Docker(t, "rmi", "-f", id[7:19])
	got := strings.TrimSpace(dockertest.MustImgtool(t, "--root", root, "rmi", "-f", id[7:19]))
	lines := func(s string) string {
		out := strings.Split(strings.TrimSpace(s), "\n")
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	if lines(got) != lines(want) || !strings.Contains(got, "Deleted: "+id) {
		t.Errorf("rmi -f of a used image: imgtool %q, docker %q", got, want)
	}
	list := []string{"images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}}"}
	if w, g := sortTail("x\n"+d.Docker(t, list...)), sortTail("x\n"+strings.TrimSpace(dockertest.MustImgtool(t, append([]string{"--root", root}, list...)...))); strings.Contains(g, "p:unused") || strings.Contains(g, "p:second") || strings.Contains(w, "p:unused") {
		t.Errorf("tags after rmi -f: imgtool\n%s\ndocker\n%s", g, w)
	}
}
