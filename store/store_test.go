package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/store"
	_ "github.com/imgtool/imgtool/store/overlay2"
)

func TestParseConfigErrors(t *testing.T) {
	cases := map[string]string{
		`{"os":"linux"}`: "invalid image JSON, no RootFS key",
		`{"os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`:                 "cannot load windows image on linux",
		`{"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"x"}]}`: "too many non-empty layers in History section",
		`{"rootfs":{"type":"layers","diff_ids":["nope"]}}`:                          "config rootfs.diff_ids[0]",
		`not json`: "invalid image JSON",
	}
	for in, want := range cases {
		_, err := store.ParseConfig([]byte(in))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseConfig(%s) = %v, want %q", in, err, want)
		}
	}
}

func TestContainerdStoreRefused(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "containerd"), 0o700)
	_, err := store.Open(root)
	if err == nil || !strings.Contains(err.Error(), "containerd image store") {
		t.Fatalf("err = %v", err)
	}
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "image", "vfs"), 0o700)
	if _, err := store.Open(root2); err == nil || !strings.Contains(err.Error(), `"vfs" storage driver`) {
		t.Fatalf("err = %v", err)
	}
}

// TestOpenEmptyRoot: a root that does not exist yet is an overlay2 store,
// and lookups in it fail with ErrNotFound through every interface.
func TestOpenEmptyRoot(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "new"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Driver() != "overlay2" {
		t.Fatalf("driver %q", st.Driver())
	}
	if _, err := st.Refs().Resolve("nosuch:1"); !errors.Is(err, store.ErrNotFound) || err.Error() != "No such image: nosuch:1" {
		t.Errorf("Resolve: %v", err)
	}
	if _, err := st.Containers().Find("abc"); !errors.Is(err, store.ErrNotFound) || err.Error() != "No such container: abc" {
		t.Errorf("Find: %v", err)
	}
	if _, err := st.Layers().Get(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Layers().Get: %v", err)
	}
	if _, err := st.Images().Config(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Images().Config: %v", err)
	}
}
