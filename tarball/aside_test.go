package tarball

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgtool/imgtool/imageid"
)

func TestAsideHasher(t *testing.T) {
	for _, n := range []int{0, 1, asideChunk - 1, asideChunk, 3*asideChunk + 7, 20 * asideChunk} {
		data := make([]byte, n)
		rand.Read(data)
		a := NewAsideHasher(bytes.NewReader(data))
		got, err := io.ReadAll(a)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("n=%d: bytes differ (%v)", n, err)
		}
		if a.Sum() != imageid.FromBytes(data) || a.N() != int64(n) {
			t.Fatalf("n=%d: sum %s n %d", n, a.Sum(), a.N())
		}
	}
}

type failing struct{ left int }

func (f *failing) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.left)
	f.left -= n
	return n, nil
}

func TestAsideHasherErrorsAndEarlyClose(t *testing.T) {
	a := NewAsideHasher(&failing{left: 5 * asideChunk})
	if _, err := io.ReadAll(a); err == nil || err.Error() != "disk on fire" {
		t.Fatalf("read error not passed on: %v", err)
	}
	// A reader that stops early and closes must not leave the goroutines stuck.
	b := NewAsideHasher(bytes.NewReader(make([]byte, 50*asideChunk)))
	io.ReadFull(b, make([]byte, 10))
	b.Close()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		t.Fatal("aside hasher still running after Close")
	}
}

// watched fails the test if it is read after closed is set.
type watched struct {
	r      io.Reader
	closed atomic.Bool
	t      *testing.T
}

func (w *watched) Read(p []byte) (int, error) {
	time.Sleep(20 * time.Millisecond) // a read in flight when Close is called
	if w.closed.Load() {
		w.t.Error("source read after AsideHasher.Close returned")
	}
	return w.r.Read(p)
}

// TestAsideHasherCloseWaits: once Close returns, r is not read any more, so
// the caller may close it (Apply's error path, then the decompressor).
func TestAsideHasherCloseWaits(t *testing.T) {
	for range 3 {
		w := &watched{r: bytes.NewReader(make([]byte, 50*asideChunk)), t: t}
		a := NewAsideHasher(w)
		io.ReadFull(a, make([]byte, asideChunk)) // the reader goes on to the next chunk
		a.Close()
		w.closed.Store(true)
		time.Sleep(50 * time.Millisecond)
	}
}
