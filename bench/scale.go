package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The scale mode (go run ./bench -scale) measures how imgtool's time and
// peak RSS grow with the input: one layer of growing size, layers of
// growing file counts, archives of growing image counts sharing a base.
// It needs neither docker nor root; inputs are generated (deterministic)
// under .bench/scale and kept for the next run. The table goes between
// scaleBegin and scaleEnd in the report file; the main report keeps it.

const (
	scaleBegin = "<!-- bench -scale: begin -->"
	scaleEnd   = "<!-- bench -scale: end -->"
)

type scaleConfig struct {
	sizes  string // layer sizes, e.g. "256m,1g"
	files  string // file counts, e.g. "10000,100000"
	images string // image counts, e.g. "1,100,1000"
}

// scaleRow is one command on one input.
type scaleRow struct {
	input, cmd string
	units      float64 // MiB, files or images, for the per-unit column
	unit       string
	s          sample
	err        error
}

func runScale(c *config, sc scaleConfig) error {
	cache, err := filepath.Abs(filepath.Join(c.cache, "scale"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	began := time.Now()
	imgtool, _, err := benchBinaries(&config{noCrane: true}, filepath.Join(c.cache, "bin"))
	if err != nil {
		return err
	}
	// Stores are moved aside, not deleted, until the end (fsstate.go).
	trash := filepath.Join(cache, "trash")
	os.RemoveAll(trash)
	defer os.RemoveAll(trash)
	settle(cache)
	var rows []scaleRow
	for _, s := range splitList(sc.sizes) {
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		tarPath, err := scaleInput(cache, "bytes-"+s, func(tw *tar.Writer) error { return bigFileTar(tw, n) })
		if err != nil {
			return err
		}
		rows = append(rows, scaleLayer(imgtool, cache, trash, "one layer of "+human(n), tarPath, float64(n)/(1<<20), "MiB")...)
	}
	for _, s := range splitList(sc.files) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("-scale-files %q: %v", s, err)
		}
		tarPath, err := scaleInput(cache, "files-"+s, func(tw *tar.Writer) error { return smallFilesTar(tw, n) })
		if err != nil {
			return err
		}
		rows = append(rows, scaleLayer(imgtool, cache, trash, fmt.Sprintf("one layer of %d 8-byte files", n), tarPath, float64(n), "file")...)
	}
	for _, s := range splitList(sc.images) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("-scale-images %q: %v", s, err)
		}
		arch := filepath.Join(cache, "images-"+s+".tar")
		if _, err := os.Stat(arch); err != nil {
			logf2("writing an archive of %d images sharing a base", n)
			if err := sharedBaseArchive(arch, n); err != nil {
				return err
			}
		}
		rows = append(rows, scaleArchive(imgtool, cache, trash, n, arch)...)
	}
	return writeScale(c.out, cache, rows, time.Since(began))
}

// scaleInput writes a layer tar once (kept under cache).
func scaleInput(cache, name string, gen func(*tar.Writer) error) (string, error) {
	p := filepath.Join(cache, name+".tar")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	logf2("generating %s", p)
	return p, writeTarFile(p, gen)
}

// writeTarFile writes the tar gen makes to path, through a temp file.
func writeTarFile(path string, gen func(*tar.Writer) error) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	err = gen(tw)
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

var scaleEpoch = time.Unix(1700000000, 0)

// bigFileTar is n bytes of ChaCha8 data in 64 MiB files.
func bigFileTar(tw *tar.Writer, n int64) error {
	rng := rand.NewChaCha8([32]byte{'s', 'c', 'a', 'l', 'e'})
	for i := 0; n > 0; i++ {
		sz := min(n, 64<<20)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/f%04d", i), Mode: 0o644, Size: sz, ModTime: scaleEpoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, rng, sz); err != nil {
			return err
		}
		n -= sz
	}
	return nil
}

// smallFilesTar is n files of 8 bytes, 1,000 to a directory.
func smallFilesTar(tw *tar.Writer, n int) error {
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%04d/", i/1000), Mode: 0o755, ModTime: scaleEpoch, Typeflag: tar.TypeDir}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%04d/f%d", i/1000, i), Mode: 0o644, Size: 8, ModTime: scaleEpoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(tw, "%08d", i%100000000); err != nil {
			return err
		}
	}
	return nil
}

