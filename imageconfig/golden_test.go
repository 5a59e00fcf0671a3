package imageconfig

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageid"
	"github.com/imgtool/imgtool/internal/dockertest"
)

// The golden tests run a private Docker 20.10 daemon (internal/dockertest:
// own data root, exec root, pidfile and socket under a short temp dir;
// --bridge=none --iptables=false --ip-masq=false --ip-forward=false; nothing
// is pulled). They skip when dockerd is missing, and fail instead with
// IMGTOOL_REQUIRE_PEERS=1.
func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }

// storedConfig returns the config bytes the daemon stored for image id.
func storedConfig(t *testing.T, d *dockertest.Daemon, id string) []byte {
	t.Helper()
	hex := strings.TrimPrefix(strings.TrimSpace(id), "sha256:")
	b, err := os.ReadFile(filepath.Join(d.Root, "image", "overlay2", "imagedb", "content", "sha256", hex))
	if err != nil {
		t.Fatal(err)
	}
	if got := imageid.FromBytes(b).Hex; got != hex {
		t.Fatalf("stored config of %s hashes to %s", hex, got)
	}
	return b
}

type dockerImage struct {
	Architecture  string    `json:"architecture"`
	Variant       string    `json:"variant"`
	OS            string    `json:"os"`
	Created       time.Time `json:"created"`
	DockerVersion string    `json:"docker_version"`
	RootFS        struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		EmptyLayer bool `json:"empty_layer"`
	} `json:"history"`
}

func decodeImage(t *testing.T, b []byte) dockerImage {
	t.Helper()
	var img dockerImage
	if err := json.Unmarshal(b, &img); err != nil {
		t.Fatal(err)
	}
	if img.DockerVersion == "" || img.Created.IsZero() {
		t.Fatalf("unexpected config: %s", b)
	}
	return img
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from Docker's\n ours:   %s\n docker: %s", what, got, want)
	}
}

func tinyTar(t *testing.T) (string, v1.Hash) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("hello from imageconfig\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)),
		ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tiny.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, imageid.FromBytes(buf.Bytes())
}

func TestImportGolden(t *testing.T) {
	d := dockertest.Shared(t)
	tarPath, diffID := tinyTar(t)
	changes := []string{
		`CMD ["/bin/sh","-c","echo ok"]`, "ENV A=1", "ENV B=$A", "EXPOSE 80 443/udp", "LABEL a=b",
		"WORKDIR /x", "WORKDIR y", "USER 1000", "VOLUME /v", `ENTRYPOINT ["/e"]`, "HEALTHCHECK CMD true", "ONBUILD RUN x",
	}
	tests := []struct {
		name    string
		changes []string
		message string
	}{
		{"changes", changes, "msg"},
		{"plain", nil, ""},
		{"html escaping", []string{`LABEL h="<a&b>"`, "CMD echo x > /f && echo y", "HEALTHCHECK --interval=2s --timeout=3s --start-period=4s --retries=5 CMD test -e /f"}, "a<b>&c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"import"}
			for _, c := range tc.changes {
				args = append(args, "--change", c)
			}
			if tc.message != "" {
				args = append(args, "-m", tc.message)
			}
			id := d.Docker(t, append(args, tarPath)...)
			want := storedConfig(t, d, id)
			img := decodeImage(t, want)
			if len(img.RootFS.DiffIDs) != 1 || img.RootFS.DiffIDs[0] != diffID.String() {
				t.Fatalf("docker diff_ids %v, want [%s]", img.RootFS.DiffIDs, diffID)
			}
			got, err := ImportConfig(ImportOptions{
				DiffID:        diffID,
				Changes:       tc.changes,
				Comment:       tc.message,
				Created:       img.Created,
				Platform:      v1.Platform{OS: img.OS, Architecture: img.Architecture},
				DockerVersion: img.DockerVersion,
			})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "import config", got, want)
			if got := "sha256:" + imageid.FromBytes(got).Hex; got != id {
				t.Errorf("image ID %s, docker %s", got, id)
			}
		})
	}
}

