package containerd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// containerd's metadata database, read and written with bbolt in the
// schema of containerd's core/metadata package (v1/<namespace>/images,
// v1/<namespace>/content/blob, labels, createdat/updatedat). Written by
// hand against that schema rather than through containerd's Go client:
// the client needs a running daemon, and importing core/metadata pulls in
// containerd's whole plugin tree for a dozen bucket keys.
var (
	keyV1        = []byte("v1")
	keyImages    = []byte("images")
	keyContent   = []byte("content")
	keyBlob      = []byte("blob")
	keyTarget    = []byte("target")
	keyDigest    = []byte("digest")
	keyMediaType = []byte("mediatype")
	keySize      = []byte("size")
	keyLabels    = []byte("labels")
	keyCreatedAt = []byte("createdat")
	keyUpdatedAt = []byte("updatedat")
)

// descriptor is an image record's target.
type descriptor struct {
	Digest    string
	MediaType string
	Size      int64
}

// imageRecord is one v1/<ns>/images/<name> entry.
type imageRecord struct {
	Name    string
	Target  descriptor
	Created time.Time
	Updated time.Time
	Labels  map[string]string
}

// lockWait bounds how long imgtool waits for meta.db's flock: containerd
// holds it exclusively while it runs, and imgtool never waits on it.
const lockWait = 300 * time.Millisecond

// openDB opens meta.db for reading: directly when containerd is stopped,
// else a consistent copy of it (see copyDB). The cleanup removes the copy.
func openDB(path string) (*bolt.DB, func(), error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockWait})
	if err == nil {
		return db, func() { db.Close() }, nil
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		return nil, nil, fmt.Errorf("containerd metadata %s: %w", path, err)
	}
	tmp, err := copyDB(path)
	if err != nil {
		return nil, nil, err
	}
	db, err = bolt.Open(tmp, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockWait})
	if err != nil {
		os.Remove(tmp)
		return nil, nil, fmt.Errorf("containerd metadata %s (copy): %w", path, err)
	}
	return db, func() { db.Close(); os.Remove(tmp) }, nil
}

// copyDB copies meta.db while containerd runs. bbolt never overwrites a
// page the last committed meta page reaches, so a copy is consistent when
// both meta pages (the file's first two pages) are the same before and
// after it: no commit happened in between. (One commit in between is not
// enough to accept: the next may already be overwriting the pages it
// freed.) Ten tries, then an error.
func copyDB(path string) (string, error) {
	metaLen := int64(2 * os.Getpagesize())
	for try := 0; try < 10; try++ {
		before, err := readHead(path, metaLen)
		if err != nil {
			return "", fmt.Errorf("containerd metadata %s: %w", path, err)
		}
		tmp, err := copyFile(path)
		if err != nil {
			return "", err
		}
		after, err := readHead(path, metaLen)
		if err == nil && bytes.Equal(before, after) {
			return tmp, nil
		}
		os.Remove(tmp)
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("containerd metadata %s: changed during every copy; retry when containerd is idle", path)
}

func readHead(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

func copyFile(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp("", "imgtool-meta-*.db")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", fmt.Errorf("copying containerd metadata: %w", err)
	}
	return dst.Name(), nil
}

// openDBWrite opens meta.db for writing; it refuses while containerd runs.
func openDBWrite(path string) (*bolt.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("containerd metadata %s: %w (start containerd once to create it)", path, err)
	}
	db, err := bolt.Open(path, 0o644, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("refusing to write: containerd is running on %s (its metadata database is locked); stop containerd, or write through it with ctr or docker", filepath.Dir(filepath.Dir(path)))
	}
	if err != nil {
		return nil, fmt.Errorf("containerd metadata %s: %w", path, err)
	}
	return db, nil
}

func nsBucket(tx *bolt.Tx, ns string, keys ...[]byte) *bolt.Bucket {
	b := tx.Bucket(keyV1)
	if b == nil {
		return nil
	}
	b = b.Bucket([]byte(ns))
	for _, k := range keys {
		if b == nil {
			return nil
		}
		b = b.Bucket(k)
	}
	return b
}

