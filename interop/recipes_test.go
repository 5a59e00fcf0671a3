package interop

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// TestReadmeRecipes runs every README block that starts with "# recipe:".
func TestReadmeRecipes(t *testing.T) {
	root, err := dockertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	recipes := readmeRecipes(t, filepath.Join(root, "README.md"))
	if len(recipes) < 6 {
		t.Fatalf("found %d recipes in README.md", len(recipes))
	}
	bin := dockertest.ImgtoolBinary(t)
	binDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(binDir, "imgtool")); err != nil {
		t.Fatal(err)
	}
	rootfs := busyboxRootfs(t)
	reg := startRegistry(t, "", "")
	isolateDockerConfig(t, nil)
	for name, script := range recipes {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
			cmd.Env = append(os.Environ(),
				"PATH="+binDir+":"+os.Getenv("PATH"),
				"IMGTOOL_ROOT="+newStore(t),
				"WORK="+t.TempDir(),
				"ROOTFS="+rootfs,
				"REGISTRY="+reg.host,
				"IMGTOOL_PROGRESS=none",
			)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("recipe %s failed: %v\n%s", name, err, out)
			}
		})
	}
}

func readmeRecipes(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	var name string
	var body []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && line == "```sh":
			in, name, body = true, "", nil
		case in && line == "```":
			if name != "" {
				out[name] = strings.Join(body, "\n")
			}
			in = false
		case in:
			if n, ok := strings.CutPrefix(line, "# recipe: "); ok && len(body) == 0 {
				name = n
			}
			body = append(body, line)
		}
	}
	return out
}

// busyboxRootfs makes a minimal rootfs from the host's static busybox.
func busyboxRootfs(t *testing.T) string {
	dockertest.Require(t, "busybox")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"sh", "cat", "ls", "echo"} {
		os.Symlink("busybox", filepath.Join(dir, "bin", l))
	}
	os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	return dir
}