func TestCommitGolden(t *testing.T) {
	d := dockertest.Shared(t)
	base := dockertest.BaseImage(t, d, "")
	parent := storedConfig(t, d, d.ImageID(t, base))

	d.Docker(t, "run", "--network", "none", "--name", "icfg-c1", "-e", "Y=2", base, "sh", "-c", "echo x > /f")
	d.Docker(t, "create", "--network", "none", "--name", "icfg-c2", "--label", "l=<1>", base)
	tests := []struct {
		name, container string
		changes         []string
		message, author string
		wantEmpty       bool
	}{
		{"env change", "icfg-c1", []string{"ENV X=1"}, "m", "me", false},
		{"no changes, empty layer", "icfg-c2", nil, "", "", true},
		{"many changes", "icfg-c1", []string{`ENTRYPOINT ["/bin/sh","-c"]`, `LABEL q="<1>"`, "EXPOSE 80", "WORKDIR w",
			"HEALTHCHECK --retries=2 CMD true", "ENV Y=3 Z=$Y", "VOLUME /data", "USER nobody", "ONBUILD RUN true"}, "a&b", "Me <me@example.com>", false},
		{"entrypoint keeps container cmd", "icfg-c2", []string{"ENTRYPOINT e", "CMD []"}, "x", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"commit"}
			for _, c := range tc.changes {
				args = append(args, "-c", c)
			}
			if tc.message != "" {
				args = append(args, "-m", tc.message)
			}
			if tc.author != "" {
				args = append(args, "-a", tc.author)
			}
			id := d.Docker(t, append(args, tc.container)...)
			want := storedConfig(t, d, id)
			img := decodeImage(t, want)

			cid := d.Docker(t, "inspect", "-f", "{{.Id}}", tc.container)
			raw, err := os.ReadFile(filepath.Join(d.Root, "containers", cid, "config.v2.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ctr struct {
				ID     string
				Config *ContainerConfig
			}
			if err := json.Unmarshal(raw, &ctr); err != nil {
				t.Fatal(err)
			}
			if ctr.ID != cid || ctr.Config == nil {
				t.Fatalf("config.v2.json: ID %q, Config %v", ctr.ID, ctr.Config)
			}

			diffID, err := v1.NewHash(imageid.EmptyTarDiffID)
			if err != nil {
				t.Fatal(err)
			}
			empty := img.History[len(img.History)-1].EmptyLayer
			if empty != tc.wantEmpty {
				t.Fatalf("docker empty_layer = %v, want %v", empty, tc.wantEmpty)
			}
			if !empty {
				if diffID, err = v1.NewHash(img.RootFS.DiffIDs[len(img.RootFS.DiffIDs)-1]); err != nil {
					t.Fatal(err)
				}
			}
			got, err := CommitConfig(CommitOptions{
				ParentConfig:    parent,
				ContainerConfig: ctr.Config,
				Changes:         tc.changes,
				Author:          tc.author,
				Message:         tc.message,
				ContainerID:     cid,
				Created:         img.Created,
				DiffID:          diffID,
				DockerVersion:   img.DockerVersion,
			})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "commit config", got, want)
		})
	}
}

