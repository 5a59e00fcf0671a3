package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of one command.
type sample struct {
	wall      time.Duration
	user, sys time.Duration
	rssKB     int64 // peak RSS of the command and its waited-for children (wait4)
	daemonKB  int64 // dockerd's peak RSS during the command (VmHWM after clear_refs=5); 0 if none
	outBytes  int64
}

// tool is one contender in an operation.
type tool struct {
	name     string
	argv     func(run int) []string // the timed command
	stdin    string                 // file to connect to stdin, if any
	prep     func(run int) error    // untimed, before
	after    func(run int) error    // untimed, after (cleanup)
	output   func(run int) string   // file or dir the command wrote (its size is reported)
	daemon   *daemon                // whose peak RSS to report
	skip     string                 // non-empty: not run, this is why
	optional bool                   // a failure is reported, not fatal

	samples []sample
	err     error
	cmdline string // for the report
}

// op is one row group: an operation, its contenders and its floor.
type op struct {
	key, title string
	img        *image
	bytes      func() int64 // bytes the operation streams (for MB/s and the floor)
	floorFile  func() string
	compressed bool // the floor target does not apply
	tools      []*tool
	notes      []string

	floor []time.Duration
}

// measure runs t once: prep, sync, timed command, after.
func measure(t *tool, run int) (sample, error) {
	var s sample
	if t.prep != nil {
		if err := t.prep(run); err != nil {
			return s, fmt.Errorf("prep: %w", err)
		}
	}
	// Write back what earlier commands left dirty, so it is not charged to
	// this one.
	syscall.Sync()
	argv, rssFile := withPeakRSS(t.argv(run))
	if rssFile != "" {
		defer os.Remove(rssFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if t.daemon != nil {
		cmd.Env = t.daemon.env()
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if t.stdin != "" {
		f, err := os.Open(t.stdin)
		if err != nil {
			return s, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	if t.daemon != nil {
		resetPeak(t.daemon.pid())
	}
	start := time.Now()
	err := cmd.Run()
	s.wall = time.Since(start)
	if t.daemon != nil {
		s.daemonKB, _ = peakRSS(t.daemon.pid())
	}
	if err != nil {
		return s, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, lastLines(strings.TrimSpace(errb.String()), 5))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rssKB = ru.Maxrss
		s.user = time.Duration(ru.Utime.Nano())
		s.sys = time.Duration(ru.Stime.Nano())
	}
	if rssFile != "" {
		s.rssKB = readPeakRSS(rssFile)
	}
	if t.output != nil {
		s.outBytes = sizeOf(t.output(run))
	}
	if t.after != nil {
		if err := t.after(run); err != nil {
			return s, fmt.Errorf("after: %w", err)
		}
	}
	return s, nil
}

// withPeakRSS runs argv under GNU time, which reports the command's own
// peak RSS. The rusage of a child started from Go cannot: Go starts it
// with vfork semantics (CLONE_VM), so until exec the child runs in the
// bench's memory, and Linux keeps that high-water mark across exec (a Go
// program holding 100 MB that runs /bin/true reads 105 MB for it; GNU tar
// read 15 MiB here, the bench's own size). time fork()s, so its child
// starts from time's few hundred KiB. Without /usr/bin/time the rusage
// figure stays (an upper bound).
func withPeakRSS(argv []string) ([]string, string) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return argv, ""
	}
	f, err := os.CreateTemp("", "bench-rss-")
	if err != nil {
		return argv, ""
	}
	f.Close()
	return append([]string{"/usr/bin/time", "-f", "%M", "-o", f.Name()}, argv...), f.Name()
}

// readPeakRSS reads the KiB GNU time wrote (its last line: a failing
// command's "Command exited with non-zero status" comes first).
func readPeakRSS(path string) int64 {
	b, _ := os.ReadFile(path)
	lines := strings.Fields(strings.TrimSpace(string(b)))
	if len(lines) == 0 {
		return 0
	}
	kb, _ := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	return kb
}

// readSHA256 is the floor: one sequential read of the file with sha256,
// as a single-threaded Go program does it (page cache warm, like the
// commands measured).
func readSHA256(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	start := time.Now()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return 0, err
	}
	h.Sum(nil)
	return time.Since(start), nil
}

// sizeOf is the size of a file, or the total of a directory's files.
func sizeOf(p string) int64 {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0
	}
	if !fi.IsDir() {
		return fi.Size()
	}
	var n int64
	filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

type stats struct {
	med, min, max time.Duration
	rssKB         int64 // max over runs
	daemonKB      int64
	out           int64 // output size of the last run
	cpu           time.Duration
	n             int
}

func summarize(ss []sample) stats {
	var st stats
	if len(ss) == 0 {
		return st
	}
	d := make([]time.Duration, len(ss))
	var cpu []time.Duration
	for i, s := range ss {
		d[i] = s.wall
		cpu = append(cpu, s.user+s.sys)
		st.rssKB = max(st.rssKB, s.rssKB)
		st.daemonKB = max(st.daemonKB, s.daemonKB)
		st.out = s.outBytes
	}
	st.med, st.min, st.max = median(d), slices.Min(d), slices.Max(d)
	st.cpu = median(cpu)
	st.n = len(ss)
	return st
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
