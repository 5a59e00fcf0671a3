package archive

import (
	"os"
	"testing"

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
