package reliability

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/flatten"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestUnprivilegedRoundTrip: a store written by an unprivileged user keeps
// whiteouts, devices and ownership in tar-split only, yet save regenerates
// every layer byte-exactly (same image ID, same diff_ids) and export gives
// the same tree as root's.
func TestUnprivilegedRoundTrip(t *testing.T) {
	dockertest.Require(t, "root")
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"special", "whiteout", "opaque", "hardlinks"} {
		t.Run(c, func(t *testing.T) {
			sandbox := t.TempDir()
			os.Chmod(sandbox, 0o755)
			os.Chmod(filepath.Dir(sandbox), 0o755)
			in := filepath.Join(sandbox, "in.tar")
			data, err := os.ReadFile(filepath.Join(root, "testdata", "flatten", c+".tar"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(in, data, 0o644)
			work := filepath.Join(sandbox, "work")
			os.Mkdir(work, 0o755)
			os.Chown(work, nobody, nobody)
			userStore, rootStore := filepath.Join(work, "store"), filepath.Join(sandbox, "rootstore")

			must := func(r run) string {
				t.Helper()
				res := r.do(t)
				if res.code != 0 {
					t.Fatal(res)
				}
				return res.stdout
			}
			must(run{root: userStore, user: true, args: []string{"load", "-q", "-i", in}})
			must(run{root: rootStore, args: []string{"load", "-q", "-i", in}})
			ids := func(store string, user bool) string {
				return must(run{root: store, user: user, args: []string{"images", "-q", "--no-trunc"}})
			}
			if a, b := ids(userStore, true), ids(rootStore, false); a != b || a == "" {
				t.Fatalf("image IDs differ: user %q root %q", a, b)
			}
			out := filepath.Join(work, "out.tar")
			ref := strings.TrimSpace(strings.Split(ids(userStore, true), "\n")[0])
			must(run{root: userStore, user: true, args: []string{"save", "-o", out, ref}})
			// The unprivileged save loads into a fresh root store with the same ID
			// and passes verify (every layer re-hashed against its diff_id).
			fresh := filepath.Join(sandbox, "fresh")
			must(run{root: fresh, args: []string{"load", "-q", "-i", out}})
			if got := ids(fresh, false); got != ids(rootStore, false) {
				t.Fatalf("after an unprivileged save: %q, want %q", got, ids(rootStore, false))
			}
			must(run{root: fresh, args: []string{"verify", "docker-archive:" + out}})
			// Export as the user (tar-split path) equals export as root (overlay dirs).
			userTar := must(run{root: userStore, user: true, args: []string{"export", ref}})
			rootTar := must(run{root: rootStore, args: []string{"export", ref}})
			a, err := flatten.Describe(bytes.NewReader([]byte(userTar)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := flatten.Describe(bytes.NewReader([]byte(rootTar)))
			if err != nil {
				t.Fatal(err)
			}
			if d := flatten.DiffTrees(b, a); d != nil {
				t.Fatalf("unprivileged export differs from root's (- root, + user):\n%s", strings.Join(d, "\n"))
			}
		})
	}
}
