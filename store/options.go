package store

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultMaxLayerSize bounds what one layer may expand to: generous for
// real images, small enough that a decompression bomb stops long before
// it fills a disk.
const DefaultMaxLayerSize = 64 << 30

// Options are the limits and the durability of a store's writes.
type Options struct {
	// MaxLayerSize is the most uncompressed bytes one layer may stream
	// (checked while streaming); 0 means no limit but the free space of
	// the store's filesystem, which is always checked too.
	MaxLayerSize int64
	// NoSync skips the syncfs before a transaction's commit renames: the
	// renames stay atomic, but a power loss may lose the last layers.
	NoSync bool
	// Namespace is the containerd namespace the containerd backend reads
	// and writes: moby (Docker), default (ctr, nerdctl), k8s.io.
	Namespace string
}

// DefaultNamespace is $IMGTOOL_NAMESPACE, else Docker's "moby".
func DefaultNamespace() string {
	if ns := os.Getenv("IMGTOOL_NAMESPACE"); ns != "" {
		return ns
	}
	return "moby"
}

// DefaultOptions are the options of a store opened with Open.
func DefaultOptions() Options {
	return Options{MaxLayerSize: DefaultMaxLayerSize, Namespace: DefaultNamespace()}
}

// Configurable is a Store that takes Options; OpenWith sets them.
type Configurable interface {
	SetOptions(Options)
}

// OpenWith is Open, then the options, for backends that take them.
func OpenWith(root string, opts Options) (Store, error) {
	s, err := Open(root)
	if err != nil {
		return nil, err
	}
	if c, ok := s.(Configurable); ok {
		c.SetOptions(opts)
	}
	return s, nil
}

// ParseSize reads a size such as 64g, 512MiB, 1.5G or 1048576 (binary
// units: k, m, g, t with an optional "i" and "b", any case).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	mult := int64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("kmgtp", t[n-1]); i >= 0 {
			mult = int64(1) << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) > float64(1<<62) {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit, e.g. 64g, 512m, 0 for no limit", s)
	}
	return int64(f * float64(mult)), nil
}

// FormatSize prints a size in the binary units ParseSize reads.
func FormatSize(n int64) string {
	for i, u := range []string{"PiB", "TiB", "GiB", "MiB", "KiB"} {
		if unit := int64(1) << (10 * (5 - i)); n >= unit {
			return fmt.Sprintf("%.4g %s", float64(n)/float64(unit), u)
		}
	}
	return fmt.Sprintf("%d B", n)
}
