// Command bench compares imgtool with docker, skopeo and crane on the same
// images, on this machine, and writes the result as Markdown.
//
//	go run ./bench -runs 5 -out docs/benchmarks.md   # make bench
//	go run ./bench -smoke                            # make bench-smoke (CI)
//
// It prepares, once and cached under .bench/, a Debian bookworm minbase
// rootfs (debootstrap) and deterministic random data; builds, in a private
// dockerd, image A (rootfs + 50 MiB random layer + small layers with
// whiteouts, an opaque directory and hardlinks) and image B (one 1 GiB
// layer); then times each operation for every tool, alternating their order
// run by run, with the peak RSS of each command (wait4) and of dockerd
// (VmHWM) and the floor of the machine: one sequential read + sha256 of the
// same bytes. Needs root, dockerd, docker, skopeo; crane is installed into
// .bench/bin (pinned) with go install. It reports targets; it never fails
// on a missed one.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const craneVersion = "v0.22.1" // = dockertest.CraneVersion (the tests compare with the same crane)

var verbose = true

func logf2(format string, args ...any) {
	if verbose {
		fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

type config struct {
	runs     int
	out      string
	smoke    bool
	cache    string
	only     map[string]bool
	images   map[string]bool
	noCrane  bool
	argsLine string
	// builtFrom is the tree imgtool was built from (git describe at
	// build time: the tree may change while the bench runs).
	builtFrom string
}

func main() {
	var c config
	var only, images string
	flag.IntVar(&c.runs, "runs", 5, "timed runs per command (smoke: 1)")
	flag.StringVar(&c.out, "out", "", "Markdown report (default docs/benchmarks.md; smoke: .bench/benchmarks-smoke.md)")
	flag.BoolVar(&c.smoke, "smoke", false, "tiny images (busybox rootfs, a few MB of random data), 1 run, no debootstrap: keeps the harness working in CI")
	flag.StringVar(&c.cache, "cache", ".bench", "cache and work directory (gitignored)")
	flag.StringVar(&only, "ops", "", "comma-separated operations to run (save,load,import,export,commit,gzip,convert,flatten); default all")
	flag.StringVar(&images, "images", "A,B", "images to run on (A: debootstrap+layers, B: one 1 GiB layer)")
	flag.BoolVar(&c.noCrane, "no-crane", false, "skip crane (no go install)")
	scale := flag.Bool("scale", false, "measure time and peak RSS against input size instead (no docker needed) and write that table into -out")
	var sc scaleConfig
	flag.StringVar(&sc.sizes, "scale-sizes", "256m,1g", "-scale: layer sizes (add 4g for the full table; needs ~3x that much disk)")
	flag.StringVar(&sc.files, "scale-files", "10000,100000", "-scale: files per layer (add 1000000 for the full table)")
	flag.StringVar(&sc.images, "scale-images", "1,100,1000", "-scale: images per archive")
	flag.Parse()
	c.argsLine = "go run ./bench " + strings.Join(os.Args[1:], " ")
	if c.smoke {
		c.runs = 1
		if c.out == "" {
			c.out = filepath.Join(c.cache, "benchmarks-smoke.md")
		}
	}
	if c.out == "" {
		c.out = "docs/benchmarks.md"
	}
	if only != "" {
		c.only = map[string]bool{}
		for _, o := range strings.Split(only, ",") {
			c.only[strings.TrimSpace(o)] = true
		}
	}
	c.images = map[string]bool{}
	for _, o := range strings.Split(images, ",") {
		c.images[strings.ToUpper(strings.TrimSpace(o))] = true
	}
	if *scale {
		if err := runScale(&c, sc); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run1(&c); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run1(c *config) error {
	if err := checkBenchTools(); err != nil {
		return err
	}
	began := time.Now()
	cache, err := filepath.Abs(c.cache)
	if err != nil {
		return err
	}
	work := filepath.Join(cache, "work")
	os.RemoveAll(work)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(work)
	imgtool, crane, err := benchBinaries(c, filepath.Join(cache, "bin"))
	if err != nil {
		return err
	}
	src, dst, cleanup, err := benchDaemons(work)
	if err != nil {
		return err
	}
	defer cleanup()
	imgs, err := buildImages(src, cache, work, c.smoke)
	if err != nil {
		return err
	}
	env := &benchEnv{c: c, imgtool: imgtool, crane: crane, src: src, dst: dst, work: work}
	env.features()
	ops := selectOps(c, env, imgs)
	if !c.smoke { // smoke runs keep the harness working; they measure nothing
		settle(work)
	}
	logf2("prepared in %v; %d runs of %d operations", time.Since(began).Round(time.Second), c.runs, len(ops))
	loadStart := loadavg()
	failed := false
	for r := 0; r < c.runs; r++ {
		for _, o := range ops {
			failed = runOp(o, r) || failed
		}
	}
	rep := &report{c: c, env: env, imgs: imgs, ops: ops, began: began, took: time.Since(began), loadStart: loadStart}
	if err := rep.write(c.out); err != nil {
		return err
	}
	logf2("wrote %s in %v", c.out, time.Since(began).Round(time.Second))
	fmt.Print(rep.summary())
	if failed {
		return fmt.Errorf("some commands failed (see above and %s)", c.out)
	}
	return nil
}

// checkBenchTools refuses to start without root and the peers measured.
func checkBenchTools() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (a private dockerd, overlay2 stores)")
	}
	for _, t := range []string{"dockerd", "docker", "skopeo", "go", "gzip", "tar"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s not found in PATH", t)
		}
	}
	return nil
}

// benchBinaries builds imgtool and installs the pinned crane into bin
// ("" for crane when it cannot be had: its rows are skipped).
func benchBinaries(c *config, bin string) (imgtool, crane string, err error) {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", "", err
	}
	imgtool = filepath.Join(bin, "imgtool")
	logf2("go build -o %s ./cmd/imgtool", imgtool)
	c.builtFrom = cmdOut(nil, "git", "describe", "--always", "--dirty")
	if err := run("", "go", "build", "-trimpath", "-o", imgtool, "./cmd/imgtool"); err != nil {
		return "", "", err
	}
	crane = filepath.Join(bin, "crane")
	if c.noCrane {
		return imgtool, "", nil
	}
	if out, err := exec.Command(crane, "version").Output(); err != nil || strings.TrimSpace(string(out)) != craneVersion {
		logf2("go install crane@%s into %s", craneVersion, bin)
		cmd := exec.Command("go", "install", "github.com/google/go-containerregistry/cmd/crane@"+craneVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			logf2("crane not available, its rows are skipped: %v\n%s", err, out)
			crane = ""
		}
	}
	return imgtool, crane, nil
}

