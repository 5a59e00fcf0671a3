package store_test

import (
	"testing"

	"github.com/imgtool/imgtool/store"
)

// FuzzParseConfig: no panic; an accepted config has at most 125 valid diff IDs.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]}}`))
	f.Add([]byte(`{"os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`))
	f.Add([]byte(`{"rootfs":null}`))
	f.Add([]byte(`{"rootfs":{"diff_ids":["sha256:x"]},"history":[{},{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := store.ParseConfig(b)
		if err != nil {
			return
		}
		if len(ids) > 125 {
			t.Fatalf("accepted %d layers", len(ids))
		}
		for _, h := range ids {
			if h.Algorithm == "" || h.Hex == "" {
				t.Fatalf("accepted an empty diff ID in %q", b)
			}
		}
	})
}
