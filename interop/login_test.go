package interop

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Item 5 of #14: login and logout write the config.json docker login and
// docker logout write (docker 28's CLI against a private daemon, each with
// its own DOCKER_CONFIG), and every registry command uses it; --creds
// works without it.

// cliRun runs a command with DOCKER_CONFIG=cfgDir (and extra env) and
// returns stdout, stderr and the exit code.
func cliRun(t *testing.T, cfgDir string, env []string, stdin string, name string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "DOCKER_CONFIG="+cfgDir), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return o.String(), e.String(), code
}

// loginPeers returns a function running docker (against the shared
// private daemon) or imgtool with a config dir.
func loginPeers(t *testing.T) func(tool, cfg string, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	d := dockertest.Shared(t)
	docker, err := exec.LookPath("docker")
	if err != nil {
		dockertest.Require(t, "docker")
	}
	bin := dockertest.ImgtoolBinary(t)
	return func(tool, cfg string, env []string, stdin string, args ...string) (string, string, int) {
		t.Helper()
		if tool == "docker" {
			return cliRun(t, cfg, env, stdin, docker, append([]string{"-H", d.Host}, args...)...)
		}
		return cliRun(t, cfg, env, stdin, bin, args...)
	}
}

func readConfig(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if os.IsNotExist(err) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoginMatchesDocker(t *testing.T) {
	reg := startRegistry(t, "alice", "s3cret")
	run := loginPeers(t)
	dirs := map[string]string{"docker": t.TempDir(), "imgtool": t.TempDir()}
	same := func(what string, want func(tool, out, errOut string, code int) string, stdin string, args ...string) {
		t.Helper()
		for _, tool := range []string{"docker", "imgtool"} {
			out, errOut, code := run(tool, dirs[tool], nil, stdin, args...)
			if msg := want(tool, out, errOut, code); msg != "" {
				t.Errorf("%s %s: %s\nstdout %q\nstderr %q (exit %d)", tool, what, msg, out, errOut, code)
			}
		}
		if a, b := readConfig(t, dirs["docker"]), readConfig(t, dirs["imgtool"]); a != b {
			t.Errorf("%s: config.json differs\ndocker:  %s\nimgtool: %s", what, a, b)
		}
	}
	failed := func(tool, out, errOut string, code int) string {
		if code == 0 || !strings.Contains(errOut, "401") && !strings.Contains(errOut, "unauthorized") {
			return "want a failure naming the refusal"
		}
		return ""
	}
	same("login, wrong password", failed, "wrong\n", "login", "-u", "alice", "--password-stdin", reg.host)
	succeeded := func(tool, out, errOut string, code int) string {
		if code != 0 || out != "Login Succeeded\n" {
			return "want Login Succeeded"
		}
		return ""
	}
	same("login", succeeded, "s3cret\n", "login", "-u", "alice", "--password-stdin", reg.host)
	t.Logf("config.json after login: %s", readConfig(t, dirs["imgtool"]))
	if !strings.Contains(readConfig(t, dirs["imgtool"]), reg.host) {
		t.Fatalf("config.json has no entry for %s: %s", reg.host, readConfig(t, dirs["imgtool"]))
	}

	// the stored credentials serve push, ls, digest, and login without -u
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "login.tar")
	writeArchive(t, arch, synthThree(t, "login:1", "login"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	ref := reg.host + "/team/app:1"
	for _, args := range [][]string{{"--root", store, "push", "-q", "login:1", ref}, {"ls", reg.host + "/team/app"}, {"login", reg.host}} {
		if out, errOut, code := run("imgtool", dirs["imgtool"], nil, "", args...); code != 0 {
			t.Errorf("imgtool %v with stored credentials: %s %s", args, out, errOut)
		}
	}
	same("logout", func(tool, out, errOut string, code int) string {
		if code != 0 || out != "Removing login credentials for "+reg.host+"\n" {
			return "want docker logout's line"
		}
		return ""
	}, "", "logout", reg.host)

	// logged out: refused; --creds instead of config.json
	if _, errOut, code := run("imgtool", dirs["imgtool"], nil, "", "digest", "docker://"+ref); code == 0 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("digest after logout: exit %d %s", code, errOut)
	}
	creds := "--creds=alice:s3cret"
	for _, args := range [][]string{
		{"digest", creds, "docker://" + ref},
		{"ls", creds, reg.host + "/team/app"},
		{"--root", store, "convert", "-q", creds, "docker-archive:" + arch + ":login:1", "docker://" + reg.host + "/team/copy:1"},
		{"--root", store, "pull", "-q", creds, reg.host + "/team/copy:1"},
		{"inspect", creds, "--no-tags", "docker://" + reg.host + "/team/copy:1"},
	} {
		if out, errOut, code := run("imgtool", dirs["imgtool"], nil, "", args...); code != 0 {
			t.Errorf("imgtool %v: exit %d %s %s", args, code, out, errOut)
		}
	}
	if _, errOut, code := run("imgtool", dirs["imgtool"], nil, "", "ls", "--creds=alice:nope", reg.host+"/team/app"); code == 0 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("ls with wrong --creds: exit %d %s", code, errOut)
	}
	if _, errOut, code := run("imgtool", dirs["imgtool"], nil, "", "ls", "--creds=alice", reg.host+"/team/app"); code != 2 || !strings.Contains(errOut, "--creds") {
		t.Errorf("ls with a malformed --creds: exit %d %s", code, errOut)
	}
}

