package tarball

import (
	"bytes"
	"sync"

	"github.com/vbatts/tar-split/tar/storage"
)

// recorder writes a layer's tar-split on its own goroutine: the crc64 of
// every file's content, the JSON of every entry and the gzip of that
// (together ~35 % of an import's CPU on a rootfs of 6.8k entries, measured
// with pprof) run beside the file writes instead of in line with them.
// Entries and content go over in batches, so the hand-off costs a channel
// operation per batch, not per entry; content is copied into the batch
// (a memmove, far cheaper than the crc64 it moves away). At most
// recorderInFlight+1 batches exist, so memory stays bounded
// whatever the layer holds. The packer sees the entries tar-split's
// disassembly gives, in the same order, so its output is unchanged.
type recorder struct {
	batch   *recordBatch
	full    chan *recordBatch
	free    chan *recordBatch
	wg      sync.WaitGroup
	errOnce sync.Once
	err     error
	failed  chan struct{} // closed when the packer failed
}

// recordBatch holds entries and the file content they follow.
type recordBatch struct {
	items []recordItem
	arena []byte // content, never grown past its capacity
}

type recordKind uint8

const (
	recordEntry   recordKind = iota // e as it is
	recordContent                   // e.Payload: content of the current file
	recordFile                      // e, its Payload the crc64 of the content before it
)

type recordItem struct {
	kind recordKind
	e    storage.Entry
}

const (
	recorderItems    = 256
	recorderArena    = 256 << 10
	recorderInFlight = 2
)

func newRecorder(p storage.Packer) *recorder {
	r := &recorder{
		full:   make(chan *recordBatch, recorderInFlight),
		free:   make(chan *recordBatch, recorderInFlight+1),
		failed: make(chan struct{}),
	}
	for range recorderInFlight + 1 {
		r.free <- recordBatches.Get().(*recordBatch)
	}
	r.batch = <-r.free
	r.wg.Add(1)
	go r.record(p)
	return r
}

// record runs the packer over every batch; after a failure it only
// drains, so the sender never blocks.
func (r *recorder) record(p storage.Packer) {
	defer r.wg.Done()
	var crc uint64 // tar-split's crc64 (storage.CRCTable) of the file's content
	for b := range r.full {
		for i, it := range b.items {
			switch it.kind {
			case recordContent:
				crc = updateISO(crc, it.e.Payload)
			case recordFile:
				if it.e.Size > 0 {
					it.e.Payload = crcSum(crc) // even when nothing was read, as asm does
				}
				crc = 0
				fallthrough
			default:
				if r.err == nil {
					if _, err := p.AddEntry(it.e); err != nil {
						r.fail(err)
					}
				}
			}
			b.items[i] = recordItem{} // drop the payload for the GC
		}
		b.items, b.arena = b.items[:0], b.arena[:0]
		r.free <- b
	}
}

func (r *recorder) fail(err error) {
	r.errOnce.Do(func() { r.err = err; close(r.failed) })
}

// add queues an item; an entry's Payload must not change afterwards.
func (r *recorder) add(kind recordKind, e storage.Entry) error {
	select {
	case <-r.failed:
		return r.err
	default:
	}
	r.batch.items = append(r.batch.items, recordItem{kind: kind, e: e})
	if len(r.batch.items) == recorderItems {
		r.flush()
	}
	return nil
}

func (r *recorder) flush() {
	r.full <- r.batch
	r.batch = <-r.free
}

// content queues a copy of b, content of the file being recorded, split
// wherever the batch's arena fills up.
func (r *recorder) content(b []byte) {
	for len(b) > 0 {
		if r.room() == 0 {
			r.flush()
			continue
		}
		n := min(r.room(), len(b))
		r.add(recordContent, storage.Entry{Payload: r.copyIn(b[:n])})
		b = b[n:]
	}
}

// segment queues a copy of raw tar bytes as one segment entry (tar-split's
// segments must keep their boundaries, so it is never split): in the
// arena when it fits, which saves an allocation a header; a segment
// larger than the arena (the tail, a huge PAX header) gets its own copy.
func (r *recorder) segment(b []byte) error {
	if len(b) > r.room() && len(b) <= recorderArena {
		r.flush()
	}
	var payload []byte
	if len(b) <= r.room() {
		payload = r.copyIn(b)
	} else {
		payload = bytes.Clone(b)
	}
	return r.add(recordEntry, storage.Entry{Type: storage.SegmentType, Payload: payload})
}

// room is what the current batch's arena can still take.
func (r *recorder) room() int { return cap(r.batch.arena) - len(r.batch.arena) }

// copyIn appends b to the current batch's arena, which has room for it,
// and returns the copy.
func (r *recorder) copyIn(b []byte) []byte {
	a := r.batch.arena
	r.batch.arena = append(a, b...)
	return r.batch.arena[len(a) : len(a)+len(b) : len(a)+len(b)]
}

// Close hands over what is queued, waits for the packer and returns its
// first error. It must be called once, whatever happened before.
func (r *recorder) Close() error {
	if len(r.batch.items) > 0 {
		r.full <- r.batch
	} else {
		r.free <- r.batch
	}
	r.batch = nil
	close(r.full)
	r.wg.Wait()
	for range recorderInFlight + 1 {
		recordBatches.Put(<-r.free)
	}
	return r.err
}

// recordBatches hold the batches from one layer to the next.
var recordBatches = sync.Pool{New: func() any {
	return &recordBatch{items: make([]recordItem, 0, recorderItems), arena: make([]byte, 0, recorderArena)}
}}
