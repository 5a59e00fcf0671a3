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

// closable fails the test if it is read after Close, as a zstd decoder
// panics when closed under a reader.
type closable struct {
	t      *testing.T
	closed atomic.Bool
}

func (c *closable) Read(p []byte) (int, error) {
	if c.closed.Load() {
		c.t.Error("read after Close: the caller closed the input while the aside hasher still read it")
	}
	time.Sleep(time.Millisecond)
	return min(len(p), 16<<10), nil
}

func TestAsideHasherCloseWaitsForReads(t *testing.T) {
	for i := 0; i < 20; i++ {
		src := &closable{t: t}
		a := NewAsideHasher(src)
		// Take the whole first chunk: the reader goroutine is then
		// reading the next one from src when Close comes.
		io.ReadFull(a, make([]byte, asideChunk))
		a.Close()
		src.closed.Store(true) // what the caller does next: rc.Close()
		time.Sleep(5 * time.Millisecond)
	}
}