// benchDaemons starts the source and load daemons; an interrupt stops
// them and removes work before exiting.
func benchDaemons(work string) (src, dst *daemon, cleanup func(), err error) {
	if src, err = startDaemon("source"); err != nil {
		return nil, nil, nil, err
	}
	if dst, err = startDaemon("load"); err != nil {
		src.close()
		return nil, nil, nil, err
	}
	cleanup = func() { src.close(); dst.close() }
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		logf2("interrupted: stopping the daemons")
		cleanup()
		os.RemoveAll(work)
		os.Exit(130)
	}()
	return src, dst, cleanup, nil
}

// selectOps lists the operations -images and -only ask for.
func selectOps(c *config, env *benchEnv, imgs []*image) []*op {
	var ops []*op
	for _, im := range imgs {
		if !c.images[im.key] {
			continue
		}
		for _, o := range env.ops(im) {
			if c.only == nil || c.only[o.key] {
				ops = append(ops, o)
			}
		}
	}
	return ops
}

// runOp measures every tool of one operation once (run r), alternating
// their order, records the floor and removes the outputs; it reports
// whether a required tool failed.
func runOp(o *op, r int) (failed bool) {
	order := activeTools(o)
	if r%2 == 1 { // odd runs reverse the order of the tools
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	var floorSrc string
	for _, t := range order {
		if t.err != nil {
			continue
		}
		s, err := measure(t, r)
		if err != nil {
			t.err = err
			logf2("run %d %s %s %s: FAILED: %v", r+1, o.img.key, o.key, t.name, err)
			failed = failed || !t.optional
			continue
		}
		t.samples = append(t.samples, s)
		logf2("run %d %s %-7s %-22s %8.2fs  rss %s", r+1, o.img.key, o.key, t.name, s.wall.Seconds(), kb(s.rssKB))
		if t.name == "imgtool" && o.floorFile == nil && t.output != nil {
			floorSrc = t.output(r)
		}
	}
	if o.floorFile != nil {
		floorSrc = o.floorFile()
	}
	if floorSrc != "" {
		if d, err := readSHA256(floorSrc); err == nil {
			o.floor = append(o.floor, d)
		}
	}
	for _, t := range o.tools {
		if t.output != nil {
			os.RemoveAll(t.output(r))
		}
	}
	return failed
}

func activeTools(o *op) []*tool {
	var ts []*tool
	for _, t := range o.tools {
		if t.skip == "" {
			ts = append(ts, t)
		}
	}
	return ts
}

func kb(k int64) string {
	if k == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(k)/1024)
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