// TestImportConfigShape checks the import config without a daemon.
func TestImportConfigShape(t *testing.T) {
	diff, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	created := time.Date(2026, 11, 26, 19, 21, 38, 907347150, time.FixedZone("X", 3600))
	opts := ImportOptions{DiffID: diff, Created: created, DockerVersion: "20.10.24+dfsg1", Platform: v1.Platform{Architecture: "arm64", Variant: "v8"}}
	got, err := ImportConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	zero := mustJSON(t, ContainerConfig{})
	want := `{"architecture":"arm64","comment":"Imported from -","config":` + zero + `,"container_config":` + zero +
		`,"created":"2026-11-26T18:21:38.90734715Z","docker_version":"20.10.24+dfsg1","history":[{"created":"2026-11-26T18:21:38.90734715Z","comment":"Imported from -"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("ab", 32) + `"]},"variant":"v8"}`
	if string(got) != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	again, _ := ImportConfig(opts)
	if !bytes.Equal(again, got) {
		t.Fatal("not deterministic")
	}
	// Defaults: linux/GOARCH; --config-from base is not modified.
	base := &ContainerConfig{Env: []string{"A=1"}, Cmd: []string{"/bin/sh"}}
	got, err = ImportConfig(ImportOptions{DiffID: diff, Created: created, Base: base, Changes: []string{"ENV A=2", "ENTRYPOINT [\"/e\"]"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseContainerConfig(got)
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, c.Env) != `["A=2"]` || c.Cmd != nil || mustJSON(t, c.Entrypoint) != `["/e"]` || base.Env[0] != "A=1" {
		t.Fatalf("config-from: %s (base %v)", got, base)
	}
	if !bytes.Contains(got, []byte(`"architecture":"`+runtime.GOARCH+`"`)) || !bytes.Contains(got, []byte(`"os":"linux"`)) {
		t.Fatalf("defaults: %s", got)
	}
	if _, err := ImportConfig(ImportOptions{Created: created}); err == nil {
		t.Fatal("missing diff ID accepted")
	}
	if _, err := ImportConfig(ImportOptions{DiffID: diff, Changes: []string{"RUN x"}}); err == nil || err.Error() != "run is not a valid change command" {
		t.Fatalf("bad change: %v", err)
	}
}

// TestCommitConfigShape checks merge rules, history and rootfs without a daemon.
func TestCommitConfigShape(t *testing.T) {
	parent := []byte(`{"architecture":"arm","variant":"v7","os":"linux","os.version":"1","os.features":["f"],"unknown":1,` +
		`"config":{"Cmd":["/bin/sh"]},"created":"2020-01-01T00:00:00+02:00",` +
		`"history":[{"created":"2020-01-01T00:00:00.5+02:00","created_by":"x","extra":true},{"created":"2020-01-02T00:00:00Z","empty_layer":true}],` +
		`"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("11", 32) + `"]}}`)
	ctr := &ContainerConfig{Hostname: "abc", User: "u", Env: []string{"PATH=/bin", "Y=2"}, Cmd: []string{"sh", "-c", "echo > /f"},
		ExposedPorts: set("1/tcp"), Volumes: set("/v"), Labels: map[string]string{"a": "1"}, WorkingDir: "/w", StopSignal: "SIGINT",
		Healthcheck: &HealthConfig{Test: []string{"CMD", "t"}, Interval: time.Second, Retries: 3}}
	diff, _ := v1.NewHash("sha256:" + strings.Repeat("22", 32))
	created := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	got, err := CommitConfig(CommitOptions{ParentConfig: parent, ContainerConfig: ctr,
		Changes: []string{"ENV X=1 Y=3", "EXPOSE 2", "VOLUME /w2", "LABEL b=2", "HEALTHCHECK --timeout=2s CMD u"},
		Author:  "me", Message: "msg", ContainerID: "cid", Created: created, DiffID: diff, DockerVersion: "dv"})
	if err != nil {
		t.Fatal(err)
	}
	var img struct {
		Config          ContainerConfig
		ContainerConfig ContainerConfig `json:"container_config"`
		History         []History
		RootFS          rootFS
	}
	if err := json.Unmarshal(got, &img); err != nil {
		t.Fatal(err)
	}
	wantCfg := ContainerConfig{Hostname: "abc", User: "u", Env: []string{"PATH=/bin", "Y=3", "X=1"}, Cmd: ctr.Cmd,
		ExposedPorts: set("1/tcp", "2/tcp"), Volumes: set("/v", "/w2"), Labels: map[string]string{"a": "1", "b": "2"}, WorkingDir: "/w", StopSignal: "SIGINT",
		Healthcheck: &HealthConfig{Test: []string{"CMD-SHELL", "u"}, Interval: time.Second, Timeout: 2 * time.Second, Retries: 3}}
	if mustJSON(t, img.Config) != mustJSON(t, wantCfg) {
		t.Errorf("config\n got %s\nwant %s", mustJSON(t, img.Config), mustJSON(t, wantCfg))
	}
	if mustJSON(t, img.ContainerConfig) != mustJSON(t, ctr) {
		t.Errorf("container_config %s", mustJSON(t, img.ContainerConfig))
	}
	for _, s := range []string{`"architecture":"arm"`, `"variant":"v7"`, `"os.version":"1"`, `"os.features":["f"]`, `"author":"me"`, `"container":"cid"`,
		`"docker_version":"dv"`, `"created":"2026-01-02T03:04:05.0000006Z"`,
		`"history":[{"created":"2020-01-01T00:00:00.5+02:00","created_by":"x"},{"created":"2020-01-02T00:00:00Z","empty_layer":true},` +
			`{"created":"2026-01-02T03:04:05.0000006Z","author":"me","created_by":"sh -c echo \u003e /f","comment":"msg"}]`,
		`"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("11", 32) + `","sha256:` + strings.Repeat("22", 32) + `"]}`} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("commit config lacks %s:\n%s", s, got)
		}
	}
	if bytes.Contains(got, []byte(`"unknown"`)) || bytes.Contains(got, []byte(`"comment":"msg","config"`)) || bytes.Contains(got, []byte(`"extra"`)) {
		t.Errorf("unexpected keys: %s", got)
	}
	// The caller's container config is not modified.
	if ctr.Healthcheck.Timeout != 0 || len(ctr.Env) != 2 || len(ctr.Volumes) != 1 {
		t.Errorf("container config modified: %+v", ctr)
	}

	// Empty layer, no parent, no changes: Labels becomes {} in both configs.
	empty, _ := v1.NewHash(imageid.EmptyTarDiffID)
	got, err = CommitConfig(CommitOptions{ContainerConfig: &ContainerConfig{Cmd: []string{"true"}}, Created: created, DiffID: empty})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"Labels":{}},"container_config"`, `"Labels":{}},"created"`, `"history":[{"created":"2026-01-02T03:04:05.0000006Z","created_by":"true","empty_layer":true}]`,
		`"rootfs":{"type":"layers"}`, `"architecture":"` + runtime.GOARCH + `"`, `"os":"linux"`} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("empty commit lacks %s:\n%s", s, got)
		}
	}
	if _, err := CommitConfig(CommitOptions{ParentConfig: []byte(`{"os":"linux"}`), ContainerConfig: ctr, DiffID: diff}); err == nil {
		t.Error("parent without rootfs accepted")
	}
	if _, err := CommitConfig(CommitOptions{ContainerConfig: ctr, DiffID: diff, Changes: []string{"SHELL [\"x\"]"}}); err == nil || err.Error() != "shell is not a valid change command" {
		t.Errorf("bad change: %v", err)
	}
}
