package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// The store is input too: a data root someone else wrote (or an attacker
// who can write one file in it) must not turn rm, rmi, export, mount or
// check --repair against the host. Each case below damages one piece of
// store metadata so that it names a path outside the store, runs the
// commands that read it, and checks that the victim outside is untouched
// and that every failure is imgtool's one-line error.

type storeFixture struct {
	store     string // --root
	victim    string // a directory outside the store, with files in it
	cacheID   string // good:1's only layer
	link      string // that layer's l/ name
	container string // a container of good:1 ("" when the case has none)
	mountID   string
	initID    string
}

type metaCase struct {
	name      string
	container bool                                // create a container of good:1 first
	damage    func(t *testing.T, f *storeFixture) // the metadata that points outside
	cmds      [][]string                          // each run in turn; {c} is the container
	fail      map[int]string                      // cmds[i] must fail with this in its error
}

func TestStoreMetadataCannotEscape(t *testing.T) {
	rewrite := func(rel func(f *storeFixture) string, content func(f *storeFixture) string) func(*testing.T, *storeFixture) {
		return func(t *testing.T, f *storeFixture) {
			if err := os.WriteFile(filepath.Join(f.store, rel(f)), []byte(content(f)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The store is sandbox/a/b/store and the victim sandbox/a/b/victim:
	// a link name is joined below overlay2/l/, IDs below overlay2/.
	escape := func(f *storeFixture) string { return "../../../victim/precious" }
	cases := []metaCase{
		{name: "container-link", container: true,
			damage: rewrite(func(f *storeFixture) string { return "overlay2/" + f.mountID + "/link" }, escape),
			cmds:   [][]string{{"rm", "{c}"}}},
		{name: "container-init-link", container: true,
			damage: rewrite(func(f *storeFixture) string { return "overlay2/" + f.initID + "/link" }, escape),
			cmds:   [][]string{{"rm", "{c}"}}},
		{name: "layer-link", damage: rewrite(func(f *storeFixture) string { return "overlay2/" + f.cacheID + "/link" }, escape),
			cmds: [][]string{{"check"}, {"rmi", "good:1"}}, fail: map[int]string{0: "link"}},
		{name: "container-lower", container: true,
			damage: rewrite(func(f *storeFixture) string { return "overlay2/" + f.mountID + "/lower" },
				func(f *storeFixture) string { return "l/../../../victim" }),
			cmds: [][]string{{"check"}, {"rm", "{c}"}}, fail: map[int]string{0: "lower"}},
		{name: "mount-id", container: true,
			damage: rewrite(func(f *storeFixture) string {
				return "image/overlay2/layerdb/mounts/" + f.container + "/mount-id"
			}, func(f *storeFixture) string { return "../../victim" }),
			cmds: [][]string{{"rm", "{c}"}, {"export", "{c}"}}, fail: map[int]string{0: "No such container", 1: "No such container"}},
		{name: "cache-id", damage: rewrite(func(f *storeFixture) string {
			return "image/overlay2/layerdb/sha256/" + layerDirName(t, f.store) + "/cache-id"
		}, func(f *storeFixture) string { return "../../victim" }),
			cmds: [][]string{{"export", "good:1"}, {"save", "good:1"}, {"rmi", "good:1"}},
			fail: map[int]string{0: "cache-id", 1: "cache-id", 2: "cache-id"}},
		{name: "diff-symlink", damage: func(t *testing.T, f *storeFixture) {
			diff := filepath.Join(f.store, "overlay2", f.cacheID, "diff")
			mustDo(t, os.RemoveAll(diff), os.Symlink(f.victim, diff))
		}, cmds: [][]string{{"export", "good:1"}, {"save", "good:1"}, {"check"}, {"check", "--repair"}, {"rmi", "good:1"}},
			fail: map[int]string{0: "symlink", 1: "symlink", 2: "symlink", 3: "symlink"}},
		{name: "layer-dir-symlink", damage: func(t *testing.T, f *storeFixture) {
			dir := filepath.Join(f.store, "overlay2", f.cacheID)
			mustDo(t, os.MkdirAll(filepath.Join(f.victim, "diff"), 0o755), os.RemoveAll(dir), os.Symlink(f.victim, dir))
		}, cmds: [][]string{{"export", "good:1"}, {"check", "--repair"}, {"rmi", "good:1"}},
			fail: map[int]string{0: "symlink", 1: "symlink"}},
		{name: "l-symlink", damage: func(t *testing.T, f *storeFixture) {
			l := filepath.Join(f.store, "overlay2", "l", f.link)
			mustDo(t, os.Remove(l), os.Symlink(f.victim, l))
		}, cmds: [][]string{{"check"}, {"check", "--repair"}, {"rmi", "good:1"}}, fail: map[int]string{0: "points at"}},
	}
	tmpl := templateStore(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runMetaCase(t, c, tmpl) })
	}
}

func runMetaCase(t *testing.T, c metaCase, tmpl string) {
	sandbox := t.TempDir()
	f := &storeFixture{store: filepath.Join(sandbox, "a", "b", "store"), victim: filepath.Join(sandbox, "a", "b", "victim")}
	mustDo(t, os.MkdirAll(filepath.Dir(f.store), 0o755))
	copyTree(t, tmpl, f.store)
	mustDo(t, os.MkdirAll(filepath.Join(f.victim, "sub"), 0o755),
		os.WriteFile(filepath.Join(f.victim, "precious"), []byte("keep me\n"), 0o644),
		os.WriteFile(filepath.Join(f.victim, "sub", "also"), []byte("and me\n"), 0o644))
	f.fill(t, c.container)
	c.damage(t, f)
	before := dockertest.StoreListing(f.victim)
	for i, args := range c.cmds {
		for j := range args {
			args[j] = strings.ReplaceAll(args[j], "{c}", f.container)
		}
		res := imgtool(t, f.store, args...)
		t.Logf("imgtool %s: exit %d: %s", strings.Join(args, " "), res.code, strings.TrimSpace(res.stderr))
		want, mustFail := c.fail[i]
		switch {
		case mustFail && res.code == 0:
			t.Errorf("imgtool %s succeeded on store metadata that points outside", strings.Join(args, " "))
		case mustFail && args[0] == "check" && !strings.Contains(res.stdout, want):
			t.Errorf("imgtool %s: report %q does not mention %q", strings.Join(args, " "), res.stdout, want)
		case mustFail && args[0] != "check" && !strings.Contains(lastLine(res.stderr), want):
			t.Errorf("imgtool %s: error %q does not mention %q", strings.Join(args, " "), lastLine(res.stderr), want)
		}
		if res.code != 0 && args[0] != "check" {
			if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "imgtool "+args[0]+": ") {
				t.Errorf("imgtool %s: want one error line, got %q", strings.Join(args, " "), res.stderr)
			}
		}
		if res.code == 0 && args[0] == "export" {
			t.Errorf("export read a layer through store metadata that points outside")
		}
		if strings.Contains(res.stdout, "keep me") {
			t.Errorf("imgtool %s printed a file from outside the store", strings.Join(args, " "))
		}
		if diff := dockertest.ListingDiff(before, dockertest.StoreListing(f.victim)); diff != "" {
			t.Fatalf("imgtool %s changed a directory outside the store:\n%s", strings.Join(args, " "), diff)
		}
	}
}

// fill records good:1's layer and, when asked, creates a container of it.
func (f *storeFixture) fill(t *testing.T, container bool) {
	t.Helper()
	layer := filepath.Join(f.store, "image", "overlay2", "layerdb", "sha256", layerDirName(t, f.store))
	f.cacheID = readTrim(t, filepath.Join(layer, "cache-id"))
	f.link = readTrim(t, filepath.Join(f.store, "overlay2", f.cacheID, "link"))
	if !container {
		return
	}
	f.container = strings.TrimSpace(mustImgtool(t, f.store, "create", "good:1").stdout)
	mounts := filepath.Join(f.store, "image", "overlay2", "layerdb", "mounts", f.container)
	f.mountID = readTrim(t, filepath.Join(mounts, "mount-id"))
	f.initID = readTrim(t, filepath.Join(mounts, "init-id"))
}

func layerDirName(t *testing.T, store string) string {
	t.Helper()
	layers, _ := filepath.Glob(filepath.Join(store, "image", "overlay2", "layerdb", "sha256", "*"))
	if len(layers) != 1 {
		t.Fatalf("template store should have one layer, has %d", len(layers))
	}
	return filepath.Base(layers[0])
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
