package tarball

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
)

// Layers applied and assembled one after another reuse their buffers
// (pool.go): a small layer costs what its own entries need, not the
// ~4 MiB of hasher chunks, tail, bufio and gzip buffers each one
// allocated before, 4 GB for a load of 1,000 small layers.
func TestSmallLayersReuseBuffers(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no GC: pools keep what they hold
	layer := buildTar(t, dir("etc/", 0o755), file("etc/image-id", "00000001", 0o644))
	root := t.TempDir()
	apply := func(i int) []byte {
		dir := filepath.Join(root, strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var ts bytes.Buffer
		if _, err := Apply(bytes.NewReader(layer), dir, &ts, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		rc := AssembleReader(bytes.NewReader(ts.Bytes()), dir)
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := apply(0) // fills the pools
	const n = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 1; i <= n; i++ {
		if got := apply(i); !bytes.Equal(got, first) || !bytes.Equal(got, layer) {
			t.Fatalf("layer %d: assembled tar differs from the input", i)
		}
	}
	runtime.ReadMemStats(&after)
	perLayer := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes allocated per layer applied and assembled", perLayer)
	if perLayer > 256<<10 {
		t.Errorf("%d KiB allocated per small layer: buffers are not reused (one hasher chunk is 256 KiB)", perLayer>>10)
	}
}
