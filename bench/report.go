package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type report struct {
	c     *config
	env   *benchEnv
	imgs  []*image
	ops   []*op
	began time.Time
	took  time.Duration
	b     strings.Builder

	loadStart string // /proc/loadavg when the timed runs began
}

func (r *report) p(format string, args ...any) { fmt.Fprintf(&r.b, format, args...) }

func cmdOut(env []string, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "?"
}

// cpuFeatures lists the /proc/cpuinfo flags that decide hashing and
// compression speed (sha_ni: SHA-256 in hardware, Go uses it).
func cpuFeatures() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(l, "flags")
		if !ok {
			continue
		}
		have := map[string]bool{}
		for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(v), ":")) {
			have[f] = true
		}
		var out []string
		for _, f := range []string{"sha_ni", "avx2", "avx512f", "aes", "pclmulqdq", "bmi2"} {
			if have[f] {
				out = append(out, f)
			} else {
				out = append(out, "no "+f)
			}
		}
		return strings.Join(out, ", ")
	}
	return "?"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			var k int64
			fmt.Sscan(strings.TrimSpace(v), &k)
			return fmt.Sprintf("%.1f GiB", float64(k)/(1<<20))
		}
	}
	return "?"
}

func secs(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.3f s", s)
	}
}

func mbps(n int64, d time.Duration) string {
	if n <= 0 || d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", float64(n)/1e6/d.Seconds())
}

