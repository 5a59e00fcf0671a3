package overlay2

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imgtool/imgtool/store"
)

// The in-progress marker exists while a writer holds the lock. A clean
// unlock removes it, after the writer's own rollback; finding it when
// taking the lock means the last writer was killed (SIGKILL, a second
// SIGINT, a power loss) and may have left write-sets, half-made overlay2
// dirs, *-removing layers and temp files. Those are check's Garbage
// findings, so the cleanup is check's repair restricted to them: one
// detector, and a clean store costs one stat per writer.
func (s *Store) markerPath() string { return filepath.Join(s.imageDir(), "imgtool.writing") }

// beginWrite removes a killed writer's leftovers, then sets the marker.
// The cleanup is best effort: a store that check cannot scan (a
// damaged imagedb) must stay writable, and `check --repair` remains the
// way to remove what is left; the marker stays until a cleanup succeeds.
func (s *Store) beginWrite() error {
	if _, err := os.Stat(s.markerPath()); err == nil {
		if _, err := s.removeGarbage(); err != nil {
			fmt.Fprintf(os.Stderr, "imgtool: warning: removing what an interrupted command left: %v (run `imgtool check --repair`)\n", err)
			s.keepMarker = true
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(s.markerPath(), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// endWrite clears the marker: everything this writer made is committed or
// rolled back.
func (s *Store) endWrite() {
	if !s.keepMarker {
		os.Remove(s.markerPath())
	}
}

// removeGarbage runs check's scan and repairs its Garbage findings only
// (Unused layers stay for `check --repair`: a complete layer is not a
// leftover). A repair can uncover more garbage (a removed write-set
// leaves its overlay2 dir unreferenced), hence the few passes, as in
// store.RunCheck. It returns how many findings it removed.
func (s *Store) removeGarbage() (int, error) {
	removed := 0
	for pass := 0; pass < 4; pass++ {
		r, err := s.scan(false)
		if err != nil {
			return removed, err
		}
		did := false
		for _, p := range r.Problems {
			if p.Severity != store.Garbage {
				continue
			}
			fixed, err := store.Repair(p)
			if err != nil {
				return removed, fmt.Errorf("%s: %w", p.Msg, err)
			}
			if fixed {
				removed++
				did = true
			}
		}
		if !did {
			break
		}
	}
	return removed, nil
}
