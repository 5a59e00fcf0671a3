package overlay2

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/imgtool/imgtool/store"
)

// SetOptions sets the store's write limits and durability (store.OpenWith).
func (s *Store) SetOptions(o store.Options) { s.opts = o }

// budgetError is a layer that streamed more than it may.
type budgetError struct {
	limit int64
	free  bool // the limit is the filesystem's free space
}

func (e *budgetError) Error() string {
	if e.free {
		return fmt.Sprintf("uncompressed size exceeds the %s free on the store's filesystem: %v", store.FormatSize(e.limit), syscall.ENOSPC)
	}
	return fmt.Sprintf("uncompressed size exceeds the limit of %s (--max-layer-size, env IMGTOOL_MAX_LAYER_SIZE)", store.FormatSize(e.limit))
}

// Unwrap makes a free-space refusal an ENOSPC, as the write would have been.
func (e *budgetError) Unwrap() error {
	if e.free {
		return syscall.ENOSPC
	}
	return nil
}

// budget is what one layer may stream now: --max-layer-size, and no more
// than the free space of the store's filesystem (a bomb would fail there
// anyway, after filling the disk for everyone else).
func (s *Store) budget() *budgetError {
	b := &budgetError{limit: s.opts.MaxLayerSize}
	var st unix.Statfs_t
	if err := unix.Statfs(s.overlayDir(), &st); err == nil {
		avail := st.Bavail
		if os.Geteuid() == 0 {
			avail = st.Bfree // root may write the reserved blocks too
		}
		if free := int64(avail) * int64(st.Bsize); b.limit <= 0 || free < b.limit {
			b.limit, b.free = free, true
		}
	}
	if b.limit <= 0 && !b.free {
		return nil
	}
	return b
}

// limitReader counts the decompressed bytes of a layer as they stream and
// fails the read that goes past the budget; it also fails every read once
// ctx is done, so a cancelled or failed transaction stops within one read
// rather than at the end of the layer.
type limitReader struct {
	ctx    context.Context
	r      io.Reader
	n      int64
	budget *budgetError // nil: no limit
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.ctx.Err() != nil {
		return 0, context.Cause(l.ctx)
	}
	if l.budget != nil && int64(len(p)) > l.budget.limit-l.n+1 {
		// Read at most one byte past the budget: enough to know.
		p = p[:max(l.budget.limit-l.n+1, 1)]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.budget != nil && l.n > l.budget.limit {
		return 0, l.budget
	}
	return n, err
}