// scaleLayer times import, save and export of one layer tar in a fresh store.
func scaleLayer(imgtool, cache, trash, input, tarPath string, units float64, unit string) []scaleRow {
	root := filepath.Join(cache, "root")
	out := filepath.Join(cache, "out.tar")
	defer discardInto(trash, root)
	defer os.Remove(out)
	os.RemoveAll(root)
	it := func(args ...string) []string {
		return append([]string{imgtool, "--root", root, "--progress", "none"}, args...)
	}
	var rows []scaleRow
	for _, step := range []struct{ name string }{{"import"}, {"save"}, {"export"}} {
		var argv []string
		switch step.name {
		case "import":
			argv = it("import", tarPath, "scale:1")
		case "save":
			argv = it("save", "-o", out, "scale:1")
		case "export":
			argv = it("export", "-o", out, "scale:1")
		}
		s, err := measure(&tool{argv: func(int) []string { return argv }, prep: idleForPages}, 0)
		rows = append(rows, scaleRow{input: input, cmd: step.name, units: units, unit: unit, s: s, err: err})
		logf2("%s: %s %v, %d MiB", input, step.name, s.wall.Round(time.Millisecond), s.rssKB>>10)
		os.Remove(out)
		if err != nil {
			return rows
		}
	}
	return append(rows, scaleTarCf(root, out, input, units, unit))
}

// scaleTarCf times GNU `tar -cf` (+ fsync) of the imported layer's diff dir: the
// floor issue #16 sets for export and save (≤ 1.5× it on the same tree).
func scaleTarCf(root, out, input string, units float64, unit string) scaleRow {
	row := scaleRow{input: input, cmd: "tar -cf + sync FILE (same tree)", units: units, unit: unit}
	dirs, _ := filepath.Glob(filepath.Join(root, "overlay2", "*", "diff"))
	if len(dirs) != 1 {
		row.err = fmt.Errorf("want one layer dir under %s/overlay2, found %d", root, len(dirs))
		return row
	}
	// imgtool's -o output is durable (fsync, then rename): tar's is
	// synced too, with coreutils' sync FILE (an fsync of that file).
	argv := sh("tar -cf " + out + " -C " + dirs[0] + " . && sync " + out)
	row.s, row.err = measure(&tool{argv: func(int) []string { return argv }, prep: idleForPages}, 0)
	os.Remove(out)
	logf2("%s: tar -cf %v, %d MiB", input, row.s.wall.Round(time.Millisecond), row.s.rssKB>>10)
	return row
}

// tarCfRatios are the lines "export ÷ tar -cf" and "save ÷ tar -cf" of
// each input that has a tar -cf row.
func tarCfRatios(rows []scaleRow) []string {
	walls := map[string]map[string]float64{}
	var inputs []string
	for _, r := range rows {
		if r.err != nil {
			continue
		}
		if walls[r.input] == nil {
			walls[r.input] = map[string]float64{}
			inputs = append(inputs, r.input)
		}
		walls[r.input][r.cmd] = r.s.wall.Seconds()
	}
	var lines []string
	for _, in := range inputs {
		w := walls[in]
		floor := w["tar -cf + sync FILE (same tree)"]
		if floor == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("* %s: export %.2f×, save %.2f× `tar -cf` + fsync (target ≤ 1.5×)", in, w["export"]/floor, w["save"]/floor))
	}
	return lines
}

// scaleArchive times load and save of an archive of n images.
func scaleArchive(imgtool, cache, trash string, n int, arch string) []scaleRow {
	root := filepath.Join(cache, "root")
	out := filepath.Join(cache, "out.tar")
	defer discardInto(trash, root)
	defer os.Remove(out)
	os.RemoveAll(root)
	input := fmt.Sprintf("archive of %d images sharing a base", n)
	args := [][]string{
		{imgtool, "--root", root, "--progress", "none", "load", "-q", "-i", arch},
		append([]string{imgtool, "--root", root, "--progress", "none", "save", "-o", out}, scaleTags(n)...),
	}
	var rows []scaleRow
	for i, argv := range args {
		s, err := measure(&tool{argv: func(int) []string { return argv }, prep: idleForPages}, 0)
		rows = append(rows, scaleRow{input: input, cmd: []string{"load", "save"}[i], units: float64(n), unit: "image", s: s, err: err})
		logf2("%s: %s %v, %d MiB", input, argv[5], s.wall.Round(time.Millisecond), s.rssKB>>10)
		if err != nil {
			break
		}
	}
	return rows
}

func scaleTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("scale/img:%d", i)
	}
	return tags
}