func mb(n int64) string {
	if n <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// opBytes is the number of bytes an operation streams.
func opBytes(o *op) int64 {
	if o.bytes != nil {
		return o.bytes()
	}
	for _, t := range o.tools {
		if t.name == "imgtool" && len(t.samples) > 0 {
			return summarize(t.samples).out
		}
	}
	for _, t := range o.tools {
		if len(t.samples) > 0 {
			return summarize(t.samples).out
		}
	}
	return 0
}

func findTool(o *op, name string) *tool {
	for _, t := range o.tools {
		if strings.HasPrefix(t.name, name) {
			return t
		}
	}
	return nil
}

type check struct {
	what, image, measured string
	met                   *bool // nil: not measurable
}

func boolp(b bool) *bool { return &b }

// findExact is the tool named exactly name.
func findExact(o *op, name string) *tool {
	for _, t := range o.tools {
		if t.name == name {
			return t
		}
	}
	return nil
}

// roundTwo are issue #16's targets: imgtool's row, the peer's row, the
// largest ratio of medians that meets it.
var roundTwo = map[string][]struct {
	mine, peer string
	limit      float64
}{
	"save":    {{"imgtool", "docker save", 0.35}, {"imgtool --no-sync", "docker save", 0.35}},
	"load":    {{"imgtool", "docker load + sync", 0.7}, {"imgtool --no-sync", "docker load", 0.25}, {"imgtool", "tar -xf layer + sync -f", 0.9}},
	"import":  {{"imgtool", "tar -xf + sync -f", 0.9}, {"imgtool --no-sync", "tar -xf", 0.8}},
	"export":  {{"imgtool", "docker export", 0.25}, {"imgtool --no-sync", "docker export", 0.25}},
	"commit":  {{"imgtool", "docker commit", 0.5}},
	"convert": {{"imgtool", "skopeo", 0.8}},
	"gzip":    {{"imgtool", "skopeo", 0.8}},
}

// ratioCheck compares the medians of two rows of o against limit.
func ratioCheck(o *op, mine, peer string, limit float64) check {
	what := fmt.Sprintf("%s: %s ≤ %.2g× %s", o.key, mine, limit, peer)
	it, pt := findExact(o, mine), findExact(o, peer)
	if it == nil || pt == nil || len(it.samples) == 0 || len(pt.samples) == 0 {
		reason := "not measured"
		switch {
		case it != nil && it.skip != "":
			reason = it.skip
		case it != nil && it.err != nil:
			reason = mine + " failed"
		case pt != nil && pt.err != nil:
			reason = peer + " failed"
		}
		return check{what, o.img.key, reason, nil}
	}
	x := summarize(it.samples).med.Seconds() / summarize(pt.samples).med.Seconds()
	return check{what, o.img.key, fmt.Sprintf("%.2f×", x), boolp(x <= limit)}
}

func (r *report) checks() []check {
	var cs []check
	for _, o := range r.ops {
		for _, t := range roundTwo[o.key] {
			if findExact(o, t.peer) != nil {
				cs = append(cs, ratioCheck(o, t.mine, t.peer, t.limit))
			}
		}
	}
	for _, im := range r.imgs {
		cs = append(cs, r.rssChecks(im)...)
	}
	return cs
}

// rssChecks: peak RSS ≤ 64 MiB for every imgtool row, ≤ 32 MiB for the
// rows that compress nothing.
func (r *report) rssChecks(im *image) []check {
	var worst, worstPlain int64
	var worstOp, worstPlainOp string
	for _, o := range r.ops {
		if o.img != im {
			continue
		}
		for _, t := range o.tools {
			if !strings.HasPrefix(t.name, "imgtool") || len(t.samples) == 0 {
				continue
			}
			s := summarize(t.samples)
			if s.rssKB > worst {
				worst, worstOp = s.rssKB, o.key
			}
			if !o.compressed && s.rssKB > worstPlain {
				worstPlain, worstPlainOp = s.rssKB, o.key
			}
		}
	}
	var cs []check
	if worst > 0 {
		cs = append(cs, check{"peak RSS ≤ 64 MiB (every imgtool command)", im.key, fmt.Sprintf("%s (%s)", kb(worst), worstOp), boolp(worst <= 64<<10)})
	}
	if worstPlain > 0 {
		cs = append(cs, check{"peak RSS ≤ 32 MiB (imgtool commands that compress nothing)", im.key, fmt.Sprintf("%s (%s)", kb(worstPlain), worstPlainOp), boolp(worstPlain <= 32<<10)})
	}
	return cs
}

func mark(m *bool) string {
	switch {
	case m == nil:
		return "n/a"
	case *m:
		return "met"
	default:
		return "**missed**"
	}
}

func (r *report) write(path string) error {
	c := r.c
	r.p("# Benchmarks\n\n")
	if c.smoke {
		r.p("> **Smoke run** (tiny images, 1 run): it only checks that the harness works; the numbers mean nothing.\n\n")
	}
	r.p("Generated by `bench/` on %s (%v in all). To reproduce: `make bench`, i.e.\n\n", r.began.UTC().Format("2006-01-02 15:04 UTC"), r.took.Round(time.Second))
	r.p("```\n%s\n```\n\n", strings.TrimSpace(c.argsLine))
	r.p("(as root, with dockerd, docker, skopeo and Go; the images are cached under `.bench/`).\n\n")

	r.machine()
	r.imagesAndMethod()
	r.imageTables()
	r.targetsAndNotes()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(r.b.String()+keptScale(path)), 0o644)
}

