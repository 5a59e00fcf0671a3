package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestServerAddress(t *testing.T) {
	for in, want := range map[string]string{"": IndexServer, "docker.io": IndexServer, "127.0.0.1:5000": "127.0.0.1:5000", "index.docker.io": "index.docker.io"} {
		if got := ServerAddress(in); got != want {
			t.Errorf("ServerAddress(%q) = %q, want %q (docker login's key)", in, got, want)
		}
	}
}

func TestStaticKeychain(t *testing.T) {
	kc, err := StaticKeychain("u:p:with:colons")
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := name.NewRepository("example.test/a")
	a, _ := kc.Resolve(repo)
	cfg, _ := a.Authorization()
	if cfg.Username != "u" || cfg.Password != "p:with:colons" {
		t.Errorf("creds %+v", cfg)
	}
	for _, bad := range []string{"", "user", ":pass"} {
		if _, err := StaticKeychain(bad); err == nil {
			t.Errorf("StaticKeychain(%q) accepted", bad)
		}
	}
}

// SaveLogin then Logout through the docker CLI's file store: the
// keychain pulls use reads them back, and logout removes every spelling.
func TestSaveLoginLogout(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	cf, err := LoadDockerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveLogin(cf, "127.0.0.1:5999", "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(b), `"127.0.0.1:5999": {`) || !strings.Contains(string(b), `"auth": "YWxpY2U6czNjcmV0"`) {
		t.Errorf("config.json: %s", b)
	}
	repo, _ := name.NewRepository("127.0.0.1:5999/a")
	a, _ := authn.DefaultKeychain.Resolve(repo)
	if c, _ := a.Authorization(); c.Username != "alice" || c.Password != "s3cret" {
		t.Errorf("the default keychain reads %+v", c)
	}
	cf, _ = LoadDockerConfig()
	host, err := Logout(cf, "http://127.0.0.1:5999/")
	if err != nil || host != "127.0.0.1:5999" {
		t.Errorf("Logout: %q %v", host, err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(b), "5999") {
		t.Errorf("logout left %s", b)
	}
}
