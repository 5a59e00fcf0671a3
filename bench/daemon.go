package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is a private dockerd: its own data root, exec root, pidfile and
// socket under a short temp dir, no networking set up on the host.
type daemon struct {
	name                  string
	dir, root, sock, host string
	confDir               string // DOCKER_CONFIG for the CLI: empty config
	cmd                   *exec.Cmd
	done                  chan struct{}
}

func startDaemon(name string) (*daemon, error) {
	// Short path: unix socket paths are limited to ~108 bytes and
	// containerd nests its sockets under the exec root.
	dir, err := os.MkdirTemp("", "ibench")
	if err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, root: filepath.Join(dir, "root"), sock: filepath.Join(dir, "sock"), confDir: filepath.Join(dir, "cli"), done: make(chan struct{})}
	d.host = "unix://" + d.sock
	if err := os.MkdirAll(d.confDir, 0o700); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(d.confDir, "config.json"), []byte("{}\n"), 0o600)
	// An empty config file, so that /etc/docker/daemon.json cannot add
	// options (data-root, mirrors, ...).
	os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600)
	d.name = name
	if err := d.spawn(); err != nil {
		return nil, err
	}
	return d, nil
}

// spawn starts dockerd on d's directories and waits until it answers.
func (d *daemon) spawn() error {
	dir := d.dir
	d.done = make(chan struct{})
	logf, err := os.OpenFile(filepath.Join(dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("dockerd",
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", d.root,
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"),
		"-H", d.host,
		"--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
		"--storage-driver", "overlay2")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	done := d.done
	go func() {
		// Pdeathsig fires when the forking *thread* exits: keep it alive
		// exactly as long as dockerd.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	d.cmd = cmd
	logf2("started %s dockerd (pid %d) in %s", d.name, cmd.Process.Pid, dir)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
	}}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-d.done:
			return fmt.Errorf("dockerd exited during startup; see %s/dockerd.log:\n%s", dir, tail(filepath.Join(dir, "dockerd.log"), 20))
		default:
		}
		if resp, err := client.Get("http://docker/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.close()
			return fmt.Errorf("dockerd did not answer /_ping in 90s:\n%s", tail(filepath.Join(dir, "dockerd.log"), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pid is dockerd's pid (whose peak RSS is what a docker command costs).
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// env is the docker CLI's environment for this daemon: legacy builder, no
// host client config.
func (d *daemon) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DOCKER_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+d.confDir, "DOCKER_BUILDKIT=0", "DOCKER_CLI_HINTS=false")
}

// docker runs an untimed docker command and returns its trimmed stdout.
func (d *daemon) docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = d.env()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func (d *daemon) close() {
	if d == nil || d.cmd == nil {
		return
	}
	d.stop()
	unmountUnder(d.dir)
	if err := os.RemoveAll(d.dir); err != nil {
		logf2("removing %s: %v", d.dir, err)
	}
}

func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, mp := range points {
		syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}

// stop ends dockerd (SIGTERM, then SIGKILL after 30 s).
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// restartEmpty stops dockerd, hands its data root to discard (moved aside,
// not deleted: see discard) and starts it again on an empty one. The load
// rows use it instead of `docker rmi`, whose deletions would slow the file
// creation of the runs that follow (fsstate.go).
func (d *daemon) restartEmpty(discard func(string) error) error {
	d.stop()
	unmountUnder(d.dir)
	if err := discard(d.root); err != nil {
		return err
	}
	return d.spawn()
}

// resetPeak clears a process's peak RSS (VmHWM), so that the next reading
// is the peak since now. Linux: write 5 to /proc/PID/clear_refs.
func resetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// peakRSS reads VmHWM (KiB) of a process.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmHWM")
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
