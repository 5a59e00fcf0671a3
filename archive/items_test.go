package archive

import (
	"encoding/json"
	"os"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/imgtool/imgtool/item"
	"github.com/imgtool/imgtool/platform"
)

const peerFixtures = "/work/shared/peer-fixtures"

// A containerd --all-platforms export names one platform in manifest.json
// and every platform in index.json. Items and Images come from one walk of
// index.json, so every platform convert sees, load sees too.
func TestContainerdAllPlatformsOneWalk(t *testing.T) {
	p := peerFixtures + "/peer-made/containerd-1.6.20/ctr-export-regclient-b1-all-platforms.tar"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("peer fixture: %v", err)
	}
	a, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	items := a.Items()
	if len(items) != 1 || items[0].Index == nil {
		t.Fatalf("items: %+v", items)
	}
	all, err := IndexImages(items[0].Index)
	if err != nil {
		t.Fatal(err)
	}
	imgs := a.Images()
	if len(imgs) < 2 || len(imgs) != len(all) {
		t.Fatalf("Images() has %d platforms, the index %d", len(imgs), len(all))
	}
	for i, im := range imgs {
		if im.Digest != all[i].Digest || platform.String(im.Platform) != platform.String(all[i].Platform) {
			t.Errorf("image %d: %s %s, index has %s %s", i, im.Digest, platform.String(im.Platform), all[i].Digest, platform.String(all[i].Platform))
		}
		if len(im.Tags) != 1 || im.Tags[0].String() != "docker.io/regclient/testrepo:b1" {
			t.Errorf("image %d tags %v", i, im.Tags)
		}
	}
}

// manifest.json's Parent is read into item.Parent and written back, as
// moby does, only when the parent is saved in the same archive.
func TestParentRoundTrip(t *testing.T) {
	l := testLayers
	c1, c2 := configFor(t, l[:1], "linux"), configFor(t, l, "linux")
	mj := mustJSON(t, []map[string]any{
		{"Config": "c1.json", "RepoTags": []string{"a:1"}, "Layers": []string{"l0/layer.tar"}},
		{"Config": "c2.json", "RepoTags": []string{"b:1"}, "Layers": []string{"l0/layer.tar", "l1/layer.tar", "l2/layer.tar"}, "Parent": sha(c1).String()},
	})
	a := openBytes(t, mkTar(t, []tf{{name: "c1.json", body: c1}, {name: "c2.json", body: c2},
		{name: "l0/layer.tar", body: l[0]}, {name: "l1/layer.tar", body: l[1]}, {name: "l2/layer.tar", body: l[2]},
		{name: "manifest.json", body: mj}}))
	items := a.Items()
	if len(items) != 2 || items[0].Parent != (v1.Hash{}) || items[1].Parent != sha(c1) {
		t.Fatalf("parents: %+v", items)
	}
	for _, f := range []Format{Docker, DockerLegacy} {
		for _, tc := range []struct {
			items []item.Item
			want  string
		}{{items, sha(c1).String()}, {items[1:], ""}} {
			_, got := members(t, writeBytes(t, tc.items, Options{Format: f}))
			var back []struct{ Parent string }
			if err := json.Unmarshal(got["manifest.json"].body, &back); err != nil {
				t.Fatal(err)
			}
			if last := back[len(back)-1].Parent; last != tc.want {
				t.Errorf("%v, %d items: Parent %q, want %q", f, len(tc.items), last, tc.want)
			}
		}
	}
}
