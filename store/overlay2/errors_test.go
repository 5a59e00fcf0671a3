package overlay2

import (
	"errors"
	"fmt"
	"testing"

	"github.com/imgtool/imgtool/store"
)

// TestTypedErrors: the conflicts and lookups callers branch on carry a
// kind for errors.Is and keep Docker's exact text.
func TestTypedErrors(t *testing.T) {
	s, a, _ := ckStore(t)
	c, err := s.Containers().Create(a, store.CreateOptions{Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Images().Remove(a.String(), false)
	want := fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", a.Hex[:12], c.ID[:12])
	if !errors.Is(err, store.ErrInUse) || !errors.Is(err, store.ErrConflict) || err.Error() != want {
		t.Errorf("rmi of a used image: %v", err)
	}
	_, err = s.Containers().Create(a, store.CreateOptions{Name: "c1"})
	if !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrInUse) {
		t.Errorf("a taken name: %v", err)
	}
	// Seventeen containers: two share a first hex digit.
	seen := map[byte]bool{}
	for i := 0; ; i++ {
		c, err := s.Containers().Create(a, store.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID[0]] {
			_, err := s.Containers().Find(c.ID[:1])
			if !errors.Is(err, store.ErrAmbiguous) || err.Error() != "multiple IDs found with provided prefix: "+c.ID[:1] {
				t.Errorf("an ambiguous prefix: %v", err)
			}
			break
		}
		seen[c.ID[0]] = true
	}
}