// sharedBaseArchive writes a docker save archive of n images: one 4 MiB
// base layer they all share and one small layer of their own.
func sharedBaseArchive(path string, n int) error {
	var base strings.Builder
	btw := tar.NewWriter(&base)
	if err := bigFileTar(btw, 4<<20); err != nil {
		return err
	}
	btw.Close()
	return writeTarFile(path, func(tw *tar.Writer) error {
		add := func(name string, b []byte) error {
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: scaleEpoch, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			_, err := tw.Write(b)
			return err
		}
		baseID := sha256Hex([]byte(base.String()))
		if err := add(baseID+"/layer.tar", []byte(base.String())); err != nil {
			return err
		}
		type entry struct {
			Config   string
			RepoTags []string
			Layers   []string
		}
		var manifest []entry
		for i := 0; i < n; i++ {
			var own strings.Builder
			otw := tar.NewWriter(&own)
			otw.WriteHeader(&tar.Header{Name: "etc/image-id", Mode: 0o644, Size: 8, ModTime: scaleEpoch, Typeflag: tar.TypeReg})
			fmt.Fprintf(otw, "%08d", i)
			otw.Close()
			ownID := sha256Hex([]byte(own.String()))
			config, _ := json.Marshal(map[string]any{
				"architecture": "amd64", "os": "linux", "created": scaleEpoch.UTC().Format(time.RFC3339),
				"config": map[string]any{"Env": []string{"IMAGE=" + strconv.Itoa(i)}},
				"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + baseID, "sha256:" + ownID}},
			})
			cfgID := sha256Hex(config)
			if err := add(ownID+"/layer.tar", []byte(own.String())); err != nil {
				return err
			}
			if err := add(cfgID+".json", config); err != nil {
				return err
			}
			manifest = append(manifest, entry{Config: cfgID + ".json", RepoTags: []string{fmt.Sprintf("scale/img:%d", i)},
				Layers: []string{baseID + "/layer.tar", ownID + "/layer.tar"}})
		}
		m, _ := json.Marshal(manifest)
		return add("manifest.json", m)
	})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseSize reads 256m, 1g, 4g (binary units).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want e.g. 256m or 1g", s)
	}
	return n * mult, nil
}

// writeScale puts the table between the markers in path, keeping the rest.
func writeScale(path, cache string, rows []scaleRow, took time.Duration) error {
	var b strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	p("%s\n## How cost grows with size\n\n", scaleBegin)
	p("Generated by `go run ./bench -scale` on %s (%v) on %s (%s); filesystem %s. One run each, fresh store, `sync` before every command, no store deleted until the end, and where the guest reports free pages to its hypervisor a %v pause before every command so that none of them writes into pages another one just freed (bench/fsstate.go); durable mode (no `--no-sync`). Inputs are generated under `.bench/scale`: a layer of random data in 64 MiB files, a layer of 8-byte files 1,000 to a directory, docker-save archives of images that share a 4 MiB base layer and add one small layer each.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), took.Round(time.Second), cpuModel(), cpuFeatures(),
		cmdOut(nil, "sh", "-c", "df -T "+cache+" | awk 'NR==2{print $2\" on \"$1}'"), pageIdle)
	p("| input | command | wall | CPU (user+sys) | peak RSS | wall per unit |\n|---|---|--:|--:|--:|--:|\n")
	for _, r := range rows {
		if r.err != nil {
			p("| %s | %s | failed: %s | | | |\n", r.input, r.cmd, strings.ReplaceAll(lastLines(r.err.Error(), 1), "|", "\\|"))
			continue
		}
		per := r.s.wall.Seconds() / r.units
		perS := fmt.Sprintf("%.2f ms/%s", per*1e3, r.unit)
		if r.unit == "file" {
			perS = fmt.Sprintf("%.1f µs/%s", per*1e6, r.unit)
		}
		p("| %s | %s | %.2f s | %.2f s | %d MiB | %s |\n", r.input, r.cmd, r.s.wall.Seconds(), (r.s.user + r.s.sys).Seconds(), r.s.rssKB>>10, perS)
	}
	p("\nLinear growth shows as a constant last column down each input kind; peak RSS should stay flat.\n")
	if lines := tarCfRatios(rows); len(lines) > 0 {
		p("\nexport and save against GNU `tar -cf` of the same tree (the layer's diff dir) followed by `sync OUT` (imgtool fsyncs its -o output too), wall-clock:\n\n%s\n", strings.Join(lines, "\n"))
	}
	p("%s\n", scaleEnd)
	old, _ := os.ReadFile(path)
	out := replaceScale(string(old), b.String())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	logf2("wrote the scale table to %s", path)
	return os.WriteFile(path, []byte(out), 0o644)
}

// replaceScale puts section in place of doc's scale section, or appends it.
func replaceScale(doc, section string) string {
	i, j := strings.Index(doc, scaleBegin), strings.Index(doc, scaleEnd)
	if i < 0 || j < i {
		if doc != "" && !strings.HasSuffix(doc, "\n\n") {
			doc = strings.TrimRight(doc, "\n") + "\n\n"
		}
		return doc + section
	}
	return doc[:i] + section + doc[j+len(scaleEnd)+1:]
}

// keptScale is the scale section of the file at path ("" if none), for the
// main report to carry over.
func keptScale(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	doc := string(b)
	i, j := strings.Index(doc, scaleBegin), strings.Index(doc, scaleEnd)
	if i < 0 || j < i {
		return ""
	}
	return "\n" + doc[i:j+len(scaleEnd)] + "\n"
}
