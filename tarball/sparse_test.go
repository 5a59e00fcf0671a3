package tarball

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// paxSparseTar is a tar of one PAX 1.0 sparse entry declaring size bytes
// of holes: a few KB on the wire. Go's writer does not write sparse
// entries, so the blocks are made by hand.
func paxSparseTar(t *testing.T, size int64) []byte {
	t.Helper()
	var recs string
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "big"}, {"GNU.sparse.realsize", itoa(size)}} {
		recs += paxRecord(kv[0], kv[1])
	}
	var buf bytes.Buffer
	buf.Write(rawHeader("PaxHeaders.0/big", 'x', int64(len(recs))))
	buf.Write(pad([]byte(recs)))
	buf.Write(rawHeader("GNUSparseFile.0/big", '0', 512))
	buf.Write(pad([]byte("1\n" + itoa(size) + "\n0\n")))
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3
	for {
		line := itoa(int64(n)) + " " + k + "=" + v + "\n"
		if len(line) == n {
			return line
		}
		n = len(line)
	}
}

func pad(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }

// rawHeader is a ustar header block with its checksum.
func rawHeader(name string, typeflag byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:], name)
	copy(b[100:], "0000644\x00")
	copy(b[108:], "0000000\x00")
	copy(b[116:], "0000000\x00")
	copy(b[124:], octal(size, 11)+"\x00")
	copy(b[136:], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:], "ustar\x0000")
	copy(b[148:], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:], octal(int64(sum), 6)+"\x00 ")
	return b
}

func octal(n int64, width int) string {
	s := ""
	for ; n > 0; n /= 8 {
		s = string(rune('0'+n%8)) + s
	}
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}

// TestApplyRefusesSparse: a 1 TiB PAX sparse entry fails at once, naming
// the entry, and Apply returns promptly (tar-split's goroutine, hashing
// the holes, is stopped rather than waited out).
func TestApplyRefusesSparse(t *testing.T) {
	data := paxSparseTar(t, 1<<40)
	dir := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, err := Apply(bytes.NewReader(data), dir, &bytes.Buffer{}, ApplyOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "sparse") || !strings.Contains(err.Error(), "big") {
			t.Fatalf("want a sparse refusal naming the entry, got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Apply of a 1 TiB sparse entry still running after 20s")
	}
}
