package interop

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// roundTrip: docker save (20.10 legacy) -> imgtool load -> imgtool save
// [formatArgs] -> docker rmi -> docker load -> same image.
func roundTrip(t *testing.T, tag, marker string, formatArgs []string, viaStdio bool) {
	d := dockertest.Shared(t)
	id := richImage(t, d, tag, marker)
	layers := rootFSLayers(t, d, tag)
	if len(layers) < 4 {
		t.Fatalf("precondition: %s has %d layers, want >= 4", tag, len(layers))
	}
	wantRun := d.Run(t, tag, dockertest.RichCheck...)
	if strings.Contains(wantRun, "BAD") {
		t.Fatalf("precondition: the built image is not what RichDockerfile promises:\n%s", wantRun)
	}

	dir := t.TempDir()
	dockerTar := filepath.Join(dir, "docker.tar")
	d.Docker(t, "save", "-o", dockerTar, tag)
	dockerArchive := readArchive(t, dockerTar)
	requireFeatures(t, dockerArchive, "whiteout", "opaque", "hardlink", "symlink")

	store := newStore(t)
	var loadOut string
	if viaStdio {
		f, err := os.Open(dockerTar)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		loadOut = dockertest.MustImgtoolIn(t, f, "--root", store, "load")
	} else {
		loadOut = dockertest.MustImgtool(t, "--root", store, "load", "-i", dockerTar)
	}
	if !strings.Contains(loadOut, "Loaded image: "+tag) {
		t.Errorf("imgtool load output %q lacks %q", loadOut, "Loaded image: "+tag)
	}

	ourTar := filepath.Join(dir, "imgtool.tar")
	args := append([]string{"--root", store, "save"}, formatArgs...)
	if viaStdio {
		out := dockertest.MustImgtool(t, append(args, tag)...)
		if err := os.WriteFile(ourTar, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		dockertest.MustImgtool(t, append(args, "-o", ourTar, tag)...)
	}
	ours := readArchive(t, ourTar)
	t.Logf("imgtool save %v wrote: %v", formatArgs, ours.names())
	if len(ours.manifest) != 1 || !equalStrings(ours.manifest[0].RepoTags, []string{tag}) {
		t.Errorf("manifest.json of imgtool's archive: %+v, want one item tagged %s", ours.manifest, tag)
	}

	removeImage(t, d, tag, id, layers)
	out := d.Docker(t, "load", "-i", ourTar)
	if !strings.Contains(out, "Loaded image: "+tag) {
		t.Errorf("docker load output %q lacks %q", out, "Loaded image: "+tag)
	}
	checkSameImage(t, d, tag, id, layers, wantRun)
	// A second round: docker can save what it loaded from us.
	d.Docker(t, "save", "-o", filepath.Join(dir, "again.tar"), tag)
}

// Test 1: docker save -> imgtool load -> imgtool save (default format) ->
// docker load gives the same image.
func TestDockerSaveImgtoolRoundTrip(t *testing.T) {
	roundTrip(t, "interop-roundtrip:1", "roundtrip", nil, false)
}

// Same through stdin (load without -i) and stdout (save without -o).
func TestDockerSaveImgtoolRoundTripStdio(t *testing.T) {
	roundTrip(t, "interop-roundtrip-stdio:1", "roundtrip-stdio", nil, true)
}

// Test 2: same with --format docker-legacy; also the legacy layout and
// Docker's own v1 IDs.
func TestDockerSaveImgtoolRoundTripLegacy(t *testing.T) {
	tag := "interop-legacy:1"
	roundTrip(t, tag, "legacy", []string{"--format", "docker-legacy"}, false)

	// Layout checks, comparing with what docker (20.10, legacy) writes now
	// that it holds the image again.
	d := dockertest.Shared(t)
	dir := t.TempDir()
	dockerTar := filepath.Join(dir, "docker.tar")
	d.Docker(t, "save", "-o", dockerTar, tag)
	store := newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", dockerTar)
	ourTar := filepath.Join(dir, "ours.tar")
	dockertest.MustImgtool(t, "--root", store, "save", "--format", "docker-legacy", "-o", ourTar, tag)
	theirs, ours := readArchive(t, dockerTar), readArchive(t, ourTar)
	if _, ok := ours.files["repositories"]; !ok {
		t.Errorf("legacy archive has no repositories file: %v", ours.names())
	}
	for _, n := range ours.names() {
		if strings.HasPrefix(n, "blobs/") || n == "index.json" || n == "oci-layout" {
			t.Errorf("legacy archive has a Docker 25+/OCI entry %s", n)
		}
	}
	if len(ours.manifest) == 1 && len(theirs.manifest) == 1 {
		if ours.manifest[0].Config != theirs.manifest[0].Config {
			t.Errorf("Config path %s, docker writes %s", ours.manifest[0].Config, theirs.manifest[0].Config)
		}
		// v1 IDs are deterministic (for a daemon in UTC): the layer paths
		// should be exactly Docker's.
		if !equalStrings(ours.manifest[0].Layers, theirs.manifest[0].Layers) {
			t.Errorf("legacy Layers (v1 IDs) differ from docker save's:\n ours   %v\n docker %v (TZ=%q)",
				ours.manifest[0].Layers, theirs.manifest[0].Layers, os.Getenv("TZ"))
		}
		for _, l := range theirs.manifest[0].Layers {
			dir := strings.TrimSuffix(l, "/layer.tar")
			for _, f := range []string{"VERSION", "json"} {
				want, _ := theirs.file(dir + "/" + f)
				got, ok := ours.file(dir + "/" + f)
				if !ok {
					t.Errorf("legacy archive lacks %s/%s", dir, f)
				} else if !bytes.Equal(got, want) {
					t.Errorf("%s/%s differs from docker's:\n ours   %s\n docker %s", dir, f, got, want)
				}
			}
		}
		if got, want := ours.files["repositories"], theirs.files["repositories"]; !bytes.Equal(got, want) {
			t.Errorf("repositories differs: ours %q, docker %q", got, want)
		}
	}
}

type imageRow struct{ repo, tag, id, size string }

func (r imageRow) String() string { return r.repo + ":" + r.tag + " " + r.id + " size=" + r.size }

func normNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// Test 3: imgtool images on a running daemon's data root lists what
// `docker images` lists.
func TestImagesMatchesDaemon(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	richImage(t, d, "interop-images:1", "images")
	d.Docker(t, "tag", "interop-images:1", "interop-images:also")
	d.Docker(t, "tag", "interop-images:1", "localhost:5000/some/repo:v1")
	// A dangling image: re-point the tag of a built image.
	d.Build(t, "interop-images:moving", "FROM "+base+"\nRUN echo first > /moving\n", nil)
	d.Build(t, "interop-images:moving", "FROM "+base+"\nRUN echo second > /moving\n", nil)

	var want []string
	// --format json is docker's: Size as docker prints it ("1.98MB").
	for _, line := range strings.Split(d.Docker(t, "images", "--no-trunc", "--format", "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("docker images line %q", line)
		}
		want = append(want, imageRow{f[0], f[1], f[2], f[3]}.String())
	}
	sort.Strings(want)

	r := dockertest.Imgtool(t, "--root", d.Root, "images", "--no-trunc", "--format", "json")
	if !r.OK() {
		t.Fatalf("%s", r)
	}
	var got []string
	for _, m := range jsonLines(t, r.Stdout) {
		got = append(got, imageRow{normNone(str(m, "Repository")), normNone(str(m, "Tag")), str(m, "ID"), str(m, "Size")}.String())
	}
	sort.Strings(got)
	if !equalStrings(got, want) {
		t.Errorf("imgtool images --format json on the daemon root:\n%s\ndocker images:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The table form: docker's header, one row per docker row.
	r = dockertest.Imgtool(t, "--root", d.Root, "images")
	if !r.OK() {
		t.Fatalf("%s", r)
	}
	lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
	if hdr := strings.Join(strings.Fields(lines[0]), " "); hdr != "REPOSITORY TAG IMAGE ID CREATED SIZE" {
		t.Errorf("images header %q", lines[0])
	}
	if len(lines)-1 != len(want) {
		t.Errorf("images prints %d rows, docker %d:\n%s", len(lines)-1, len(want), r.Stdout)
	}
	// -q --no-trunc: full IDs, same set as docker's.
	r = dockertest.Imgtool(t, "--root", d.Root, "images", "-q", "--no-trunc")
	if !r.OK() {
		t.Fatalf("%s", r)
	}
	wantIDs := uniqSorted(strings.Fields(d.Docker(t, "images", "-q", "--no-trunc")))
	if gotIDs := uniqSorted(strings.Fields(r.Stdout)); !equalStrings(gotIDs, wantIDs) {
		t.Errorf("images -q --no-trunc: %v, docker %v", gotIDs, wantIDs)
	}
}

func uniqSorted(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range s {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// Test 4: imgtool save from a (running) daemon's data root, then docker
// loads it back as the same image.
func TestSaveFromDaemonRoot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format []string
	}{{"docker", nil}, {"docker-legacy", []string{"--format", "docker-legacy"}}} {
		t.Run(tc.name, func(t *testing.T) {
			d := dockertest.Shared(t)
			tag := "interop-fromroot-" + tc.name + ":1"
			id := richImage(t, d, tag, "fromroot-"+tc.name)
			layers := rootFSLayers(t, d, tag)
			wantRun := d.Run(t, tag, dockertest.RichCheck...)
			dir := t.TempDir()
			dockerTar := filepath.Join(dir, "docker.tar")
			d.Docker(t, "save", "-o", dockerTar, tag)
			requireFeatures(t, readArchive(t, dockerTar), "whiteout", "opaque", "hardlink", "symlink")

			ourTar := filepath.Join(dir, "ours.tar")
			dockertest.MustImgtool(t, append(append([]string{"--root", d.Root, "save"}, tc.format...), "-o", ourTar, tag)...)
			// Each layer must be byte-identical to docker's own save
			// (tar-split reassembly).
			ours, theirs := readArchive(t, ourTar), readArchive(t, dockerTar)
			if len(ours.manifest) == 1 && len(theirs.manifest) == 1 && len(ours.manifest[0].Layers) == len(theirs.manifest[0].Layers) {
				for i := range theirs.manifest[0].Layers {
					a, _ := ours.file(ours.manifest[0].Layers[i])
					b, _ := theirs.file(theirs.manifest[0].Layers[i])
					if !bytes.Equal(a, b) {
						t.Errorf("layer %d differs from docker save's (%s vs %s)", i, digestOf(a), digestOf(b))
					}
				}
			} else {
				t.Errorf("manifest: ours %+v, docker %+v", ours.manifest, theirs.manifest)
			}
			removeImage(t, d, tag, id, layers)
			d.Docker(t, "load", "-i", ourTar)
			checkSameImage(t, d, tag, id, layers, wantRun)
		})
	}
}

const inUseMsg = "in use by a running Docker daemon"

// Test 5: writes into a running daemon's data root are refused.
func TestRefuseWritesToRunningDaemonRoot(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	dir := t.TempDir()
	arch := filepath.Join(dir, "synth.tar")
	writeArchive(t, arch, synthThree(t, "interop-refused:1", "refused"))
	imageDir := filepath.Join(d.Root, "image")
	before := dockertest.StoreListing(imageDir)
	for _, args := range [][]string{
		{"load", "-i", arch},
		{"tag", base, "interop-refused:tag"},
		{"rmi", base},
	} {
		r := dockertest.Imgtool(t, append([]string{"--root", d.Root}, args...)...)
		if r.OK() {
			t.Errorf("imgtool %s on a running daemon's root succeeded", args[0])
		} else if !strings.Contains(r.Stderr, inUseMsg) {
			t.Errorf("imgtool %s: stderr %q lacks %q", args[0], r.Stderr, inUseMsg)
		}
		if !r.OK() {
			oneLine(t, "imgtool "+args[0], r)
		}
	}
	if after := dockertest.StoreListing(imageDir); after != before {
		t.Errorf("the daemon's image store changed:\n%s", dockertest.ListingDiff(before, after))
	}
	if d.HasImage("interop-refused:1") || d.HasImage("interop-refused:tag") {
		t.Errorf("a refused write is visible to docker")
	}
	// Reading is fine.
	dockertest.MustImgtool(t, "--root", d.Root, "images")
}

// Test 6: load into a STOPPED daemon's data root; the restarted daemon
// sees and runs the image.
func TestLoadIntoStoppedDaemonRoot(t *testing.T) {
	d := dockertest.Start(t) // private: this test stops its daemon
	tag := "interop-offline:1"
	id := richImage(t, d, tag, "offline")
	layers := rootFSLayers(t, d, tag)
	wantRun := d.Run(t, tag, dockertest.RichCheck...)
	dir := t.TempDir()
	arch := filepath.Join(dir, "offline.tar")
	d.Docker(t, "save", "-o", arch, tag)
	removeImage(t, d, tag, id, layers)
	if err := d.Stop(); err != nil {
		t.Fatalf("stopping dockerd: %v", err)
	}

	out := dockertest.MustImgtool(t, "--root", d.Root, "load", "-i", arch)
	if !strings.Contains(out, "Loaded image: "+tag) {
		t.Errorf("imgtool load output %q", out)
	}
	dockertest.MustImgtool(t, "--root", d.Root, "tag", tag, "interop-offline:retagged")
	// Offline reads see it too.
	if r := dockertest.Imgtool(t, "--root", d.Root, "images", "--no-trunc", "--format", "json"); r.OK() {
		found := false
		for _, m := range jsonLines(t, r.Stdout) {
			if str(m, "Repository") == "interop-offline" && str(m, "Tag") == "1" && str(m, "ID") == id {
				found = true
			}
		}
		if !found {
			t.Errorf("imgtool images on the stopped root does not list %s %s:\n%s", tag, id, r.Stdout)
		}
	} else {
		t.Errorf("%s", r)
	}

	if err := d.Restart(); err != nil {
		t.Fatalf("restarting dockerd on the root imgtool wrote: %v", err)
	}
	if log := d.Log(200); strings.Contains(log, "not restoring image") || strings.Contains(log, "level=error") {
		t.Logf("dockerd complained at startup:\n%s", log)
	}
	rows := d.Docker(t, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	for _, want := range []string{tag + " " + id, "interop-offline:retagged " + id} {
		if !strings.Contains(rows, want) {
			t.Errorf("docker images after restart lacks %q:\n%s", want, rows)
		}
	}
	if !d.HasImage(tag) {
		t.FailNow()
	}
	checkSameImage(t, d, tag, id, layers, wantRun)
	// The daemon can reassemble the layers imgtool registered (tar-split +
	// diff dirs are checked against the DiffIDs by docker save).
	if _, stderr, err := d.DockerErr("save", "-o", filepath.Join(dir, "resaved.tar"), tag); err != nil {
		t.Errorf("docker save of the offline-loaded image: %v: %s", err, stderr)
	}
	// And it can delete them again.
	d.Docker(t, "rmi", tag, "interop-offline:retagged")
	if d.HasImage(id) {
		t.Errorf("image still present after docker rmi")
	}
}

// Test 7: bad input fails cleanly and leaves the store exactly as it was.
func TestBadInputLeavesStoreUnchanged(t *testing.T) {
	dir := t.TempDir()
	store := newStore(t)
	basePath := filepath.Join(dir, "base.tar")
	writeArchive(t, basePath, synthBase(t))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", basePath)

	// A valid 3-layer archive (layer 0 already in the store), truncated.
	good := filepath.Join(dir, "good.tar")
	writeArchive(t, good, synthThree(t, "synth-three:1", "truncated"))
	goodBytes, _ := os.ReadFile(good)

	// diff_id mismatch in the TOP layer; the middle one is new and valid,
	// so a non-atomic loader would leave it behind.
	mismatch := synthThree(t, "synth-three:mismatch", "mismatch")
	mismatch.stored = map[int][]byte{2: layerTar(t, tarEntry{name: "data/", typ: '5'}, tarEntry{name: "data/evil.txt", body: "not what the config says\n"})}

	// manifest names a layer file that is not in the archive.
	missing := synthThree(t, "synth-three:missing", "missing")

	garbage := make([]byte, 64<<10)
	rand.New(rand.NewSource(7)).Read(garbage)

	inputs := []struct {
		name  string
		write func(p string)
	}{
		{"truncated", func(p string) { os.WriteFile(p, goodBytes[:len(goodBytes)/2+100], 0o644) }},
		{"truncated-in-header", func(p string) { os.WriteFile(p, goodBytes[:700], 0o644) }},
		{"garbage", func(p string) { os.WriteFile(p, garbage, 0o644) }},
		{"empty", func(p string) { os.WriteFile(p, nil, 0o644) }},
		{"diffid-mismatch", func(p string) { writeArchive(t, p, mismatch) }},
		{"missing-layer-file", func(p string) {
			writeArchive(t, p, missing)
			a := readArchive(t, p)
			dropFromTar(t, p, a.manifest[0].Layers[2])
		}},
	}
	listingBefore := dockertest.StoreListing(store)
	imagesBefore := dockertest.MustImgtool(t, "--root", store, "images", "--no-trunc")
	for _, in := range inputs {
		for _, stdin := range []bool{false, true} {
			name := in.name
			if stdin {
				name += "/stdin"
			}
			t.Run(name, func(t *testing.T) {
				p := filepath.Join(dir, strings.ReplaceAll(name, "/", "-")+".tar")
				in.write(p)
				var r *dockertest.Result
				if stdin {
					f, err := os.Open(p)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					r = dockertest.ImgtoolIn(t, f, "--root", store, "load", "-i", "-")
				} else {
					r = dockertest.Imgtool(t, "--root", store, "load", "-i", p)
				}
				if r.OK() {
					t.Errorf("load of %s input succeeded: %s", name, r)
				}
				oneLine(t, "load "+name, r)
				t.Logf("stderr: %s", strings.TrimSpace(r.Stderr))
				if after := dockertest.StoreListing(store); after != listingBefore {
					t.Errorf("store changed:\n%s", dockertest.ListingDiff(listingBefore, after))
					listingBefore = after // report each input's damage separately
				}
				if got := dockertest.MustImgtool(t, "--root", store, "images", "--no-trunc"); got != imagesBefore {
					t.Errorf("images changed:\n%s\nwas:\n%s", got, imagesBefore)
				}
			})
		}
	}
	// The store still works: the good archive loads.
	out := dockertest.MustImgtool(t, "--root", store, "load", "-i", good)
	if !strings.Contains(out, "Loaded image: synth-three:1") {
		t.Errorf("load after the failures: %q", out)
	}
}

func dropFromTar(t *testing.T, p, drop string) {
	t.Helper()
	a := readArchive(t, p)
	var entries []tarEntry
	for _, n := range a.names() {
		if n == drop || strings.Contains(n, " -> ") {
			continue
		}
		entries = append(entries, tarEntry{name: n, body: string(a.files[n])})
	}
	if err := os.WriteFile(p, layerTar(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStoreCommands exercises images/tag/inspect/history/rmi/save on a
// fresh store, without a daemon.
func TestStoreCommands(t *testing.T) {
	dir := t.TempDir()
	store := newStore(t)
	arch := filepath.Join(dir, "three.tar")
	img := synthThree(t, "synth-cmds:1", "cmds")
	ids := writeArchive(t, arch, img)
	id := ids[0]
	out := dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	if strings.TrimSpace(out) != "Loaded image: synth-cmds:1" {
		t.Errorf("load output %q", out)
	}
	// Loading again is idempotent.
	dockertest.MustImgtool(t, "--root", store, "load", "-q", "-i", arch)

	dockertest.MustImgtool(t, "--root", store, "tag", "synth-cmds:1", "example.com/other/name:2")
	rows := jsonLines(t, dockertest.MustImgtool(t, "--root", store, "images", "--no-trunc", "--format", "json"))
	seen := map[string]string{}
	for _, m := range rows {
		seen[str(m, "Repository")+":"+str(m, "Tag")] = str(m, "ID")
		if str(m, "ID") == id {
			if !regexp.MustCompile(`^[0-9.]+[kMGTPE]?B$`).MatchString(str(m, "Size")) {
				t.Errorf("Size %q is not docker's human size", str(m, "Size"))
			}
		}
	}
	for _, ref := range []string{"synth-cmds:1", "example.com/other/name:2"} {
		if seen[ref] != id {
			t.Errorf("images: %s -> %q, want %s (all: %v)", ref, seen[ref], id, seen)
		}
	}
	if q := strings.Fields(dockertest.MustImgtool(t, "--root", store, "images", "-q")); len(q) == 0 || !strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), q[0]) || len(q[0]) != 12 {
		t.Errorf("images -q: %v (want 12-char short IDs of %s)", q, id)
	}

	insp := dockertest.MustImgtool(t, "--root", store, "inspect", "synth-cmds:1")
	for _, want := range []string{`"Id"`, id, `"RepoTags"`, "synth-cmds:1", "example.com/other/name:2", `"RootFS"`, `"Layers"`, digestOf(img.layers[2]), `"Size"`, `"GraphDriver"`} {
		if !strings.Contains(insp, want) {
			t.Errorf("inspect output lacks %s:\n%s", want, insp)
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(insp), "[") {
		t.Errorf("inspect output is not a JSON array:\n%s", insp)
	}
	hist := dockertest.MustImgtool(t, "--root", store, "history", "synth-cmds:1")
	if !strings.Contains(hist, "layer 2") {
		t.Errorf("history lacks the created_by of layer 2:\n%s", hist)
	}

	// Save by the second name, check the manifest.
	saved := filepath.Join(dir, "saved.tar")
	dockertest.MustImgtool(t, "--root", store, "save", "-o", saved, "example.com/other/name:2")
	a := readArchive(t, saved)
	if len(a.manifest) != 1 || !equalStrings(a.manifest[0].RepoTags, []string{"example.com/other/name:2"}) {
		t.Errorf("manifest of save by second tag: %+v", a.manifest)
	}
	for i, l := range a.manifest[0].Layers {
		b, ok := a.file(l)
		if !ok || digestOf(b) != digestOf(img.layers[i]) {
			t.Errorf("saved layer %d not byte-identical to the loaded one", i)
		}
	}

	dockertest.MustImgtool(t, "--root", store, "rmi", "synth-cmds:1")
	if r := dockertest.Imgtool(t, "--root", store, "inspect", "synth-cmds:1"); r.OK() {
		t.Errorf("inspect of an removed tag succeeded")
	}
	dockertest.MustImgtool(t, "--root", store, "inspect", "example.com/other/name:2")
	dockertest.MustImgtool(t, "--root", store, "rmi", "example.com/other/name:2")
	if r := dockertest.Imgtool(t, "--root", store, "inspect", id); r.OK() {
		t.Errorf("image still inspectable after its last tag was removed")
	}
	if r := dockertest.Imgtool(t, "--root", store, "rmi", "nosuch:tag"); r.OK() {
		t.Errorf("rmi of an unknown image succeeded")
	} else {
		oneLine(t, "rmi nosuch:tag", r)
	}
}

// TestSkopeoReadsImgtoolSave: a second, independent reader of imgtool's
// archives (containers/image's docker-archive transport).
func TestSkopeoReadsImgtoolSave(t *testing.T) {
	dockertest.Require(t, "skopeo")
	dir := t.TempDir()
	store := newStore(t)
	arch := filepath.Join(dir, "three.tar")
	img := synthThree(t, "synth-skopeo:1", "skopeo")
	writeArchive(t, arch, img)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	for _, format := range []string{"docker", "docker-legacy"} {
		saved := filepath.Join(dir, format+".tar")
		dockertest.MustImgtool(t, "--root", store, "save", "--format", format, "-o", saved, "synth-skopeo:1")
		out, err := runCmd("skopeo", "inspect", "--config", "--raw", "docker-archive:"+saved)
		if err != nil {
			t.Errorf("skopeo inspect of the %s archive: %v\n%s", format, err, out)
			continue
		}
		for i, l := range img.layers {
			if !strings.Contains(out, digestOf(l)) {
				t.Errorf("%s archive: skopeo's config lacks diff_id %d", format, i)
			}
		}
		oci := filepath.Join(dir, format+"-oci")
		if out, err := runCmd("skopeo", "copy", "--quiet", "docker-archive:"+saved, "oci:"+oci+":x"); err != nil {
			t.Errorf("skopeo copy of the %s archive: %v\n%s", format, err, out)
		}
	}
}
