package registry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/imgtool/imgtool/imageid"
)

// TestDistMetaHMAC: a push signs what it records with its credentials'
// key (anonymous: the key of "{}", as dockerd; the value itself is checked
// against dockerd's in interop TestPushDistMetaLikeDockerd); a later push
// reuses entries it signed and unsigned ones (a pull's), not those signed
// with other credentials.
func TestDistMetaHMAC(t *testing.T) {
	root := t.TempDir()
	repo, _ := name.NewRepository("127.0.0.1:5000/app")
	other, _ := name.NewRepository("127.0.0.1:5000/other")
	diff := imageid.FromBytes([]byte("layer"))
	anon := &distMeta{dir: openDistMeta(root).dir, key: hmacKey(nil)}
	alice := &distMeta{dir: anon.dir, key: hmacKey(&authn.AuthConfig{Username: "alice", Password: "pw"})}
	pull := openDistMeta(root)
	if err := anon.add(diff, imageid.FromBytes([]byte("anon")), repo); err != nil {
		t.Fatal(err)
	}
	if err := alice.add(diff, imageid.FromBytes([]byte("alice")), repo); err != nil {
		t.Fatal(err)
	}
	if err := pull.add(diff, imageid.FromBytes([]byte("pulled")), repo); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m    *distMeta
		want int
	}{{anon, 2}, {alice, 2}, {pull, 1}} {
		if _, oth := c.m.candidates(diff, other); len(oth) != c.want {
			t.Errorf("key %q: %d candidates, want %d: %+v", c.m.key, len(oth), c.want, oth)
		}
	}
	if string(hmacKey(nil)) != imageid.FromBytes([]byte("{}")).String() {
		t.Errorf("anonymous key %q", hmacKey(nil))
	}
}
