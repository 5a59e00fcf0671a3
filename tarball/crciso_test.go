package tarball

import (
	"hash/crc64"
	"math/rand"
	"testing"

	"github.com/vbatts/tar-split/tar/storage"
)

// TestUpdateISOMatchesCRC64: every length from 0 to 100, then bigger
// ones, split at random points so the running crc carries across calls,
// against hash/crc64 with tar-split's table (storage.CRCTable).
func TestUpdateISOMatchesCRC64(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	lengths := []int{1000, 4095, 4096, 65537, 1 << 20}
	for n := range 101 {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		b := make([]byte, n)
		rnd.Read(b)
		want := crc64.Checksum(b, storage.CRCTable)
		if got := updateISO(0, b); got != want {
			t.Fatalf("%d bytes: %#x, hash/crc64 %#x", n, got, want)
		}
		var crc uint64
		for rest := b; len(rest) > 0; {
			k := min(len(rest), rnd.Intn(20)+1)
			crc = updateISO(crc, rest[:k])
			rest = rest[k:]
		}
		if crc != want {
			t.Fatalf("%d bytes in pieces: %#x, hash/crc64 %#x", n, crc, want)
		}
	}
	all1 := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if got, want := updateISO(0, all1), crc64.Checksum(all1, storage.CRCTable); got != want {
		t.Fatalf("all ones: %#x, hash/crc64 %#x", got, want)
	}
}

func BenchmarkCRC64(b *testing.B) {
	buf := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(buf)
	b.Run("hash/crc64", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			crc64.Update(0, storage.CRCTable, buf)
		}
	})
	b.Run("updateISO", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			updateISO(0, buf)
		}
	})
}
