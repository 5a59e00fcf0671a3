// Package ctrdtest starts a private containerd for interop tests: its own
// root, state, opt dir and gRPC socket under a short temp dir, set in a
// config file, with the CRI plugin disabled. Tests drive it with ctr
// (Ctr) and stop it to let imgtool write its store offline.
package ctrdtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// Containerd is a private containerd daemon.
type Containerd struct {
	Dir    string // temp dir holding everything below
	Root   string // containerd's root: what imgtool --root reads
	State  string
	Sock   string // gRPC address, for ctr -a
	Config string // the config file
	Log    string // containerd's output, appended across restarts

	cmd  *exec.Cmd
	done chan error
}

// Start starts a private containerd for one test (skipping, or failing
// with IMGTOOL_REQUIRE_PEERS=1, when root or containerd/ctr is missing);
// t.Cleanup stops it and removes its dir.
func Start(t testing.TB) *Containerd {
	t.Helper()
	dockertest.Require(t, "root", "containerd", "ctr", "containerd-shim-runc-v2")
	dir, err := os.MkdirTemp("", "ictd")
	if err != nil {
		t.Fatal(err)
	}
	c := &Containerd{Dir: dir, Root: filepath.Join(dir, "root"), State: filepath.Join(dir, "state"),
		Sock: filepath.Join(dir, "c.sock"), Config: filepath.Join(dir, "config.toml"), Log: filepath.Join(dir, "containerd.log")}
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, c.Root, c.State, c.Sock, c.Sock+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(c.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Logf("ctrdtest: stopping containerd: %v", err)
		}
		os.RemoveAll(dir)
	})
	if err := c.Restart(); err != nil {
		t.Fatalf("ctrdtest: %v", err)
	}
	return c
}

// Restart starts the daemon again after Stop and waits until it answers.
func (c *Containerd) Restart() error {
	if c.cmd != nil {
		return fmt.Errorf("containerd is running")
	}
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("containerd", "--config", c.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.cmd, c.done = cmd, make(chan error, 1)
	go func() { c.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			c.cmd = nil
			return fmt.Errorf("containerd exited at start (%v); log: %s", err, tail(c.Log))
		default:
		}
		if exec.Command("ctr", "-a", c.Sock, "version").Run() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Stop()
	return fmt.Errorf("containerd did not answer on %s within 60s; log: %s", c.Sock, tail(c.Log))
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 30s); its root stays.
func (c *Containerd) Stop() error {
	if c.cmd == nil {
		return nil
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		err = <-c.done
	}
	c.cmd = nil
	if ee, ok := err.(*exec.ExitError); ok && !ee.Success() {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil
		}
	}
	return err
}

// Ctr runs ctr against the daemon in namespace ns and returns its stdout;
// a failure fails the test.
func (c *Containerd) Ctr(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := c.CtrErr(ns, args...)
	if err != nil {
		t.Fatalf("ctr -n %s %v: %v", ns, args, err)
	}
	return out
}

// CtrErr is Ctr that returns the error (with ctr's stderr) instead.
func (c *Containerd) CtrErr(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"-a", c.Sock, "-n", ns}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
