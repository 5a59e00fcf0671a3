package transfer

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const mutateBase = `{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"container_config":{"Cmd":["x"]},"created":"2024-01-02T03:04:05Z","history":[{"created":"2024-01-02T03:04:05Z","created_by":"base"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},"zz_unknown":{"kept":true}}`

func TestMutatedConfig(t *testing.T) {
	add := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("2", 64)}
	out, err := MutatedConfig([]byte(mutateBase), []string{`CMD ["/app"]`, "ENV MODE=prod", "LABEL a=b"}, []v1.Hash{add})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Config struct {
			Env, Cmd []string
			Labels   map[string]string
		} `json:"config"`
		ContainerConfig json.RawMessage `json:"container_config"`
		RootFS          struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
		History []map[string]any `json:"history"`
		Unknown json.RawMessage  `json:"zz_unknown"`
		Created string           `json:"created"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Config.Cmd, " ") != "/app" || strings.Join(got.Config.Env, ",") != "PATH=/bin,MODE=prod" || got.Config.Labels["a"] != "b" {
		t.Errorf("config: %+v", got.Config)
	}
	if string(got.ContainerConfig) != `{"Cmd":["x"]}` || string(got.Unknown) != `{"kept":true}` || got.Created != "2024-01-02T03:04:05Z" {
		t.Errorf("keys not kept: %s", out)
	}
	if len(got.RootFS.DiffIDs) != 2 || got.RootFS.DiffIDs[1] != add.String() {
		t.Errorf("diff_ids: %v", got.RootFS.DiffIDs)
	}
	if len(got.History) != 2 || len(got.History[1]) != 1 || got.History[1]["created"] != "0001-01-01T00:00:00Z" {
		t.Errorf("history: %v", got.History)
	}
	if !strings.HasPrefix(string(out), `{"architecture":"amd64","config":{"Hostname":""`) || !strings.Contains(string(out), `"rootfs":{"type":"layers","diff_ids":[`) {
		t.Errorf("key order: %s", out)
	}
	again, _ := MutatedConfig([]byte(mutateBase), []string{`CMD ["/app"]`, "ENV MODE=prod", "LABEL a=b"}, []v1.Hash{add})
	if string(again) != string(out) {
		t.Error("not deterministic")
	}
}

func TestMutatedConfigErrors(t *testing.T) {
	for change, want := range map[string]string{
		"FROM scratch":  "from is not a valid change command",
		"EXPOSE 99999":  `invalid change "EXPOSE 99999"`,
		"STOPSIGNAL XX": `invalid change "STOPSIGNAL XX"`,
	} {
		if _, err := MutatedConfig([]byte(mutateBase), []string{change}, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", change, err, want)
		}
	}
	for _, bad := range []string{"[]", "null"} {
		if _, err := MutatedConfig([]byte(bad), nil, nil); err == nil || !strings.HasPrefix(err.Error(), "invalid image config: ") {
			t.Errorf("config %s: %v", bad, err)
		}
	}
	// no change: the bytes are Docker's sorted, compact form of the same object
	out, err := MutatedConfig([]byte(mutateBase), nil, nil)
	if err != nil || string(out) != mutateBase {
		t.Errorf("no-op changed the config: %v\n%s", err, out)
	}
}
