package directio

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// testDirs are the filesystems the writer is tried on: the test's temp
// directory (the disk here) and /dev/shm (tmpfs) where it exists.
func testDirs(t *testing.T) []string {
	dirs := []string{t.TempDir()}
	if d, err := os.MkdirTemp("/dev/shm", "directio-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		dirs = append(dirs, d)
	}
	return dirs
}

// TestWriterWritesEveryByte writes sizes around the alignment and the
// buffer size, in uneven pieces, and reads the files back; the fd must
// have O_DIRECT cleared afterwards. Each size reuses the pooled buffers
// of the one before, and a tail-only size must not hang (the current
// buffer, never handed to the goroutine, goes back to the pool too).
func TestWriterWritesEveryByte(t *testing.T) {
	sizes := []int{0, 1, align - 1, align, align + 1, bufSize - 1, bufSize, bufSize + 1, 3*bufSize + 12345}
	for _, dir := range testDirs(t) {
		for _, size := range sizes {
			want := make([]byte, size)
			rand.New(rand.NewSource(int64(size))).Read(want)
			path := filepath.Join(dir, "f")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, ok := NewWriter(int(f.Fd()))
			if !ok {
				t.Logf("%s: no O_DIRECT, plain writes", dir)
				f.Close()
				continue
			}
			for rest, piece := want, 1000; len(rest) > 0; piece = piece*3 + 7 {
				n := min(piece, len(rest))
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatalf("%s, %d bytes: %v", dir, size, err)
			}
			fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
			if err != nil || fl&unix.O_DIRECT != 0 {
				t.Errorf("%s, %d bytes: O_DIRECT still set after Close (flags %#o, %v)", dir, size, fl, err)
			}
			f.Close()
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, %d bytes: read back %d bytes, not what was written", dir, size, len(got))
			}
		}
	}
}

// TestWriterDiscardAndErrors: Discard after some writes returns the
// buffers (a later writer does not hang), and a write error (a read-only
// fd) reaches Close.
func TestWriterDiscardAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		w, ok := NewWriter(int(f.Fd()))
		if !ok {
			t.Skip("no O_DIRECT on", dir)
		}
		if _, err := w.Write(make([]byte, bufSize+5)); err != nil {
			t.Fatal(err)
		}
		w.Discard()
	}
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	w, ok := NewWriter(int(ro.Fd()))
	if !ok {
		t.Skip("O_DIRECT refused on a read-only fd")
	}
	_, werr := w.Write(make([]byte, 2*bufSize))
	cerr := w.Close()
	if err := errors.Join(werr, cerr); !errors.Is(err, unix.EBADF) {
		t.Errorf("writing to a read-only fd: %v, want EBADF", err)
	}
}
