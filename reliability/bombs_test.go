package reliability

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/imgtool/imgtool/internal/dockertest"
)

// The size-budget and sparse corpus: generated here, not in testdata/bad,
// since the inputs are cheap to make and their classes are this package's.

// zeroLayer is a layer tar of one file of n zero bytes.
func zeroLayer(t testing.TB, n int) []byte {
	return mkTar(t, tarEnt{name: "zeros", body: make([]byte, n)})
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(b, nil)
}

// sparseTar is a tar of one GNU sparse entry declaring size bytes, almost
// all holes, in PAX format 1.0 (map in the data) or 0.1 (map in records).
// Go's writer makes no sparse entries: the blocks are written by hand.
func sparseTar(size int64, format string) []byte {
	recs := [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "big"}, {"GNU.sparse.realsize", strconv.FormatInt(size, 10)}}
	data := pad512([]byte("1\n" + strconv.FormatInt(size, 10) + "\n0\n"))
	name := "GNUSparseFile.0/big"
	if format == "0.1" {
		recs = [][2]string{{"GNU.sparse.size", strconv.FormatInt(size, 10)}, {"GNU.sparse.numblocks", "1"}, {"GNU.sparse.map", strconv.FormatInt(size, 10) + ",0"}}
		data, name = nil, "big"
	}
	var pax string
	for _, kv := range recs {
		pax += paxLine(kv[0], kv[1])
	}
	var buf bytes.Buffer
	buf.Write(ustarHeader("PaxHeaders.0/big", 'x', int64(len(pax))))
	buf.Write(pad512([]byte(pax)))
	buf.Write(ustarHeader(name, '0', int64(len(data))))
	buf.Write(data)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

func paxLine(k, v string) string {
	n := len(k) + len(v) + 3
	for {
		line := strconv.Itoa(n) + " " + k + "=" + v + "\n"
		if len(line) == n {
			return line
		}
		n = len(line)
	}
}

func pad512(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }

func ustarHeader(name string, typeflag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b, name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], fmt.Sprintf("%011o\x00", size))
	copy(b[136:], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

type bombCase struct {
	name  string
	input []byte   // written to {file}
	args  []string // {file} replaced
	want  string   // in the one-line error
}

func bombCases(t *testing.T) []bombCase {
	gz64 := gzipped(zeroLayer(t, 64<<20))
	zs128 := zstded(t, zeroLayer(t, 128<<20))
	archive := func(layer []byte) []byte {
		p := filepath.Join(t.TempDir(), "a.tar")
		writeArchive(t, p, bombImage(t, layer))
		b, _ := os.ReadFile(p)
		return b
	}
	return []bombCase{
		{"layer-gzip-bomb-budget", archive(gz64), []string{"--max-layer-size", "16m", "load", "-q", "-i", "{file}"}, "exceeds the limit of 16 MiB (--max-layer-size"},
		{"layer-zstd-bomb-budget", archive(zs128), []string{"--max-layer-size", "16m", "load", "-q", "-i", "{file}"}, "exceeds the limit of 16 MiB (--max-layer-size"},
		{"import-gzip-bomb-budget", gz64, []string{"--max-layer-size", "16m", "import", "{file}", "bomb:1"}, "exceeds the limit of 16 MiB (--max-layer-size"},
		{"layer-pax-sparse-1tib", archive(sparseTar(1<<40, "1.0")), []string{"load", "-q", "-i", "{file}"}, "sparse files"},
		{"layer-pax01-sparse-1tib", archive(sparseTar(1<<40, "0.1")), []string{"load", "-q", "-i", "{file}"}, "sparse files"},
		{"import-pax-sparse-1tib", sparseTar(1<<40, "1.0"), []string{"import", "{file}", "sparse:1"}, "sparse files"},
	}
}

// bombImage is an image of one layer stored as given (compressed or
// not) whose config names the diff ID of its uncompressed tar: a valid
// image, only too big.
func bombImage(t testing.TB, layer []byte) testImage {
	raw := layer
	switch {
	case bytes.HasPrefix(layer, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(layer))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(zr)
	case bytes.HasPrefix(layer, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, _ := zstd.NewReader(nil)
		var err error
		if raw, err = d.DecodeAll(layer, nil); err != nil {
			t.Fatal(err)
		}
	}
	img := newImage("bomb:1", raw)
	img.layers = [][]byte{layer}
	return img
}

// TestBombCorpus: every case fails with one line naming the cause, leaves
// the store as it was and nothing in TMPDIR.
func TestBombCorpus(t *testing.T) {
	tmpl := templateStore(t)
	for _, c := range bombCases(t) {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			store, tmp := filepath.Join(dir, "store"), filepath.Join(dir, "tmp")
			os.Mkdir(tmp, 0o755)
			copyTree(t, tmpl, store)
			input := filepath.Join(dir, "input")
			if err := os.WriteFile(input, c.input, 0o644); err != nil {
				t.Fatal(err)
			}
			var args []string
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "{file}", input))
			}
			before := dockertest.StoreListing(store)
			res := run{root: store, args: args, tmpdir: tmp}.do(t)
			if res.code != 1 {
				t.Fatalf("want exit 1:\n%s", res)
			}
			if msg := messages(res.stderr); strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Errorf("want one line containing %q, got %q", c.want, msg)
			}
			if diff := dockertest.ListingDiff(before, dockertest.StoreListing(store)); diff != "" {
				t.Errorf("store changed:\n%s", diff)
			}
			if left := dirEntries(tmp); len(left) > 0 {
				t.Errorf("files left in TMPDIR: %q", left)
			}
		})
	}
}

// TestLimitEnvironment: IMGTOOL_MAX_LAYER_SIZE sets the budget as the flag
// does, and IMGTOOL_NO_SYNC=1 loads a store that checks clean.
func TestLimitEnvironment(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "bomb.tar")
	writeArchive(t, archive, bombImage(t, gzipped(zeroLayer(t, 32<<20))))
	envRun := func(root string, env ...string) (int, string) {
		cmd := run{root: root, args: []string{"load", "-q", "-i", archive}}.command(t, t.Context())
		cmd.Env = append(cmd.Env, env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	root := filepath.Join(dir, "a")
	if code, stderr := envRun(root, "IMGTOOL_MAX_LAYER_SIZE=8m"); code != 1 || !strings.Contains(stderr, "limit of 8 MiB") {
		t.Errorf("IMGTOOL_MAX_LAYER_SIZE=8m: want the budget error, got %d %q", code, stderr)
	}
	if code, stderr := envRun(filepath.Join(dir, "bad"), "IMGTOOL_MAX_LAYER_SIZE=lots"); code != 2 || !strings.Contains(stderr, "invalid size") {
		t.Errorf("IMGTOOL_MAX_LAYER_SIZE=lots: want a usage error, got %d %q", code, stderr)
	}
	root = filepath.Join(dir, "b")
	if code, stderr := envRun(root, "IMGTOOL_NO_SYNC=1"); code != 0 {
		t.Fatalf("IMGTOOL_NO_SYNC=1: load failed: %q", stderr)
	}
	checkStore(t, run{root: root})
}