// machine is the section on the machine and the tools' versions.
func (r *report) machine() {
	e := r.env
	r.p("## Machine and versions\n\n")
	r.p("| | |\n|---|---|\n")
	r.p("| CPU | %s, %d logical CPUs (GOMAXPROCS %d) |\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	r.p("| CPU features | %s |\n", cpuFeatures())
	r.p("| memory | %s |\n", memTotal())
	r.p("| kernel | %s |\n", cmdOut(nil, "uname", "-sr"))
	fs := cmdOut(nil, "sh", "-c", "df -T "+filepath.Dir(e.work)+" | awk 'NR==2{print $2\" on \"$1}'")
	r.p("| filesystem of .bench | %s |\n", fs)
	r.p("| free-page reporting to the hypervisor | %s |\n", pageReporting())
	r.p("| imgtool | built from %s (`%s`) |\n", r.c.builtFrom, cmdOut(nil, "go", "version"))
	r.p("| docker | CLI %s, dockerd %s (private daemons, overlay2) |\n",
		cmdOut(e.src.env(), "docker", "version", "-f", "{{.Client.Version}}"), cmdOut(e.src.env(), "docker", "version", "-f", "{{.Server.Version}}"))
	r.p("| skopeo | %s |\n", cmdOut(nil, "skopeo", "--version"))
	if e.crane != "" {
		r.p("| crane | %s |\n", cmdOut(nil, e.crane, "version"))
	} else {
		r.p("| crane | not available (rows skipped) |\n")
	}
	r.p("| gzip | %s |\n", cmdOut(nil, "gzip", "--version"))
	r.p("| load average (1/5/15 min) | at start %s; at end %s |\n", r.loadStart, loadavg())

}

// pageReporting says whether the guest reports free pages to its host
// (virtio-balloon page_reporting). Where it is on, the first write of a
// GiB into pages freed a few seconds earlier costs seconds of system time
// in the kernel's copy (measured: dd of 1 GiB to a new file 0.17 s right
// after another, 3.2 s after 4 s idle), whichever tool writes it.
func pageReporting() string {
	b, err := os.ReadFile("/sys/module/page_reporting/parameters/page_reporting_order")
	if err != nil {
		return "off (no page_reporting module)"
	}
	return "on (page_reporting_order " + strings.TrimSpace(string(b)) + "): writes into freshly freed memory cost extra system time, for every tool alike"
}

// imagesAndMethod are the images measured and how.
func (r *report) imagesAndMethod() {
	c := r.c
	r.p("\n## Images\n\n| image | content | layers | `docker save` archive |\n|---|---|---|---|\n")
	for _, im := range r.imgs {
		r.p("| %s `%s` | %s | %d | %s |\n", im.key, im.ref, im.desc, im.layers, mb(im.archSize))
	}

	r.p("\n## Method\n\n")
	r.p("* %d timed run(s) of every command, in one run of the harness; the order of the tools alternates run by run (odd runs reversed). Times are wall-clock; **median** and min–max.\n", c.runs)
	r.p("* Page cache warm (nothing is dropped); `sync` before every command so that earlier writeback is not charged to it. Outputs are written to `.bench/work` on the same filesystem; archives are deleted after each run.\n")
	r.p("* imgtool reads the source dockerd's overlay2 data root directly (`imgtool --root DATA_ROOT …`, read-only while the daemon runs); `imgtool load` loads into a fresh empty root, `docker load` into a second private daemon, restarted on an empty data root after each run.\n")
	r.p("* No big tree is deleted while the bench measures: stores, unpacked directories and the load daemon's data roots of more than %d entries are moved aside and removed at the end, and the runs start %s. On ext4 without a journal the inode allocator skips inodes deleted in the last 60–300 s, so a run would otherwise pay for the deletions of the run before it (bench/fsstate.go).\n", manyFiles, settleNote(r.env.work, r.c.smoke))
	r.p("* **Peak RSS**: the command's maximum resident set as GNU `time -f %%M` reports it (max over runs; includes waited-for children, e.g. both sides of a pipe; not the rusage Go gets, which starts from the bench's own size: bench/measure.go). For docker commands the work is done by dockerd: its peak RSS during the command is shown too (VmHWM after `clear_refs`=5; the daemon's baseline included).\n")
	r.p("* **Floor**: one sequential read of the same bytes with sha256 (Go, one thread) from the page cache: the archive for save/load/gzip/convert, imgtool's output tar for export/flatten. `× floor` = median ÷ floor median; the 2× target applies where nothing is compressed.\n")
	r.p("* MB/s = the operation's uncompressed bytes (the column *bytes*) ÷ median, 1 MB = 10⁶ bytes. *ratio* = imgtool median ÷ that tool's median (< 1: imgtool is faster).\n")

}

// imageTables are one table of medians per image.
func (r *report) imageTables() {
	for _, im := range r.imgs {
		r.p("\n## Image %s: %s\n\n", im.key, im.desc)
		r.p("| operation | tool | median | min–max | MB/s | ratio imgtool/tool | × floor | peak RSS | dockerd peak RSS | output |\n")
		r.p("|---|---|---|---|---|---|---|---|---|---|\n")
		for _, o := range r.ops {
			if o.img != im {
				continue
			}
			n := opBytes(o)
			var itMed time.Duration
			if it := findTool(o, "imgtool"); it != nil && len(it.samples) > 0 {
				itMed = summarize(it.samples).med
			}
			for _, t := range o.tools {
				r.toolRow(o, t, n, itMed)
			}
			if len(o.floor) > 0 {
				fm := median(o.floor)
				r.p("| %s (%s) | *floor: read + sha256* | %s | %s–%s | %s | | 1.0× | | | |\n", o.title, mb(n), secs(fm), secs(minD(o.floor)), secs(maxD(o.floor)), mbps(n, fm))
			}
		}
	}

}

// toolRow is one tool's row of an operation's table.
func (r *report) toolRow(o *op, t *tool, n int64, itMed time.Duration) {
	label := fmt.Sprintf("%s (%s)", o.title, mb(n))
	if t.skip != "" {
		r.p("| %s | %s | skipped: %s | | | | | | | |\n", label, esc(t.name), t.skip)
		return
	}
	if len(t.samples) == 0 {
		msg := "not run"
		if t.err != nil {
			msg = "failed: " + strings.ReplaceAll(oneLineStr(t.err.Error(), 160), "|", "\\|")
		}
		r.p("| %s | %s | %s | | | | | | | |\n", label, esc(t.name), msg)
		return
	}
	s := summarize(t.samples)
	ratio := "–"
	if t.name != "imgtool" && itMed > 0 {
		ratio = fmt.Sprintf("%.2f×", itMed.Seconds()/s.med.Seconds())
	}
	fl := "–"
	if len(o.floor) > 0 {
		fl = fmt.Sprintf("%.1f×", s.med.Seconds()/median(o.floor).Seconds())
	}
	dk := "–"
	if t.daemon != nil {
		dk = kb(s.daemonKB)
	}
	failed := ""
	if t.err != nil {
		failed = " (a later run failed)"
	}
	r.p("| %s | %s | %s%s | %s–%s | %s | %s | %s | %s | %s | %s |\n", label, esc(t.name), secs(s.med), failed, secs(s.min), secs(s.max),
		mbps(n, s.med), ratio, fl, kb(s.rssKB), dk, mb(s.out))
}

// targetsAndNotes are the targets met or missed, the commands and notes.
func (r *report) targetsAndNotes() {
	r.p("\n## Targets (ratio of medians in this run)\n\n| target | image | measured | |\n|---|---|---|---|\n")
	for _, ch := range r.checks() {
		r.p("| %s | %s | %s | %s |\n", esc(ch.what), ch.image, esc(ch.measured), mark(ch.met))
	}

	var notes []string
	seen := map[string]bool{}
	for _, o := range r.ops {
		for _, n := range o.notes {
			if !seen[n] {
				seen[n] = true
				notes = append(notes, n)
			}
		}
	}
	r.p("\n## Commands\n\n| operation | tool | command |\n|---|---|---|\n")
	seenCmd := map[string]bool{}
	for _, o := range r.ops {
		for _, t := range o.tools {
			if seenCmd[o.key+t.name] {
				continue
			}
			seenCmd[o.key+t.name] = true
			r.p("| %s | %s | `%s` |\n", o.key, esc(t.name), strings.ReplaceAll(t.cmdline, "|", "\\|"))
		}
	}
	if len(notes) > 0 {
		r.p("\n## Notes\n\n")
		for _, n := range notes {
			r.p("* %s\n", n)
		}
	}
	r.p("* `docker save | gzip` uses gzip's default level (6); skopeo and crane compress with Go's gzip at their defaults. Output sizes are in the *output* column.\n")
	r.p("* `imgtool save -o` fsyncs its output before renaming it into place; `docker save -o` does not.\n")
}

// summary is the targets table for the terminal.
func (r *report) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-48s %-5s %-22s %s\n", "target", "image", "measured", "")
	for _, ch := range r.checks() {
		fmt.Fprintf(&b, "%-48s %-5s %-22s %s\n", ch.what, ch.image, ch.measured, strings.Trim(mark(ch.met), "*"))
	}
	return b.String()
}

func oneLineStr(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func minD(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = min(m, x)
	}
	return m
}

func maxD(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// loadavg is the first three fields of /proc/loadavg: other work on the
// machine makes every number noisier.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
