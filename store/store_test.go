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

// TestDetect: what --root holds decides the backend; another graphdriver
// and a non-empty directory that is no store are ErrForeignRoot (exit 2),
// and Open leaves them as they were.
func TestDetect(t *testing.T) {
	mk := func(t *testing.T, paths ...string) string {
		root := t.TempDir()
		for _, p := range paths {
			full := filepath.Join(root, p)
			if strings.HasSuffix(p, "/") {
				os.MkdirAll(full, 0o700)
				continue
			}
			os.MkdirAll(filepath.Dir(full), 0o700)
			os.WriteFile(full, nil, 0o600)
		}
		return root
	}
	t.Setenv("IMGTOOL_CONTAINERD_CONFIG", filepath.Join(t.TempDir(), "none.toml"))
	cases := []struct {
		name   string
		paths  []string
		driver string
		errHas string
	}{
		{"empty", nil, "overlay2", ""},
		{"overlay2", []string{"image/overlay2/"}, "overlay2", ""},
		{"containerd meta.db", []string{"io.containerd.metadata.v1.bolt/meta.db"}, "containerd", ""},
		{"containerd content", []string{"io.containerd.content.v1.content/"}, "containerd", ""},
		{"containerd snapshotter", []string{"io.containerd.snapshotter.v1.overlayfs/"}, "containerd", ""},
		{"docker managed containerd", []string{"containers/", "volumes/", "containerd/daemon/io.containerd.content.v1.content/"}, "containerd", ""},
		{"docker root, no containerd", []string{"containers/", "volumes/", "network/"}, "", "a Docker data root using the containerd image store"},
		{"overlay2 skeleton", []string{"image/", "overlay2/"}, "overlay2", ""},
		{"vfs", []string{"image/vfs/"}, "", `"vfs" storage driver`},
		{"other files", []string{"notes.txt", "src/"}, "", "is not an image store (it holds notes.txt, src)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := mk(t, c.paths...)
			got, err := store.Detect(root)
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) || !errors.Is(err, store.ErrForeignRoot) {
					t.Fatalf("Detect = %q, %v; want an ErrForeignRoot containing %q", got, err, c.errHas)
				}
				if _, err := store.Open(root); !errors.Is(err, store.ErrForeignRoot) {
					t.Fatalf("Open: %v", err)
				}
				return
			}
			if err != nil || got != c.driver {
				t.Fatalf("Detect = %q, %v; want %q", got, err, c.driver)
			}
		})
	}
}

// TestDetectSystemContainerd: a Docker data root without image/<driver>
// finds the system containerd's root through its config file.
func TestDetectSystemContainerd(t *testing.T) {
	ctrd := t.TempDir()
	os.MkdirAll(filepath.Join(ctrd, "io.containerd.content.v1.content"), 0o700)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfg, []byte("version = 2\nroot = \""+ctrd+"\"\n[grpc]\n  root = \"/nope\"\n"), 0o600)
	t.Setenv("IMGTOOL_CONTAINERD_CONFIG", cfg)
	docker := t.TempDir()
	os.Mkdir(filepath.Join(docker, "containers"), 0o700)
	os.Mkdir(filepath.Join(docker, "volumes"), 0o700)
	if got, err := store.ContainerdRootOf(docker); err != nil || got != ctrd {
		t.Fatalf("ContainerdRootOf = %q, %v; want %s", got, err, ctrd)
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

// TestDetectUpgradedDockerRoot: a Docker data root that still holds
// image/overlay2 is overlay2, unless daemon.json turns the containerd
// store on for that root (Docker 29 then ignores the graphdriver images).
func TestDetectUpgradedDockerRoot(t *testing.T) {
	docker := t.TempDir()
	for _, d := range []string{"containers", "volumes", "image/overlay2", "containerd/daemon/io.containerd.content.v1.content"} {
		os.MkdirAll(filepath.Join(docker, d), 0o700)
	}
	cfg := filepath.Join(t.TempDir(), "daemon.json")
	t.Setenv("IMGTOOL_DOCKER_CONFIG_FILE", cfg)
	for _, c := range []struct{ json, want string }{
		{`{}`, "overlay2"},
		{`{"features":{"containerd-snapshotter":true}}`, "overlay2"}, // another data root
		{`{"data-root":"` + docker + `","features":{"containerd-snapshotter":false}}`, "overlay2"},
		{`{"data-root":"` + docker + `","features":{"containerd-snapshotter":true}}`, "containerd"},
	} {
		os.WriteFile(cfg, []byte(c.json), 0o600)
		if got, err := store.Detect(docker); err != nil || got != c.want {
			t.Errorf("daemon.json %s: Detect = %q, %v; want %q", c.json, got, err, c.want)
		}
	}
}
