package overlay2

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/store"
)

// tagIndex is repositories.json parsed once for lookups, kept while the
// file stays the same. Every lookup used to read and parse the whole file:
// a save naming 1,000 tags resolved each argument and listed its image's
// tags that way, 2,000 parses of a 1,000-entry file (half the save's CPU).
// Writers (setManyTags, removeTag) still read the file afresh.
type tagIndex struct {
	stamp fileStamp
	file  *tagFile    // read-only
	all   []store.Tag // every reference, sorted
	byID  map[v1.Hash][]string
	err   error // a bad image ID in the file, reported by every listing
}

// fileStamp tells one version of a file from another. Docker and this
// store replace repositories.json by rename, so a new version is a new
// inode; size and times catch an in-place rewrite.
type fileStamp struct {
	exists           bool
	dev, ino         uint64
	size             int64
	mtimeNs, ctimeNs int64
}

// tagCache holds the index of the version last read.
type tagCache struct {
	mu  sync.Mutex
	idx *tagIndex
}

func (c *tagCache) forget() {
	c.mu.Lock()
	c.idx = nil
	c.mu.Unlock()
}

func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{exists: true, size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino, st.ctimeNs = uint64(sys.Dev), sys.Ino, sys.Ctim.Nano()
	}
	return st
}

// tagIndex returns the index of repositories.json as it is now: the
// cached one when the file is unchanged (one open and fstat), else the
// file read and indexed from that same open file.
func (s *Store) tagIndex() (*tagIndex, error) {
	f, err := os.Open(s.tagsPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var stamp fileStamp
	if f != nil {
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		stamp = stampOf(fi)
	}
	s.tagCache.mu.Lock()
	defer s.tagCache.mu.Unlock()
	if idx := s.tagCache.idx; idx != nil && idx.stamp == stamp {
		return idx, nil
	}
	tf := &tagFile{Repositories: map[string]map[string]string{}}
	if f != nil {
		b, err := io.ReadAll(f)
		if err != nil {
			return nil, err
		}
		if tf, err = parseTags(s.tagsPath(), b); err != nil {
			return nil, err
		}
	}
	idx := indexTags(tf)
	idx.stamp = stamp
	s.tagCache.idx = idx
	return idx, nil
}

// indexTags lists and groups the references of tf.
func indexTags(tf *tagFile) *tagIndex {
	idx := &tagIndex{file: tf, byID: map[v1.Hash][]string{}}
	for _, refs := range tf.Repositories {
		for ref, id := range refs {
			h, err := v1.NewHash(id)
			if err != nil {
				if idx.err == nil {
					idx.err = fmt.Errorf("repositories.json: %s: %w", ref, err)
				}
				continue
			}
			idx.all = append(idx.all, store.Tag{Ref: ref, ImageID: h})
		}
	}
	sort.Slice(idx.all, func(i, j int) bool { return idx.all[i].Ref < idx.all[j].Ref })
	for _, t := range idx.all {
		idx.byID[t.ImageID] = append(idx.byID[t.ImageID], t.Ref)
	}
	return idx
}
