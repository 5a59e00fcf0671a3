package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A store the user may not read gets one line that names it and says how
// to pick another (--root, IMGTOOL_ROOT); a --root whose parents do not
// exist yet is created, as dockerd creates its --data-root.
func TestStoreDirectoryMessages(t *testing.T) {
	requireRoot(t)
	sandbox := t.TempDir()
	os.Chmod(sandbox, 0o755)
	os.Chmod(filepath.Dir(sandbox), 0o755)
	store := filepath.Join(sandbox, "store")
	copyTree(t, templateStore(t), store) // root-owned, 0700 inside
	res := run{root: store, args: []string{"images"}, user: true}.do(t)
	line := lastLine(res.stderr)
	if res.code == 0 || !strings.HasPrefix(line, "imgtool images: ") || !strings.Contains(line, "--root") ||
		!strings.Contains(line, "IMGTOOL_ROOT") || !strings.Contains(line, store) {
		t.Errorf("images on a store the user may not read: exit %d, %q", res.code, res.stderr)
	}
	nested := filepath.Join(sandbox, "a", "b", "store")
	mustImgtool(t, nested, "load", "-i", filepath.Join(badDir(t), "good.tar"))
	if _, err := os.Stat(filepath.Join(nested, "image", "overlay2", "repositories.json")); err != nil {
		t.Errorf("load into a --root with missing parents: %v", err)
	}
}
