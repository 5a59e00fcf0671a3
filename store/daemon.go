package store

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DaemonUsing reports the pid of a running dockerd whose data root is root.
// Two independent signs: a dockerd process whose --data-root (or
// daemon.json data-root, or the default) resolves to root, and the flock
// bbolt holds on <root>/volumes/metadata.db while dockerd runs.
func DaemonUsing(root string) (int, bool) {
	want := canonical(root)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
		if strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if canonical(dataRootOf(args)) == want {
			return pid, true
		}
	}
	if boltLocked(filepath.Join(root, "volumes", "metadata.db")) {
		return 0, true
	}
	return 0, false
}

func canonical(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	abs, _ := filepath.Abs(p)
	return abs
}

// dataRootOf reads dockerd's data root from its arguments, then from its
// config file, then Docker's default.
func dataRootOf(args []string) string {
	configFile := "/etc/docker/daemon.json"
	for i := 1; i < len(args); i++ {
		a := args[i]
		for _, flag := range []string{"--data-root", "-g", "--graph", "--config-file"} {
			val, ok := "", false
			if a == flag && i+1 < len(args) {
				val, ok = args[i+1], true
			} else if v, found := strings.CutPrefix(a, flag+"="); found {
				val, ok = v, true
			}
			if !ok {
				continue
			}
			if flag == "--config-file" {
				configFile = val
			} else {
				return val
			}
		}
	}
	if b, err := os.ReadFile(configFile); err == nil {
		var cfg struct {
			DataRoot string `json:"data-root"`
			Graph    string `json:"graph"`
		}
		if json.NewDecoder(bytes.NewReader(b)).Decode(&cfg) == nil {
			if cfg.DataRoot != "" {
				return cfg.DataRoot
			}
			if cfg.Graph != "" {
				return cfg.Graph
			}
		}
	}
	return "/var/lib/docker"
}

// boltLocked probes bbolt's exclusive flock without changing the file.
func boltLocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return err == unix.EWOULDBLOCK
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
