package tarball

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// AsideHasher reads r ahead in chunks and hashes them on its own goroutine
// while the bytes flow on to the reader, so sha256 (the costliest step of
// a load on CPUs without SHA extensions) runs beside tar-split and the
// file writes instead of in line with them. At most asideChunks chunks are
// in flight, so memory stays bounded.
type AsideHasher struct {
	pr   *io.PipeReader
	done chan struct{}
	// stopped is closed when the reader goroutine has returned: after
	// that, r is no longer read and the caller may close it.
	stopped chan struct{}
	sum     v1.Hash
	n       int64
}

const (
	asideChunk  = 256 << 10
	asideChunks = 8
)

type chunk struct {
	buf  []byte
	refs atomic.Int32
}

// NewAsideHasher starts reading r. Chunks come from a pool shared by all
// hashers (pool.go) and are taken only as the stream needs them: a layer
// of a few KiB holds one or two, not asideChunks.
func NewAsideHasher(r io.Reader) *AsideHasher {
	pr, pw := io.Pipe()
	a := &AsideHasher{pr: pr, done: make(chan struct{}), stopped: make(chan struct{})}
	free := make(chan *chunk, asideChunks)
	taken := 0 // chunks taken from the pool, at most asideChunks
	take := func() *chunk {
		select {
		case c := <-free:
			return c
		default:
		}
		if taken < asideChunks {
			taken++
			return asideBufs.Get().(*chunk)
		}
		return <-free
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}
	toHash := make(chan *chunk, asideChunks)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the hasher
		defer wg.Done()
		h := sha256.New()
		for c := range toHash {
			h.Write(c.buf)
			release(c)
		}
		a.sum = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	}()
	go func() { // the reader: one read, two consumers
		defer close(a.stopped)
		var err error
		for err == nil {
			c := take()
			c.buf = c.buf[:cap(c.buf)]
			var n int
			n, err = io.ReadFull(r, c.buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			if n == 0 {
				free <- c
				continue
			}
			c.buf = c.buf[:n]
			a.n += int64(n)
			c.refs.Store(2)
			toHash <- c
			_, werr := pw.Write(c.buf)
			release(c)
			if werr != nil {
				err = werr
			}
		}
		close(toHash)
		wg.Wait()
		// every chunk is back in free: the pipe's reader copied its bytes
		// out before Write returned, and the hasher is done
		for ; taken > 0; taken-- {
			asideBufs.Put(<-free)
		}
		close(a.done)
		if err == io.EOF {
			err = nil
		}
		pw.CloseWithError(err)
	}()
	return a
}

// Read returns the stream's bytes; its EOF comes after every byte is hashed.
func (a *AsideHasher) Read(p []byte) (int, error) { return a.pr.Read(p) }

// Close stops reading early (the remaining input is not consumed) and
// waits until the reader goroutine has stopped reading r: the caller
// closes r next (a zstd decoder panics when closed under a reader), so
// Close must not return while a read of r is still in flight.
func (a *AsideHasher) Close() error {
	err := a.pr.Close()
	<-a.stopped
	return err
}

// Sum waits for the hasher and returns the sha256 of everything read from r.
func (a *AsideHasher) Sum() v1.Hash { <-a.done; return a.sum }

// N is the number of bytes read from r (valid after Sum).
func (a *AsideHasher) N() int64 { <-a.done; return a.n }
