// Package dockertest is the test harness for checking imgtool against real
// peers: a private Docker 20.10 daemon (started on a temp data root with all
// networking disabled), the docker CLI, skopeo, umoci, docker-registry, and
// the imgtool CLI itself (built once per test binary).
//
// Safety rules it enforces: every daemon it starts is private (own data root,
// exec root, pidfile and unix socket under a short temp dir), with
// --bridge=none --iptables=false --ip-masq=false --ip-forward=false; base
// images are built from the local busybox binary (nothing is pulled); builds
// and containers run with --network none.
//
// Typical use:
//
//	func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		d := dockertest.Shared(t)            // skips if docker/dockerd are missing
//		base := dockertest.BaseImage(t, d, "")
//		id := d.Build(t, "x:1", "FROM "+base+"\nRUN echo hi > /f\n", nil)
//		res := dockertest.Imgtool(t, "--root", d.Root, "images")
//		...
//	}
package dockertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// EnvRequirePeers names the environment variable that turns a missing peer
// (binary, root privileges) from a skip into a test failure. CI sets it to 1.
const EnvRequirePeers = "IMGTOOL_REQUIRE_PEERS"

// PeersRequired reports whether missing peers must fail tests instead of
// skipping them.
func PeersRequired() bool {
	v := os.Getenv(EnvRequirePeers)
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// Require skips the test (or, with IMGTOOL_REQUIRE_PEERS=1, fails it) unless
// every named tool is on PATH. Known names: docker, dockerd, skopeo, umoci,
// docker-registry, busybox; any other name is looked up on PATH as is.
// "root" is a pseudo tool: the test needs uid 0.
//
// Under -short (make unit) a test needing root, dockerd or the docker CLI is
// skipped, saying so: the unit run needs neither root nor daemons; the
// interop suite and `go test` without -short run it.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		for _, tool := range tools {
			switch tool {
			case "root", "dockerd", "docker":
				t.Skipf("-short: needs %s (run without -short, e.g. make test or make interop)", strings.Join(tools, ", "))
			}
		}
	}
	var missing []string
	for _, tool := range tools {
		switch tool {
		case "root":
			if os.Geteuid() != 0 {
				missing = append(missing, "root privileges (uid 0)")
			}
			continue
		case "docker":
			if _, err := dockerCLI(); err != nil {
				missing = append(missing, "docker (CLI)")
			}
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("missing peer(s): %s (install them, e.g. apt-get install docker.io skopeo umoci docker-registry busybox-static)",
		strings.Join(missing, ", "))
	if PeersRequired() {
		t.Fatalf("%s; %s=1 makes this fatal", msg, EnvRequirePeers)
	}
	t.Skipf("%s; set %s=1 to fail instead of skipping", msg, EnvRequirePeers)
}

// dockerCLI finds the docker client to use: $IMGTOOL_DOCKER, else the
// `docker` that sits next to `dockerd` (the distribution's CLI, matching the
// daemon's version), else `docker` on PATH.
func dockerCLI() (string, error) {
	if p := os.Getenv("IMGTOOL_DOCKER"); p != "" {
		return exec.LookPath(p)
	}
	if dd, err := exec.LookPath("dockerd"); err == nil {
		cand := strings.TrimSuffix(dd, "dockerd") + "docker"
		if fi, err := os.Stat(cand); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return cand, nil
		}
	}
	return exec.LookPath("docker")
}

// CraneVersion is the crane the tests and `make bench` compare with (the
// go-containerregistry version imgtool builds on).
const CraneVersion = "v0.22.1"

// Crane finds the pinned crane: on PATH, else where `make test-deps` and
// `make bench` install it (.bench/bin under the module root). Missing, it
// skips or (IMGTOOL_REQUIRE_PEERS=1) fails like any other peer.
func Crane(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("crane"); err == nil {
		return p
	}
	if root, err := ModuleRoot(); err == nil {
		p := filepath.Join(root, ".bench", "bin", "crane")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "missing peer: crane (make test-deps installs it: go install github.com/google/go-containerregistry/cmd/crane@" + CraneVersion + " into .bench/bin)"
	if PeersRequired() {
		t.Fatalf("%s; %s=1 makes this fatal", msg, EnvRequirePeers)
	}
	t.Skipf("%s; set %s=1 to fail instead of skipping", msg, EnvRequirePeers)
	return ""
}
