package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// softMemoryLimit is the GC's soft limit: memory is bounded by design
// (streams, fixed buffers), and the limit keeps garbage from inflating RSS
// between collections. It counts the Go runtime's memory, not the ~12 MiB
// of the binary's own pages that RSS adds. At 40 MiB, a load or save of
// 1,000 images (live heap ~10 MB: the images' records and two layers'
// buffers) let the heap grow to twice that before a collection and peaked
// at 36–38 MiB RSS; at 22 MiB it stays under 32 MiB, with a handful more
// collections of a heap that allocates little (measured: the same CPU).
const softMemoryLimit = 22 << 20

// limitMemory sets the soft limit and keeps it at least 1.5 times the live
// heap. A fixed limit below the live heap (before exports streamed, export
// of a 300k-file layer held its merged tree; flatten of archive layers
// still does) makes the GC run back to back: measured, 100k files took
// 6.6 s of CPU under the fixed limit and 1.3 s without it. The
// watcher raises the limit as the live heap grows, so small commands keep
// a small RSS and big trees cost linear time.
func limitMemory() {
	debug.SetMemoryLimit(softMemoryLimit)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		limit := int64(softMemoryLimit)
		for range time.Tick(50 * time.Millisecond) {
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			if live := int64(sample[0].Value.Uint64()); live+live/2 > limit {
				limit = live + live/2
				debug.SetMemoryLimit(limit)
			}
		}
	}()
}
