package dockertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts used by the harness.
var (
	StartTimeout   = 90 * time.Second // dockerd until /_ping answers
	StopTimeout    = 30 * time.Second // SIGTERM until SIGKILL
	CommandTimeout = 10 * time.Minute // any single docker CLI call
)

// Daemon is a private dockerd with its own data root, exec root, pidfile and
// socket, all under Dir.
type Daemon struct {
	Dir     string // short temp dir holding everything below
	Root    string // --data-root (an overlay2 store; what imgtool --root reads)
	Exec    string // --exec-root
	Pidfile string // --pidfile
	Sock    string // unix socket path
	Host    string // "unix://" + Sock, for docker -H
	LogFile string // dockerd's stdout+stderr (appended across restarts)

	cli       string // docker CLI binary
	configDir string // DOCKER_CONFIG for the CLI (empty, so host config/cred helpers are ignored)

	mu     sync.Mutex
	proc   *proc             // the running dockerd, nil when stopped
	images map[string]string // BaseImage cache: tag -> image ID
}

// Start starts a private daemon for one test; it is stopped and removed by
// t.Cleanup. Use Shared for the common case: starting dockerd takes seconds.
func Start(t testing.TB) *Daemon {
	t.Helper()
	Require(t, "root", "dockerd", "docker")
	d, err := StartDaemon()
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Logf("dockertest: closing daemon: %v", err)
		}
	})
	return d
}

// StartDaemon starts a private daemon outside of any test. The caller must
// call Close.
func StartDaemon() (*Daemon, error) {
	cli, err := dockerCLI()
	if err != nil {
		return nil, fmt.Errorf("docker CLI not found: %w", err)
	}
	// Keep the dir short: unix socket paths are limited to ~100 bytes and
	// containerd puts its sockets below the exec root.
	dir, err := os.MkdirTemp("", "idk")
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		Dir:       dir,
		Root:      filepath.Join(dir, "root"),
		Exec:      filepath.Join(dir, "exec"),
		Pidfile:   filepath.Join(dir, "pid"),
		Sock:      filepath.Join(dir, "sock"),
		LogFile:   filepath.Join(dir, "dockerd.log"),
		cli:       cli,
		configDir: filepath.Join(dir, "cliconf"),
		images:    map[string]string{},
	}
	d.Host = "unix://" + d.Sock
	if err := os.MkdirAll(d.configDir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d.configDir, "config.json"), []byte("{}\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// An explicit empty config file, so /etc/docker/daemon.json cannot add
	// conflicting options (data-root, hosts, registry mirrors, ...).
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := d.start(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) args() []string {
	return []string{
		"--config-file", filepath.Join(d.Dir, "daemon.json"),
		"--data-root", d.Root,
		"--exec-root", d.Exec,
		"--pidfile", d.Pidfile,
		"-H", d.Host,
		"--bridge=none",
		"--iptables=false",
		"--ip6tables=false",
		"--ip-masq=false",
		"--ip-forward=false",
		"--storage-driver", "overlay2",
	}
}

func (d *Daemon) start() error {
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.proc != nil {
		d.mu.Unlock()
		return errors.New("dockerd already running")
	}
	logf, err := os.OpenFile(d.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	fmt.Fprintf(logf, "\n==== dockertest: starting dockerd at %s ====\n", time.Now().Format(time.RFC3339))
	cmd := exec.Command(bin, d.args()...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = d.Dir
	// Own process group (signals to the test binary's group don't hit it);
	// SIGTERM if the test binary dies (e.g. go test -timeout panics).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}

	// Pdeathsig fires when the *thread* that forked exits, so fork from a
	// locked OS thread that lives exactly as long as the child.
	p := &proc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := cmd.Start(); err != nil {
			logf.Close()
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		d.mu.Unlock()
		return fmt.Errorf("starting dockerd: %w", err)
	}
	d.proc = p
	d.mu.Unlock()

	deadline := time.Now().Add(StartTimeout)
	client := d.httpClient()
	for {
		select {
		case <-p.done:
			d.mu.Lock()
			d.proc = nil
			d.mu.Unlock()
			unmountUnder(d.Dir)
			return fmt.Errorf("dockerd exited during startup: %w\n%s", p.err, d.logTail(40))
		default:
		}
		if err := ping(client); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			d.Stop()
			return fmt.Errorf("dockerd did not answer /_ping within %v\n%s", StartTimeout, d.logTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proc is one dockerd process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	err  error         // Wait's result, valid after done is closed
}

func (d *Daemon) httpClient() *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var dl net.Dialer
				return dl.DialContext(ctx, "unix", d.Sock)
			},
			DisableKeepAlives: true,
		},
	}
}

func ping(c *http.Client) error {
	resp, err := c.Get("http://docker/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("_ping: %s", resp.Status)
	}
	return nil
}

// Running reports whether this harness's dockerd process is alive.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return false
	}
	select {
	case <-d.proc.done:
		return false
	default:
		return true
	}
}

