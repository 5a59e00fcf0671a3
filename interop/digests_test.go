package interop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// repoRefs is repositories.json's map for one repository of a data root.
func repoRefs(t *testing.T, root, repo string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "image", "overlay2", "repositories.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tf struct{ Repositories map[string]map[string]string }
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	return tf.Repositories[repo]
}

var pulledDigestRE = regexp.MustCompile(`Digest: (sha256:[0-9a-f]{64})`)

// dockerPullDigest runs docker pull REF and returns the digest it prints.
func dockerPullDigest(t *testing.T, d *dockertest.Daemon, ref string) string {
	t.Helper()
	m := pulledDigestRE.FindStringSubmatch(d.Docker(t, "pull", ref))
	if m == nil {
		t.Fatalf("docker pull %s printed no digest", ref)
	}
	return m[1]
}

// TestRepoDigestsMatchDockerd: a push and a pull record repo@sha256:…
// references in repositories.json as dockerd 20.10 does (a pull by tag the
// tag and the digest, a pull by digest the digest only, a push the pushed
// manifest's digest); images --digests, images and inspect's RepoDigests
// print them as docker does, on docker's own data root and on imgtool's.
func TestRepoDigestsMatchDockerd(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	archive := sampleArchive(t)
	src := newStore(t)
	dockertest.MustImgtool(t, "--root", src, "load", "-i", archive)
	app, byDigest := reg.host+"/dg/app", reg.host+"/dg/bydigest"
	dockertest.MustImgtool(t, "--root", src, "push", "arch-fix/app:2", app+":2")
	dockertest.MustImgtool(t, "--root", src, "push", "arch-fix/base:1", byDigest+":1")

	d := dockertest.Shared(t)
	appDigest := dockerPullDigest(t, d, app+":2")
	pushed := repoRefs(t, src, app)
	// docker push records repo@<pushed digest> (its tag was there before);
	// imgtool push SRC DST records the same, and no tag.
	if _, ok := pushed[app+"@"+appDigest]; !ok || len(pushed) != 1 {
		t.Errorf("imgtool push recorded %v; want %s@%s, as docker push records it", pushed, app, appDigest)
	}

	// pull by tag: the tag and repo@digest, the same entries as dockerd's
	ours := newStore(t)
	dockertest.MustImgtool(t, "--root", ours, "pull", app+":2")
	if want, got := repoRefs(t, d.Root, app), repoRefs(t, ours, app); !reflect.DeepEqual(got, want) {
		t.Errorf("repositories.json %s after pull:\n dockerd: %v\n imgtool: %v", app, want, got)
	}
	// pull by digest: only the digest reference
	baseDigest := dockerPullDigest(t, d, byDigest+":1")
	d.Docker(t, "rmi", byDigest+":1")
	d.Docker(t, "pull", byDigest+"@"+baseDigest)
	dockertest.MustImgtool(t, "--root", ours, "pull", byDigest+"@"+baseDigest)
	want, got := repoRefs(t, d.Root, byDigest), repoRefs(t, ours, byDigest)
	if len(want) != 1 || !reflect.DeepEqual(got, want) {
		t.Errorf("repositories.json %s after pull by digest:\n dockerd: %v\n imgtool: %v", byDigest, want, got)
	}

	for _, repo := range []string{app, byDigest} {
		for _, args := range [][]string{
			{"images", "--digests", repo},
			{"images", repo},
			{"images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}", repo},
			{"images", "--format", "{{.Repository}}|{{.Tag}}|{{.Digest}}", repo},
		} {
			sameOutput(t, d, true, args, args) // imgtool reading dockerd's data root
			dockerOut, _, err := d.DockerErr(args...)
			if err != nil {
				t.Fatal(err)
			}
			r := dockertest.MustImgtool(t, append([]string{"--root", ours}, args...)...)
			if w, g := sortTail(normCLI(dockerOut)), sortTail(normCLI(r)); w != g {
				t.Errorf("imgtool %q on its own pull differs from docker:\nimgtool:\n%s\ndocker:\n%s", args, g, w)
			}
		}
	}
	inspect := []string{"inspect", "--format", "{{json .RepoDigests}} {{json .RepoTags}}"}
	sameOutput(t, d, false, append(inspect, app+":2"), append(inspect, app+":2"))
	// save of a repository that has only a digest reference: the image, untagged
	saved := func(tarPath string) string {
		var m []struct {
			Config   string
			RepoTags []string
		}
		if err := json.Unmarshal(tarMember(t, tarPath, "manifest.json"), &m); err != nil || len(m) != 1 {
			t.Fatalf("%s manifest.json: %v %+v", tarPath, err, m)
		}
		return fmt.Sprintf("%s %v", strings.TrimSuffix(filepath.Base(m[0].Config), ".json"), m[0].RepoTags)
	}
	dockerTar, ourTar := filepath.Join(t.TempDir(), "d.tar"), filepath.Join(t.TempDir(), "o.tar")
	d.Docker(t, "save", "-o", dockerTar, byDigest)
	dockertest.MustImgtool(t, "--root", ours, "save", "-o", ourTar, byDigest)
	if w, g := saved(dockerTar), saved(ourTar); g != w {
		t.Errorf("save %s (a digest reference only): docker wrote %s, imgtool %s", byDigest, w, g)
	}

	// rmi of the last tag of a repository also untags its digest references
	untagged := func(out string) string {
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "Untagged: ") {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	wantRmi := untagged(d.Docker(t, "rmi", app+":2"))
	if got := untagged(dockertest.MustImgtool(t, "--root", ours, "rmi", app+":2")); got != wantRmi || !strings.Contains(got, "@sha256:") {
		t.Errorf("rmi %s:2:\n docker:  %s\n imgtool: %s", app, wantRmi, got)
	}
	digestsOnly := []string{"inspect", "--format", "{{json .RepoDigests}}", byDigest + "@" + baseDigest}
	r := dockertest.MustImgtool(t, append([]string{"--root", ours}, digestsOnly...)...)
	if g, w := strings.TrimSpace(r), `["`+byDigest+"@"+baseDigest+`"]`; g != w {
		t.Errorf("imgtool inspect RepoDigests after pull by digest: %s, want %s", g, w)
	}
}

// platformImage is a random image whose config names os/arch, as dockerd
// wants of what it pulls.
func platformImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestRepoDigestsIndexPull: pulling two platforms of one index records the
// index digest as dockerd does: on the first platform pulled; the second
// gets the tag, and the digest reference stays where it was.
func TestRepoDigestsIndexPull(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: platformImage(t, "amd64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: platformImage(t, "arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	dir := filepath.Join(t.TempDir(), "layout")
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	repo := reg.host + "/dg/multi"
	dockertest.MustImgtool(t, "push", "oci:"+dir, repo+":1")
	d := dockertest.Shared(t)
	ours := newStore(t)
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		d.Docker(t, "pull", "--platform", p, repo+":1")
		dockertest.MustImgtool(t, "--root", ours, "pull", "--platform", p, repo+":1")
	}
	want, got := repoRefs(t, d.Root, repo), repoRefs(t, ours, repo)
	if len(want) != 2 || !reflect.DeepEqual(got, want) {
		t.Errorf("repositories.json %s after two platforms of one index:\n dockerd: %v\n imgtool: %v", repo, want, got)
	}
}

// TestPushDistMetaLikeDockerd: a push records, per layer, what dockerd's
// push records: v2metadata-by-diffid/<diff ID> names the pushed blob and
// the repository (no HMAC without credentials), diffid-by-digest/<blob>
// names the diff ID. The blobs themselves differ (each gzips its own way).
func TestPushDistMetaLikeDockerd(t *testing.T) {
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	src := newStore(t)
	dockertest.MustImgtool(t, "--root", src, "load", "-q", "-i", sampleArchive(t))
	dockertest.MustImgtool(t, "--root", src, "push", "arch-fix/app:2", reg.host+"/dm2/ours:1")
	d := dockertest.Shared(t)
	d.Docker(t, "load", "-i", sampleArchive(t))
	d.Docker(t, "tag", "arch-fix/app:2", reg.host+"/dm2/theirs:1")
	d.Docker(t, "push", reg.host+"/dm2/theirs:1")

	diffIDs := strings.Fields(strings.NewReplacer("[", "", "]", "").Replace(
		d.Docker(t, "inspect", "--format", "{{.RootFS.Layers}}", "arch-fix/app:2")))
	type v2md struct{ Digest, SourceRepository, HMAC string }
	entryFor := func(root, diffID, repo string) (v2md, string) {
		t.Helper()
		dir := filepath.Join(root, "image", "overlay2", "distribution")
		b, err := os.ReadFile(filepath.Join(dir, "v2metadata-by-diffid", "sha256", strings.TrimPrefix(diffID, "sha256:")))
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		var list []v2md
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			if e.SourceRepository == repo {
				back, _ := os.ReadFile(filepath.Join(dir, "diffid-by-digest", "sha256", strings.TrimPrefix(e.Digest, "sha256:")))
				return e, string(back)
			}
		}
		t.Fatalf("%s: no entry for %s in %s", root, repo, b)
		return v2md{}, ""
	}
	// dockerd signs a push's entries: HMAC-SHA256 of digest+repository under
	// the digest string of the credentials' JSON ("{}" when anonymous)
	anon := sha256.Sum256([]byte("{}"))
	sign := func(e v2md) string {
		mac := hmac.New(sha256.New, []byte(fmt.Sprintf("sha256:%x", anon)))
		mac.Write([]byte(e.Digest + e.SourceRepository))
		return hex.EncodeToString(mac.Sum(nil))
	}
	for _, diffID := range diffIDs {
		theirs, theirBack := entryFor(d.Root, diffID, reg.host+"/dm2/theirs")
		ours, ourBack := entryFor(src, diffID, reg.host+"/dm2/ours")
		if theirBack != diffID || ourBack != diffID || theirs.HMAC != sign(theirs) || ours.HMAC != sign(ours) {
			t.Errorf("layer %s: dockerd %+v -> %q, imgtool %+v -> %q (want HMACs %s, %s)", diffID, theirs, theirBack, ours, ourBack, sign(theirs), sign(ours))
		}
	}
}
