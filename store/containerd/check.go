package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/imgtool/imgtool/store"
)

// Check verifies that every image record resolves and that every blob its
// manifest names is in the content store with its size (Deep: its digest).
// An interrupted imgtool write leaves imgtool-* files in ingest/ (garbage)
// and blobs no namespace records (unused: containerd's collector would
// remove them too); Repair removes both. containerd's own ingests are
// never touched.
func (s *Store) Check(opts store.CheckOptions) (*store.CheckReport, error) {
	return store.RunCheck(s.scan, opts)
}

func (s *Store) scan(deep bool) (*store.CheckReport, error) {
	all, err := s.targets()
	if err != nil {
		return nil, err
	}
	rep := &store.CheckReport{}
	bad := func(format string, args ...any) {
		rep.Problems = append(rep.Problems, store.NewProblem(store.Corrupt, nil, fmt.Sprintf(format, args...)))
	}
	digests := make([]string, 0, len(all))
	for d := range all {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	for _, dgst := range digests {
		recs := all[dgst]
		r, err := s.resolve(recs[0].Target)
		if err != nil {
			bad("image %s (%s): %v", dgst, recs[0].Name, err)
			continue
		}
		for _, d := range append([]v1.Descriptor{r.parsed.Config}, r.parsed.Layers...) {
			p, _ := s.blobPath(d.Digest.String())
			fi, err := os.Stat(p)
			switch {
			case err != nil:
				bad("image %s: blob %s is missing from the content store", dgst, d.Digest)
			case fi.Size() != d.Size:
				bad("image %s: blob %s has %d bytes, the manifest says %d", dgst, d.Digest, fi.Size(), d.Size)
			case deep:
				if err := s.verifyBlob(d.Digest.String()); err != nil {
					bad("image %s: %v", dgst, err)
				}
			}
		}
	}
	garbage, err := s.scanLeftovers()
	rep.Problems = append(rep.Problems, garbage...)
	return rep, err
}

// scanLeftovers finds imgtool's temp files in ingest/ and the blobs that
// no namespace of the metadata records.
func (s *Store) scanLeftovers() ([]store.Problem, error) {
	var out []store.Problem
	remove := func(p string) func() error { return func() error { return os.Remove(p) } }
	ingest := filepath.Join(s.contentDir(), "ingest")
	ents, _ := os.ReadDir(ingest)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "imgtool-") {
			p := filepath.Join(ingest, e.Name())
			out = append(out, store.NewProblem(store.Garbage, remove(p), "content ingest/"+e.Name()+": left by an interrupted imgtool write"))
		}
	}
	recorded := map[string]bool{}
	err := s.view(func(tx *bolt.Tx) error {
		v1b := tx.Bucket(keyV1)
		if v1b == nil {
			return nil
		}
		return v1b.ForEach(func(ns, v []byte) error {
			if blobs := nsBucket(tx, string(ns), keyContent, keyBlob); v == nil && blobs != nil {
				blobs.ForEach(func(k, _ []byte) error { recorded[string(k)] = true; return nil })
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.contentDir(), "blobs", "sha256")
	blobs, _ := os.ReadDir(dir)
	for _, b := range blobs {
		if !recorded["sha256:"+b.Name()] {
			p := filepath.Join(dir, b.Name())
			out = append(out, store.NewProblem(store.Unused, remove(p), "content blob sha256:"+b.Name()+": recorded in no namespace (containerd's collector would remove it)"))
		}
	}
	return out, nil
}