// Pid returns the dockerd process id, or 0 when it is not running.
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return 0
	}
	return d.proc.cmd.Process.Pid
}

// Stop stops dockerd (SIGTERM, then SIGKILL after StopTimeout) and the
// containerd it started, and unmounts whatever is left mounted under Dir.
// The data root is kept, so the test can read or write it offline and then
// Restart. Stopping a stopped daemon is a no-op.
func (d *Daemon) Stop() error {
	d.mu.Lock()
	p := d.proc
	d.proc = nil
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	cmd, done := p.cmd, p.done
	containerdPid := readPid(filepath.Join(d.Exec, "containerd", "containerd.pid"))

	var errs []error
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(StopTimeout):
		errs = append(errs, fmt.Errorf("dockerd (pid %d) ignored SIGTERM for %v; killed", cmd.Process.Pid, StopTimeout))
		_ = cmd.Process.Kill()
		<-done
	}
	// dockerd stops the containerd it launched on a clean shutdown; after a
	// SIGKILL it would be orphaned. Only ever signal that exact pid, and only
	// if it still looks like our containerd.
	if containerdPid > 0 && isOurContainerd(containerdPid, d.Exec) {
		_ = syscall.Kill(containerdPid, syscall.SIGTERM)
		for i := 0; i < 100 && processAlive(containerdPid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if processAlive(containerdPid) && isOurContainerd(containerdPid, d.Exec) {
			_ = syscall.Kill(containerdPid, syscall.SIGKILL)
		}
	}
	if err := unmountUnder(d.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Restart starts dockerd again on the same data root (after Stop; if it is
// still running it is stopped first).
func (d *Daemon) Restart() error {
	if err := d.Stop(); err != nil {
		return err
	}
	return d.start()
}

// Close stops the daemon and removes Dir.
func (d *Daemon) Close() error {
	err := d.Stop()
	if rmErr := os.RemoveAll(d.Dir); rmErr != nil {
		// A lazily detached mount may still be busy for a moment.
		time.Sleep(500 * time.Millisecond)
		if rmErr = os.RemoveAll(d.Dir); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}
	return err
}

func (d *Daemon) logTail(n int) string {
	b, err := os.ReadFile(d.LogFile)
	if err != nil {
		return "(no dockerd log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "dockerd log (tail):\n" + strings.Join(lines, "\n")
}

// Log returns the last n lines of the daemon's log.
func (d *Daemon) Log(n int) string { return d.logTail(n) }

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

func processAlive(pid int) bool {
	// A zombie still answers kill(0); look at /proc state instead.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func isOurContainerd(pid int, execRoot string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	cmdline := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
	return strings.Contains(cmdline, "containerd") && strings.Contains(cmdline, execRoot)
}

// unmountUnder lazily unmounts every mount point at or below dir, deepest
// first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	prefix := filepath.Clean(dir)
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == prefix || strings.HasPrefix(mp, prefix+"/") {
			points = append(points, mp)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, mp := range points {
		if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("umount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount undoes the octal escapes (\040 etc.) of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
