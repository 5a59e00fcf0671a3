package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestReadWhileLocked: while another holder keeps meta.db's exclusive lock
// (as containerd does) and commits in a loop, openDB does not wait on the
// lock: it reads a copy that bbolt's own consistency check accepts and
// that holds every record committed before it was taken.
func TestReadWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	put := func(i int) error {
		return db.Update(func(tx *bolt.Tx) error {
			rec := imageRecord{Name: fmt.Sprintf("docker.io/library/img:%d", i), Created: now, Updated: now,
				Target: descriptor{Digest: fmt.Sprintf("sha256:%064x", i), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(i)}}
			return writeImage(tx, "moby", rec)
		})
	}
	for i := 0; i < 50; i++ {
		if err := put(i); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a writer committing while the copies are taken
		defer wg.Done()
		for i := 50; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := put(i); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond) // containerd commits far less often; a copy must fit between two commits
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for try := 0; try < 5; try++ {
		rdb, cleanup, err := openDB(path)
		if err != nil {
			t.Fatalf("openDB while locked: %v", err)
		}
		if rdb.Path() == path {
			t.Fatalf("openDB opened the locked file itself")
		}
		err = rdb.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			recs, err := readImages(tx, "moby")
			if err != nil {
				return err
			}
			if len(recs) < 50 {
				return fmt.Errorf("copy holds %d records, want at least 50", len(recs))
			}
			for _, r := range recs {
				var i int
				fmt.Sscanf(r.Name, "docker.io/library/img:%d", &i)
				if r.Target.Size != int64(i) {
					return fmt.Errorf("record %s: size %d", r.Name, r.Target.Size)
				}
			}
			return nil
		})
		cleanup()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriteRefusedWhileLocked: openDBWrite refuses, naming containerd,
// instead of waiting for the lock.
func TestWriteRefusedWhileLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "io.containerd.metadata.v1.bolt")
	path := filepath.Join(dir, "meta.db")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = openDBWrite(path)
	if err == nil || err.Error() != fmt.Sprintf("refusing to write: containerd is running on %s (its metadata database is locked); stop containerd, or write through it with ctr or docker", filepath.Dir(dir)) {
		t.Fatalf("openDBWrite: %v", err)
	}
}

// TestWritersQueue: a second imgtool writer waits for the first instead of
// taking its lock on meta.db for containerd's.
func TestWritersQueue(t *testing.T) {
	first := newRoot(t)
	unlock, err := first.Writer()
	if err != nil {
		t.Fatal(err)
	}
	second, _ := Open(first.ctrdRoot)
	done := make(chan error, 1)
	go func() {
		u, err := second.Writer()
		if err == nil {
			u()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("second writer did not wait for the first: %v", err)
	case <-time.After(2 * lockWait):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("second writer after the first: %v", err)
	}
}