func createNSBucket(tx *bolt.Tx, ns string, keys ...[]byte) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(keyV1)
	if err != nil {
		return nil, err
	}
	for _, k := range append([][]byte{[]byte(ns)}, keys...) {
		if b, err = b.CreateBucketIfNotExists(k); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readImages reads every image record of a namespace.
func readImages(tx *bolt.Tx, ns string) ([]imageRecord, error) {
	bkt := nsBucket(tx, ns, keyImages)
	if bkt == nil {
		return nil, nil
	}
	var out []imageRecord
	err := bkt.ForEach(func(k, v []byte) error {
		ib := bkt.Bucket(k)
		if v != nil || ib == nil {
			return nil
		}
		rec := imageRecord{Name: string(k), Labels: readMap(ib, keyLabels)}
		readTimes(ib, &rec.Created, &rec.Updated)
		tb := ib.Bucket(keyTarget)
		if tb == nil {
			return fmt.Errorf("containerd image %q: no target", k)
		}
		rec.Target = descriptor{Digest: string(tb.Get(keyDigest)), MediaType: string(tb.Get(keyMediaType))}
		rec.Target.Size, _ = binary.Varint(tb.Get(keySize))
		out = append(out, rec)
		return nil
	})
	return out, err
}

// writeImage writes an image record as containerd's writeImage does.
func writeImage(tx *bolt.Tx, ns string, rec imageRecord) error {
	bkt, err := createNSBucket(tx, ns, keyImages)
	if err != nil {
		return err
	}
	if bkt.Bucket([]byte(rec.Name)) != nil {
		if err := bkt.DeleteBucket([]byte(rec.Name)); err != nil {
			return err
		}
	}
	ib, err := bkt.CreateBucket([]byte(rec.Name))
	if err != nil {
		return err
	}
	if err := writeTimes(ib, rec.Created, rec.Updated); err != nil {
		return err
	}
	if err := writeMap(ib, keyLabels, rec.Labels); err != nil {
		return err
	}
	tb, err := ib.CreateBucket(keyTarget)
	if err != nil {
		return err
	}
	for _, kv := range [][2][]byte{
		{keyDigest, []byte(rec.Target.Digest)},
		{keyMediaType, []byte(rec.Target.MediaType)},
		{keySize, varint(rec.Target.Size)},
	} {
		if err := tb.Put(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

func deleteImage(tx *bolt.Tx, ns, name string) error {
	bkt := nsBucket(tx, ns, keyImages)
	if bkt == nil || bkt.Bucket([]byte(name)) == nil {
		return nil
	}
	return bkt.DeleteBucket([]byte(name))
}

// writeBlob records a blob in the namespace, with the labels that make
// containerd's garbage collector keep its children. An existing record
// keeps its created time; its labels are merged.
func writeBlob(tx *bolt.Tx, ns, dgst string, size int64, labels map[string]string, now time.Time) error {
	bkt, err := createNSBucket(tx, ns, keyContent, keyBlob)
	if err != nil {
		return err
	}
	created := now
	merged := map[string]string{}
	if old := bkt.Bucket([]byte(dgst)); old != nil {
		var upd time.Time
		readTimes(old, &created, &upd)
		merged = readMap(old, keyLabels)
	}
	for k, v := range labels {
		merged[k] = v
	}
	bb, err := bkt.CreateBucketIfNotExists([]byte(dgst))
	if err != nil {
		return err
	}
	if err := writeTimes(bb, created, now); err != nil {
		return err
	}
	if err := writeMap(bb, keyLabels, merged); err != nil {
		return err
	}
	return bb.Put(keySize, varint(size))
}

func readMap(b *bolt.Bucket, key []byte) map[string]string {
	m := map[string]string{}
	if lb := b.Bucket(key); lb != nil {
		lb.ForEach(func(k, v []byte) error { m[string(k)] = string(v); return nil })
	}
	return m
}

func writeMap(b *bolt.Bucket, key []byte, m map[string]string) error {
	if b.Bucket(key) != nil {
		if err := b.DeleteBucket(key); err != nil {
			return err
		}
	}
	if len(m) == 0 {
		return nil
	}
	lb, err := b.CreateBucket(key)
	if err != nil {
		return err
	}
	for k, v := range m {
		if v == "" {
			continue
		}
		if err := lb.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

func readTimes(b *bolt.Bucket, created, updated *time.Time) {
	if v := b.Get(keyCreatedAt); v != nil {
		created.UnmarshalBinary(v)
	}
	if v := b.Get(keyUpdatedAt); v != nil {
		updated.UnmarshalBinary(v)
	}
}

func writeTimes(b *bolt.Bucket, created, updated time.Time) error {
	c, err := created.MarshalBinary()
	if err != nil {
		return err
	}
	u, err := updated.MarshalBinary()
	if err != nil {
		return err
	}
	if err := b.Put(keyCreatedAt, c); err != nil {
		return err
	}
	return b.Put(keyUpdatedAt, u)
}

func varint(i int64) []byte {
	buf := make([]byte, binary.MaxVarintLen64)
	return buf[:binary.PutVarint(buf, i)]
}
