package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// resumeAttempts bounds how often one blob download is reopened after its
// connection dropped mid-body.
const resumeAttempts = 2

// resumingReader is a blob body that survives a dropped connection: when
// a read fails with a transient error (reset, unexpected EOF), it waits
// the backoff, fetches the blob again and skips the bytes already read, a
// bounded number of times. The digest check above it sees one stream.
type resumingReader struct {
	ctx     context.Context
	open    func() (io.ReadCloser, error)
	rc      io.ReadCloser
	off     int64
	tries   int
	backoff remote.Backoff
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		n, err := r.rc.Read(p)
		r.off += int64(n)
		if err == nil || err == io.EOF || !retryable(err) || r.tries >= resumeAttempts {
			return n, err
		}
		if rerr := r.reopen(); rerr != nil {
			return n, fmt.Errorf("%w (resuming after %d bytes: %v)", err, r.off, rerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// wait counts a try and sleeps its backoff.
func (r *resumingReader) wait() error {
	r.tries++
	d := r.backoff.Duration
	for i := 1; i < r.tries; i++ {
		d = time.Duration(float64(d) * r.backoff.Factor)
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		t.Stop()
		return r.ctx.Err()
	}
}

// reopen fetches the blob again and skips what was read.
func (r *resumingReader) reopen() error {
	if err := r.wait(); err != nil {
		return err
	}
	r.rc.Close()
	rc, err := r.open()
	if err != nil {
		return err
	}
	r.rc = rc
	if _, err := io.CopyN(io.Discard, rc, r.off); err != nil {
		return fmt.Errorf("skipping %d bytes: %w", r.off, err)
	}
	return nil
}

func (r *resumingReader) Close() error { return r.rc.Close() }

// RawConfigFile fetches the config, again if the connection dropped while
// it was read. ggcr reads it in one go, does not retry the body, and keeps
// the truncated bytes after a failed read, so the retry goes through a
// fresh remote image (refetch).
func (pi *pullImage) RawConfigFile() ([]byte, error) {
	r := resumingReader{ctx: pi.ctx, backoff: pi.backoff}
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	for {
		b, err := pi.Image.RawConfigFile()
		if err == nil || !retryable(err) || r.tries >= resumeAttempts {
			return b, err
		}
		if pi.refetch == nil || r.wait() != nil {
			return nil, err
		}
		img, ferr := pi.refetch()
		if ferr != nil {
			return nil, err
		}
		pi.Image = img
	}
}

// ConfigFile parses RawConfigFile.
func (pi *pullImage) ConfigFile() (*v1.ConfigFile, error) {
	b, err := pi.RawConfigFile()
	if err != nil {
		return nil, err
	}
	return v1.ParseConfigFile(bytes.NewReader(b))
}
