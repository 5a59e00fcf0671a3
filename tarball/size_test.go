package tarball

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The size Apply reports without walking the layer is the walk's
// (DirSize, Docker's directory.Size), for every kind of entry, in both
// privilege modes, and when a later entry removes an earlier one's bytes
// (then Apply walks).
func TestApplySizeMatchesWalk(t *testing.T) {
	layers := map[string][]byte{
		"rich": richLayer(t),
		"hard links to a file and a symlink": buildTar(t,
			file("a", strings.Repeat("a", 1000), 0o644), hardlink("b", "a"), hardlink("c", "a"),
			symlink("s", "a-target-of-some-length"), hardlink("t", "s")),
		"write through a symlink the layer made": buildTar(t,
			dir("real/", 0o755), symlink("link", "real"), file("link/f", "through", 0o644), file("real/g", "direct", 0o644)),
		"a file replaces a parent made for deeper entries": buildTar(t,
			file("p/q/r", strings.Repeat("r", 5000), 0o644), file("p/q2", "x", 0o644), file("p", "now a file", 0o644)),
		"a directory entry claims a made parent": buildTar(t,
			file("d/e/f", "deep", 0o644), dir("d/", 0o700), dir("d/e/", 0o700)),
		"a replaced symlink target": buildTar(t,
			dir("real/", 0o755), file("real/f", strings.Repeat("x", 300), 0o644), symlink("link", "real"), file("link/f", "short", 0o644)),
		"empty files, fifos, whiteouts": buildTar(t,
			file("empty", "", 0o644), file("w/.wh.gone", "", 0o600), file("o/.wh..wh..opq", "", 0o644)),
	}
	for name, layer := range layers {
		for _, opts := range []ApplyOptions{DefaultApplyOptions(), {}} {
			dir := filepath.Join(t.TempDir(), "layer")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			var ts bytes.Buffer
			res, err := Apply(bytes.NewReader(layer), dir, &ts, opts)
			if err != nil {
				t.Errorf("%s (%+v): %v", name, opts, err)
				continue
			}
			walked, err := DirSize(dir)
			if err != nil {
				t.Fatal(err)
			}
			if res.Size != walked {
				t.Errorf("%s (%+v): Apply reports %d bytes, the walk finds %d", name, opts, res.Size, walked)
			}
		}
	}
}