// credHelper writes docker-credential-NAME, a credential helper keeping
// its secrets as files in a directory, and returns PATH with it first.
func credHelper(t *testing.T, names ...string) (path string, stores map[string]string) {
	t.Helper()
	dockertest.Require(t, "sha256sum")
	bin := t.TempDir()
	stores = map[string]string{}
	for _, n := range names {
		dir := t.TempDir()
		stores[n] = dir
		// sh, not python: a helper runs once per request, and must be quick
		script := fmt.Sprintf(`#!/bin/sh
d=%q
in=$(cat)
key() { printf '%%s' "$1" | sha256sum | cut -c1-64; }
case "$1" in
store) url=$(printf '%%s' "$in" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p'); printf '%%s' "$in" > "$d/$(key "$url")";;
get|erase) f="$d/$(key "$in")"
  if [ ! -f "$f" ]; then echo "credentials not found in native keychain"; exit 1; fi
  if [ "$1" = get ]; then cat "$f"; else rm "$f"; fi;;
list) echo '{}';;
esac
`, dir)
		if err := os.WriteFile(filepath.Join(bin, "docker-credential-"+n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin + string(os.PathListSeparator) + os.Getenv("PATH"), stores
}

func helperFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// With credsStore set, login stores through the helper and config.json
// keeps only the empty entry, as docker login does; pulls read the
// helper; logout erases there.
func TestLoginCredentialHelper(t *testing.T) {
	reg := startRegistry(t, "bob", "h3lper")
	run := loginPeers(t)
	path, stores := credHelper(t, "itdocker", "itimgtool")
	env := []string{"PATH=" + path}
	dirs := map[string]string{"docker": t.TempDir(), "imgtool": t.TempDir()}
	for tool, dir := range dirs {
		cfg := fmt.Sprintf(`{"credsStore":"it%s"}`, tool)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, errOut, code := run(tool, dir, env, "h3lper", "login", "-u", "bob", "--password-stdin", reg.host); code != 0 || out != "Login Succeeded\n" {
			t.Fatalf("%s login with a helper: exit %d %q %q", tool, code, out, errOut)
		}
	}
	d, i := readConfig(t, dirs["docker"]), readConfig(t, dirs["imgtool"])
	t.Logf("config.json with a helper: %s", i)
	if strings.Replace(d, "itdocker", "itimgtool", 1) != i {
		t.Errorf("config.json with a helper differs\ndocker:  %s\nimgtool: %s", d, i)
	}
	if hd, hi := helperFiles(t, stores["itdocker"]), helperFiles(t, stores["itimgtool"]); len(hi) != 1 || strings.Join(hd, "") != strings.Join(hi, "") {
		t.Errorf("helper stores differ\ndocker:  %v\nimgtool: %v", hd, hi)
	}
	if strings.Contains(i, "auth\"") {
		t.Errorf("credentials written to config.json despite credsStore: %s", i)
	}
	store := newStore(t)
	arch := filepath.Join(t.TempDir(), "helper.tar")
	writeArchive(t, arch, synthThree(t, "helper:1", "helper"))
	dockertest.MustImgtool(t, "--root", store, "load", "-i", arch)
	if out, errOut, code := run("imgtool", dirs["imgtool"], env, "", "--root", store, "push", "-q", "helper:1", reg.host+"/h/app:1"); code != 0 {
		t.Errorf("push with helper credentials: %s %s", out, errOut)
	}
	for tool, dir := range dirs {
		if out, errOut, code := run(tool, dir, env, "", "logout", reg.host); code != 0 || out != "Removing login credentials for "+reg.host+"\n" {
			t.Errorf("%s logout: exit %d %q %q", tool, code, out, errOut)
		}
		if n := len(helperFiles(t, stores["it"+tool])); n != 0 {
			t.Errorf("%s logout left %d entries in the helper", tool, n)
		}
	}
	if a, b := readConfig(t, dirs["docker"]), readConfig(t, dirs["imgtool"]); strings.Replace(a, "itdocker", "itimgtool", 1) != b {
		t.Errorf("config.json after logout differs\ndocker:  %s\nimgtool: %s", a, b)
	}
}

// A registry with bearer tokens from a separate token server (TLS, a
// private CA): login fetches a token with the credentials, as the daemon
// does; wrong ones are refused and nothing is written.
func TestLoginTokenServer(t *testing.T) {
	reg, ts, pki := tokenRegistry(t)
	certs := filepath.Join(t.TempDir(), "certs")
	pki.CertsDir(t, certs, nil)
	cfg := t.TempDir()
	bin := dockertest.ImgtoolBinary(t)
	out, errOut, code := cliRun(t, cfg, nil, "nope\n", bin, "login", "--cert-dir", certs, "-u", "reader", "--password-stdin", reg.host)
	if code != 1 || !strings.Contains(errOut, "unauthorized: incorrect username or password") || readConfig(t, cfg) != "<none>" {
		t.Errorf("login with a wrong password: exit %d %q %q; config %s", code, out, errOut, readConfig(t, cfg))
	}
	out, errOut, code = cliRun(t, cfg, nil, "r3ad\n", bin, "login", "--cert-dir", certs, "-u", "reader", "--password-stdin", reg.host)
	if code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("login as reader: exit %d %q %q", code, out, errOut)
	}
	asked := false
	for _, r := range ts.Requests() {
		asked = asked || r.User == "reader" && r.Status == 200
	}
	if !asked {
		t.Errorf("login never got a token for reader: %+v", ts.Requests())
	}
	if !strings.Contains(readConfig(t, cfg), `"auth": "cmVhZGVyOnIzYWQ="`) {
		t.Errorf("config.json: %s", readConfig(t, cfg))
	}
}
