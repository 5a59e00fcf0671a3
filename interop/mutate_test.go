package interop

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Item 6 of #14: mutate changes an image as docker commit --change does
// (the same config fields) and adds layers as crane append does; the
// result runs in Docker with the new ENTRYPOINT/CMD/ENV.

var mutateChanges = []string{
	`ENTRYPOINT ["cat"]`,
	`CMD ["/hello.txt"]`,
	`ENV MODE=prod`,
	`LABEL org.example.v=2 other="a b"`,
	`EXPOSE 8080/tcp 53/udp`,
	`WORKDIR /srv`,
	`USER 0:0`,
	`VOLUME /data`,
	`ONBUILD RUN true`,
}

// stopSignal is checked apart: dockerd 20.10's commit refuses STOPSIGNAL
// (accepted from Docker 25 on).
const stopSignal = `STOPSIGNAL SIGINT`

// changeArgs is each change as a -c argument.
func changeArgs(flag string, extra ...string) []string {
	var out []string
	for _, c := range append(mutateChanges, extra...) {
		out = append(out, flag, c)
	}
	return out
}

// mutateFixture loads Docker's busybox base into a fresh store and writes
// the layer tar to append (plain and gzipped).
func mutateFixture(t *testing.T) (d *dockertest.Daemon, base, store, layer, layerGz string) {
	t.Helper()
	d = dockertest.Shared(t)
	base = dockertest.BaseImage(t, d, "")
	saved := filepath.Join(t.TempDir(), "base.tar")
	d.Docker(t, "save", "-o", saved, base)
	store = newStore(t)
	dockertest.MustImgtool(t, "--root", store, "load", "-i", saved)
	raw := layerTar(t, tarEntry{name: "hello.txt", body: "hello mutate\n", mode: 0o644})
	layer = filepath.Join(t.TempDir(), "add.tar")
	if err := os.WriteFile(layer, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	layerGz = layer + ".gz"
	if err := os.WriteFile(layerGz, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return d, base, store, layer, layerGz
}

// configOf is docker inspect's .Config of ref, as a map.
func configOf(t *testing.T, d *dockertest.Daemon, ref string) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal([]byte(d.Docker(t, "image", "inspect", "-f", "{{json .Config}}", ref)), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMutateMatchesDockerCommit(t *testing.T) {
	d, base, store, layer, layerGz := mutateFixture(t)
	args := append([]string{"--root", store, "mutate"}, changeArgs("-c", stopSignal)...)
	args = append(args, "--append", layer, "-t", "mutated:1", base)
	id := strings.TrimSpace(dockertest.MustImgtool(t, args...))
	out := filepath.Join(t.TempDir(), "mutated.tar")
	dockertest.MustImgtool(t, "--root", store, "save", "-o", out, "mutated:1")
	t.Cleanup(func() { d.DockerErr("rmi", "-f", "mutated:1", "committed:1", "mutated:2") })
	d.Docker(t, "load", "-i", out)
	if got := d.ImageID(t, "mutated:1"); got != id {
		t.Errorf("docker loaded %s, mutate printed %s", got, id)
	}
	if got := d.Run(t, "mutated:1"); got != "hello mutate" {
		t.Errorf("docker run of the mutated image: %q", got)
	}
	if got := d.Docker(t, "run", "--rm", "--network", "none", "--entrypoint", "sh", "mutated:1", "-c", "echo $MODE; pwd"); got != "prod\n/srv" && got != "prod\r\n/srv" {
		t.Errorf("ENV/WORKDIR in the container: %q", got)
	}
	wantLayers := append(rootFSLayers(t, d, base), digestOf(mustRead(t, layer)))
	if got := rootFSLayers(t, d, "mutated:1"); !reflect.DeepEqual(got, wantLayers) {
		t.Errorf("layers %v, want the base's and the tar's diff ID %v", got, wantLayers)
	}

	// docker commit --change of a container of the base: the same fields
	ctr := strings.TrimSpace(d.Docker(t, "create", base))
	t.Cleanup(func() { d.DockerErr("rm", "-f", ctr) })
	d.Docker(t, append(append([]string{"commit"}, changeArgs("-c")...), ctr, "committed:1")...)
	mine, theirs := configOf(t, d, "mutated:1"), configOf(t, d, "committed:1")
	for _, k := range []string{"Entrypoint", "Cmd", "Env", "Labels", "ExposedPorts", "WorkingDir", "User", "Volumes", "OnBuild"} {
		if !reflect.DeepEqual(mine[k], theirs[k]) || mine[k] == nil {
			t.Errorf("Config.%s: mutate %v, docker commit %v", k, mine[k], theirs[k])
		}
	}
	if mine["StopSignal"] != "SIGINT" {
		t.Errorf("Config.StopSignal = %v, want SIGINT", mine["StopSignal"])
	}

	// store -> docker-archive directly, a gzipped layer: Docker runs it too
	arch := filepath.Join(t.TempDir(), "direct.tar")
	dockertest.MustImgtool(t, "--root", store, "mutate", "-c", `CMD ["cat","/hello.txt"]`, "--append", layerGz, base, "docker-archive:"+arch+":mutated:2")
	d.Docker(t, "load", "-i", arch)
	if got := d.Run(t, "mutated:2"); got != "hello mutate" {
		t.Errorf("docker run of mutate's docker-archive: %q", got)
	}
	if got := rootFSLayers(t, d, "mutated:2"); !reflect.DeepEqual(got, wantLayers) {
		t.Errorf("gzipped --append: layers %v, want %v", got, wantLayers)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A registry image mutated into another tag: Docker pulls and runs it;
// bad changes leave the store as it was.
func TestMutateRegistryAndBadInput(t *testing.T) {
	d, base, store, layer, _ := mutateFixture(t)
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	src, dst := reg.host+"/mut/app:1", reg.host+"/mut/app:2"
	dockertest.MustImgtool(t, "--root", store, "push", "-q", base, src)
	out := strings.TrimSpace(dockertest.MustImgtool(t, "mutate", "-c", `CMD ["cat","/hello.txt"]`, "-c", "LABEL stage=2", "--append", layer, "docker://"+src, "docker://"+dst))
	if want := strings.TrimSpace(dockertest.MustImgtool(t, "digest", "docker://"+dst)); out != dst+"@"+want {
		t.Errorf("mutate printed %q, the registry has %s", out, want)
	}
	t.Cleanup(func() { d.DockerErr("rmi", "-f", dst) })
	d.Docker(t, "pull", dst)
	if got := d.Run(t, dst); got != "hello mutate" {
		t.Errorf("docker run of the pushed mutation: %q", got)
	}
	if got := configOf(t, d, dst)["Labels"]; !reflect.DeepEqual(got, map[string]any{"stage": "2"}) {
		t.Errorf("labels of the pushed mutation: %v", got)
	}

	before := dockertest.StoreListing(store)
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-c", "FROM scratch", base}, "from is not a valid change command", 1},
		{[]string{"-c", "EXPOSE 99999", base}, `invalid change "EXPOSE 99999"`, 1},
		{[]string{"--append", "/nonexistent.tar", base}, "/nonexistent.tar", 1},
		{[]string{base}, "nothing to change", 2},
		{[]string{"-c", "CMD x", "nosuch:1"}, "nosuch:1", 1},
	} {
		r := dockertest.Imgtool(t, append([]string{"--root", store, "mutate", "-t", "bad:1"}, c.args...)...)
		if r.Code != c.code || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("mutate %v: %s\nwant exit %d and %q", c.args, r, c.code, c.want)
		}
		oneLine(t, "mutate "+strings.Join(c.args, " "), r)
	}
	if diff := dockertest.ListingDiff(before, dockertest.StoreListing(store)); diff != "" {
		t.Errorf("failed mutations changed the store:\n%s", diff)
	}
}

// crane append on the same base: the same diff
// IDs and history entries as mutate --append.
func TestMutateAppendMatchesCrane(t *testing.T) {
	crane := dockertest.Crane(t)
	_, base, store, layer, _ := mutateFixture(t)
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	src := reg.host + "/crane/app:1"
	dockertest.MustImgtool(t, "--root", store, "push", "-q", base, src)
	if o, err := exec.Command(crane, "append", "--insecure", "-b", src, "-f", layer, "-t", reg.host+"/crane/app:crane").CombinedOutput(); err != nil {
		t.Fatalf("crane append: %v\n%s", err, o)
	}
	dockertest.MustImgtool(t, "mutate", "--append", layer, "docker://"+src, "docker://"+reg.host+"/crane/app:imgtool")
	type cfg struct {
		RootFS  struct{ DiffIDs []string } `json:"rootfs"`
		History []map[string]any           `json:"history"`
	}
	var theirs, mine cfg
	decodeJSON(t, dockertest.MustImgtool(t, "config", "docker://"+reg.host+"/crane/app:crane"), &theirs)
	decodeJSON(t, dockertest.MustImgtool(t, "config", "docker://"+reg.host+"/crane/app:imgtool"), &mine)
	if !reflect.DeepEqual(mine, theirs) {
		t.Errorf("mutate --append config %+v, crane append %+v", mine, theirs)
	}
}
